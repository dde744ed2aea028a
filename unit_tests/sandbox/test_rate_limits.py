"""Documented rate limits (``--rate-limits``): Stripe, Orb and integrator.io budgets answer 429."""

from __future__ import annotations

from typing import Any

from sandbox.credentials import STRIPE_LIVE_KEY
from unit_tests.sandbox.helpers import Running, SandboxFactory


def burst(running: Running, api: str, path: str, count: int, **kwargs: Any) -> list[int]:
    return [running.client.get(api, path, **kwargs).status for _ in range(count)]


def test_given_rate_limits_off_when_bursting_then_no_429(sandbox: Running) -> None:
    assert 429 not in burst(sandbox, "stripe", "/v1/customers", 60)


def test_given_stripe_test_mode_when_over_25_per_second_then_429_rate_limit(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(rate_limits=True)
    statuses = burst(running, "stripe", "/v1/customers", 40)
    assert statuses[:25] == [200] * 25
    assert 429 in statuses[25:]
    limited = running.client.get("stripe", "/v1/customers")
    assert limited.json["error"] == {
        "message": limited.json["error"]["message"],
        "type": "invalid_request_error",
        "code": "rate_limit",
        "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
    }
    assert limited.json["error"]["message"].startswith("Too many requests hit the API too quickly")
    other_account = running.client.get(
        "stripe", "/v1/customers", headers={"Stripe-Account": "acct_sandbox_a"}
    )
    assert other_account.status == 200, "budgets are per account"
    assert running.client.control("GET", "stats")["apis"]["stripe"]["rate_limited"] >= 1


def test_given_stripe_live_mode_when_spreading_over_endpoints_then_100_overall_25_per_endpoint(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(rate_limits=True)
    customers = burst(running, "stripe", "/v1/customers", 30, key=STRIPE_LIVE_KEY)
    invoices = burst(running, "stripe", "/v1/invoices", 25, key=STRIPE_LIVE_KEY)
    assert customers.count(200) == 25
    assert invoices.count(200) == 25
    search = burst(
        running, "stripe", "/v1/customers/search", 25, params={"query": "created>0"}, key=STRIPE_LIVE_KEY
    )
    assert search.count(200) == 20


def test_given_orb_ledger_when_over_10_per_second_then_429_with_retry_after(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(rate_limits=True)
    customer = running.client.control("GET", "objects/orb/customers")["data"][0]
    statuses = burst(running, "orb", f"/v1/customers/{customer['id']}/credits/ledger", 15)
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429] * 5
    reply = running.client.get("orb", f"/v1/customers/{customer['id']}/credits/ledger")
    assert reply.status == 429
    assert int(reply.headers["retry-after"]) >= 1
    assert running.client.get("orb", "/v1/customers").status == 200, "other endpoints have their own budget"


def test_given_integrator_bucket_when_over_1000_burst_then_429_rate_limited(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(scale=5)
    running.client.control("POST", "config", {"rate_limits": True})
    statuses = burst(running, "integrator", "/v1/tokenInfo", 1000)
    assert statuses == [200] * 1000, "a full bucket allows a burst of 1000"
    # The bucket refills at 300/s, so keep going (bounded) until the client outpaces it.
    reply = next(
        (
            r
            for r in (running.client.get("integrator", "/v1/tokenInfo") for _ in range(3000))
            if r.status == 429
        ),
        None,
    )
    assert reply is not None
    assert reply.json["errors"][0]["code"] == "rate_limited"
    assert reply.headers["retry-after"] == "1"
