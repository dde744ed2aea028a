"""The request log: what clients sent, never the Authorization value; paging with since/next."""

from __future__ import annotations

import json

from sandbox.credentials import ORB_API_KEY, STRIPE_TEST_KEY
from unit_tests.sandbox.helpers import Running


def test_given_requests_when_reading_the_log_then_details_but_never_the_authorization_value(
    sandbox: Running,
) -> None:
    headers = {"Stripe-Account": "acct_sandbox_a", "Stripe-Version": "2023-08-16"}
    sandbox.client.get("stripe", "/v1/customers", {"limit": 3, "expand[]": "data.x"}, headers=headers)
    sandbox.client.request("POST", "orb", "/v1/events/search", body={"event_ids": ["a"]})
    sandbox.client.get("integrator", "/v1/tokenInfo", key=None)
    log = sandbox.client.control("GET", "requests")
    raw = json.dumps(log)
    assert STRIPE_TEST_KEY not in raw
    assert ORB_API_KEY not in raw
    assert "Bearer" not in raw
    stripe, orb, integrator = log["requests"]
    assert stripe["api"] == "stripe"
    assert stripe["method"] == "GET"
    assert stripe["path"] == "/v1/customers"
    assert stripe["query"] == {"limit": ["3"], "expand[]": ["data.x"]}
    assert stripe["headers"]["Stripe-Account"] == "acct_sandbox_a"
    assert stripe["headers"]["Stripe-Version"] == "2023-08-16"
    assert stripe["auth_present"] is True
    assert stripe["status"] == 200
    assert orb["body"] == {"event_ids": ["a"]}
    assert orb["headers"]["Content-Type"] == "application/json"
    assert integrator["auth_present"] is False
    assert integrator["status"] == 401
    assert log["next"] == integrator["seq"]


def test_given_since_when_polling_then_only_newer_entries_and_clear_empties(sandbox: Running) -> None:
    sandbox.client.get("stripe", "/v1/customers")
    first = sandbox.client.control("GET", "requests")
    sandbox.client.get("stripe", "/v1/invoices")
    newer = sandbox.client.control("GET", f"requests?since={first['next']}")
    assert [entry["path"] for entry in newer["requests"]] == ["/v1/invoices"]
    assert sandbox.client.control("GET", f"requests?since={newer['next']}")["requests"] == []
    sandbox.client.control("DELETE", "requests")
    assert sandbox.client.control("GET", "requests")["requests"] == []
    sandbox.client.get("stripe", "/v1/customers")
    assert (
        sandbox.client.control("GET", f"requests?since={newer['next']}")["requests"][0]["path"]
        == "/v1/customers"
    )


def test_given_control_calls_when_reading_the_log_then_they_are_not_logged(sandbox: Running) -> None:
    sandbox.client.control("GET", "health")
    sandbox.client.control("GET", "stats")
    assert sandbox.client.control("GET", "requests")["requests"] == []
