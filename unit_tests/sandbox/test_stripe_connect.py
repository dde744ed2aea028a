"""Stripe Connect: the platform's accounts, persons and external accounts, and where their events land."""

from __future__ import annotations

from typing import Any

from sandbox.credentials import STRIPE_CONNECTED_ACCOUNTS
from unit_tests.sandbox.helpers import Running, SandboxFactory, walk_stripe

A = {"Stripe-Account": "acct_sandbox_a"}


def _latest_events(sandbox: Running, count: int, headers: dict[str, str] | None = None) -> list[Any]:
    return list(sandbox.client.get("stripe", "/v1/events", {"limit": count}, headers=headers).json["data"])


def test_given_the_platform_when_listing_accounts_then_its_connected_accounts_and_each_reads_itself(
    sandbox: Running,
) -> None:
    accounts = walk_stripe(sandbox.client, "/v1/accounts")
    stored = sandbox.client.control("GET", "objects/stripe/accounts")["data"]
    assert [account["id"] for account in accounts] == [account["id"] for account in stored]
    assert len(accounts) == 40
    assert set(STRIPE_CONNECTED_ACCOUNTS) <= {account["id"] for account in accounts}
    assert "acct_sandbox" not in {account["id"] for account in accounts}
    by_id = {account["id"]: account for account in accounts}
    assert sandbox.client.get("stripe", "/v1/account", headers=A).json == by_id["acct_sandbox_a"]
    assert (
        sandbox.client.get("stripe", "/v1/accounts/acct_sandbox_a", headers=A).json == by_id["acct_sandbox_a"]
    )
    assert sandbox.client.get("stripe", "/v1/accounts/acct_sandbox_b").json == by_id["acct_sandbox_b"]
    assert sandbox.client.get("stripe", "/v1/accounts/acct_sandbox_b", headers=A).status == 404
    assert walk_stripe(sandbox.client, "/v1/accounts", headers=A) == [], "a connected account has no accounts"
    platform = sandbox.client.get("stripe", "/v1/account").json
    assert platform["id"] == "acct_sandbox"
    assert platform["external_accounts"]["data"] == walk_stripe(
        sandbox.client, "/v1/accounts/acct_sandbox/external_accounts"
    )


def test_given_scale_zero_when_started_then_the_served_connected_accounts_still_exist(
    make_sandbox: SandboxFactory,
) -> None:
    running = make_sandbox(scale=3, scale_for={"stripe.accounts": 0})
    ids = [account["id"] for account in walk_stripe(running.client, "/v1/accounts")]
    assert sorted(ids) == sorted(STRIPE_CONNECTED_ACCOUNTS)


def test_given_another_connected_account_when_called_through_it_then_it_answers_with_empty_data(
    sandbox: Running,
) -> None:
    other = walk_stripe(sandbox.client, "/v1/accounts")[-1]["id"]
    assert other not in STRIPE_CONNECTED_ACCOUNTS
    headers = {"Stripe-Account": other}
    assert walk_stripe(sandbox.client, "/v1/customers", headers=headers) == []
    assert sandbox.client.get("stripe", "/v1/account", headers=headers).json["id"] == other
    persons = walk_stripe(sandbox.client, f"/v1/accounts/{other}/persons", headers=headers)
    assert persons == walk_stripe(sandbox.client, f"/v1/accounts/{other}/persons")
    assert persons


def test_given_persons_and_external_accounts_when_listing_then_own_or_connected_accounts_only(
    sandbox: Running,
) -> None:
    own = walk_stripe(sandbox.client, "/v1/accounts/acct_sandbox_a/external_accounts", headers=A)
    assert own == walk_stripe(sandbox.client, "/v1/accounts/acct_sandbox_a/external_accounts")
    assert all(item["account"] == "acct_sandbox_a" for item in own)
    for kind in ("bank_account", "card"):
        stored = [
            obj["id"]
            for obj in sandbox.client.control("GET", "objects/stripe/external_accounts")["data"]
            if obj["object"] == kind and obj["_parent"] == "acct_sandbox"
        ]
        listed = walk_stripe(sandbox.client, "/v1/accounts/acct_sandbox/external_accounts", {"object": kind})
        assert [obj["id"] for obj in listed] == stored
    foreign = sandbox.client.get("stripe", "/v1/accounts/acct_sandbox_b/persons", headers=A)
    assert foreign.status == 404
    assert foreign.json["error"]["code"] == "resource_missing"
    mine = sandbox.client.control("GET", "objects/stripe/persons?account=acct_sandbox_a")["data"]
    assert {person["_parent"] for person in mine} == {"acct_sandbox_a"}


def test_given_connect_changes_when_listing_events_then_they_happen_on_the_account_they_belong_to(
    sandbox: Running,
) -> None:
    person = sandbox.client.control("GET", "objects/stripe/persons?account=acct_sandbox_a")["data"][0]
    platform_before = _latest_events(sandbox, 1)
    sandbox.client.control("POST", f"stripe/persons/{person['id']}", {"first_name": "Zed"})
    sandbox.client.control("POST", "stripe/accounts/acct_sandbox_a", {"email": "ops@example.com"})
    added = sandbox.client.control("POST", "stripe/external_accounts?account=acct_sandbox_a", {})
    events = _latest_events(sandbox, 4, headers=A)
    assert [(event["type"], event["data"]["object"]["id"]) for event in events] == [
        ("account.external_account.created", added["id"]),
        ("account.updated", "acct_sandbox_a"),
        ("account.updated", "acct_sandbox_a"),
        ("person.updated", person["id"]),
    ]
    assert all(event["account"] == "acct_sandbox_a" for event in events)
    assert events[1]["data"]["previous_attributes"]["external_accounts"]["total_count"] == (
        events[1]["data"]["object"]["external_accounts"]["total_count"] - 1
    )
    assert events[2]["data"]["previous_attributes"] == {"email": "billing+acct_sandbox_a@example.com"}
    assert _latest_events(sandbox, 1) == platform_before, "the platform's own list is unchanged"
    assert sandbox.client.get("stripe", "/v1/account", headers=A).json["email"] == "ops@example.com"


def test_given_a_deleted_connected_account_when_called_then_deauthorized_and_no_longer_reachable(
    sandbox: Running,
) -> None:
    b = {"Stripe-Account": "acct_sandbox_b"}
    assert sandbox.client.get("stripe", "/v1/customers", headers=b).status == 200
    sandbox.client.control("DELETE", "stripe/accounts/acct_sandbox_b")
    events = sandbox.client.control("GET", "objects/stripe/events?account=acct_sandbox_b")["data"]
    deauthorized = [event for event in events if event["type"] == "account.application.deauthorized"]
    assert [event["data"]["object"]["object"] for event in deauthorized] == ["application"]
    assert sandbox.client.get("stripe", "/v1/customers", headers=b).json["error"]["code"] == "account_invalid"
    assert sandbox.client.get("stripe", "/v1/accounts/acct_sandbox_b").json == {
        "id": "acct_sandbox_b",
        "object": "account",
        "deleted": True,
    }
    assert "acct_sandbox_b" not in {account["id"] for account in walk_stripe(sandbox.client, "/v1/accounts")}


def test_given_connected_accounts_when_listing_new_resources_then_each_account_has_its_own_objects(
    sandbox: Running,
) -> None:
    for path in (
        "/v1/issuing/cards",
        "/v1/reviews",
        "/v1/radar/early_fraud_warnings",
        "/v1/issuing/transactions",
    ):
        platform = {obj["id"] for obj in walk_stripe(sandbox.client, path)}
        connected = {obj["id"] for obj in walk_stripe(sandbox.client, path, headers=A)}
        assert platform
        assert connected
        assert not platform & connected, path
    customer = walk_stripe(sandbox.client, "/v1/customers", headers=A)[0]
    tax_ids = sandbox.client.get("stripe", f"/v1/customers/{customer['id']}/tax_ids", headers=A)
    assert tax_ids.status == 200
    assert sandbox.client.get("stripe", f"/v1/customers/{customer['id']}/tax_ids").status == 404
