"""Stripe events: types filters, 30-day retention, payload rules and events emitted by control changes."""

from __future__ import annotations

from sandbox.seed import DAY
from unit_tests.sandbox.helpers import Running, walk_stripe


def test_given_types_filter_when_listing_events_then_only_those_types(sandbox: Running) -> None:
    events = walk_stripe(sandbox.client, "/v1/events", {"types[]": ["customer.created", "invoice.created"]})
    assert events
    assert {event["type"] for event in events} <= {"customer.created", "invoice.created"}
    wildcard = walk_stripe(sandbox.client, "/v1/events", {"type": "customer.*"})
    assert wildcard
    assert all(event["type"].startswith("customer.") for event in wildcard)
    too_many = sandbox.client.get("stripe", "/v1/events", {"types[]": [f"t{n}.created" for n in range(21)]})
    assert too_many.status == 400
    assert too_many.json["error"]["param"] == "types"
    both = sandbox.client.get(
        "stripe", "/v1/events", {"type": "customer.created", "types[]": "invoice.created"}
    )
    assert both.status == 400


def test_given_events_when_listing_then_shape_is_stripes_and_retention_is_30_days(sandbox: Running) -> None:
    now = sandbox.client.control("GET", "clock")["now"]
    events = walk_stripe(sandbox.client, "/v1/events")
    stored = sandbox.client.control("GET", "objects/stripe/events")["data"]
    assert events
    assert all(event["created"] >= now - 30 * DAY - 1 for event in events)
    assert any(event["created"] < now - 30 * DAY for event in stored), "the seed keeps some expired events"
    event = events[0]
    assert event["id"].startswith("evt_")
    assert event["object"] == "event"
    assert {"api_version", "request", "livemode", "data", "type", "created"} <= set(event)
    updated = [e for e in events if e["type"].endswith(".updated")]
    assert updated
    assert all("previous_attributes" in e["data"] for e in updated)
    sandbox.client.control("POST", "clock", {"advance_seconds": 31 * DAY})
    assert walk_stripe(sandbox.client, "/v1/events") == []
    gone = sandbox.client.get("stripe", f"/v1/events/{event['id']}")
    assert gone.status == 404


def test_given_event_payloads_when_reading_then_embedded_lists_stop_at_ten(sandbox: Running) -> None:
    events = walk_stripe(sandbox.client, "/v1/events", {"types[]": "invoice.created"})
    for event in events:
        lines = event["data"]["object"]["lines"]
        assert len(lines["data"]) <= 10
        assert lines["has_more"] == (lines["total_count"] > 10)


def test_given_control_update_when_listing_events_then_updated_event_with_previous_attributes(
    sandbox: Running,
) -> None:
    customer = walk_stripe(sandbox.client, "/v1/customers")[0]
    updated = sandbox.client.control(
        "POST", f"stripe/customers/{customer['id']}", {"email": "changed@example.com", "metadata": {"k": "v"}}
    )
    assert updated["email"] == "changed@example.com"
    assert updated["metadata"]["k"] == "v"
    events = sandbox.client.get("stripe", "/v1/events", {"type": "customer.updated", "limit": 1}).json["data"]
    assert events[0]["data"]["object"]["id"] == customer["id"]
    assert events[0]["data"]["previous_attributes"] == {"email": customer["email"], "metadata": {"k": None}}
    assert (
        sandbox.client.get("stripe", f"/v1/customers/{customer['id']}").json["email"] == "changed@example.com"
    )


def test_given_control_create_and_delete_when_listing_then_lists_and_events_follow(sandbox: Running) -> None:
    created = sandbox.client.control("POST", "stripe/customers", {"email": "new@example.com"})
    assert created["id"].startswith("cus_")
    assert created["email"] == "new@example.com"
    first = sandbox.client.get("stripe", "/v1/customers", {"limit": 1}).json["data"][0]
    assert first["id"] == created["id"], "newest first"
    sandbox.client.control("DELETE", f"stripe/customers/{created['id']}")
    assert created["id"] not in {c["id"] for c in walk_stripe(sandbox.client, "/v1/customers")}
    types = [e["type"] for e in sandbox.client.get("stripe", "/v1/events", {"limit": 2}).json["data"]]
    assert types == ["customer.deleted", "customer.created"]
    deleted = sandbox.client.get("stripe", f"/v1/customers/{created['id']}").json
    assert deleted == {"id": created["id"], "object": "customer", "deleted": True}


def test_given_a_new_invoice_line_when_created_then_parent_totals_and_embedded_list_follow(
    sandbox: Running,
) -> None:
    invoice = walk_stripe(sandbox.client, "/v1/invoices")[0]
    line = sandbox.client.control(
        "POST", "stripe/invoice_line_items", {"_parent": invoice["id"], "amount": 777}
    )
    lines = walk_stripe(sandbox.client, f"/v1/invoices/{invoice['id']}/lines")
    assert lines[-1]["id"] == line["id"]
    refreshed = sandbox.client.get("stripe", f"/v1/invoices/{invoice['id']}").json
    assert refreshed["total"] == invoice["total"] + 777
    assert refreshed["lines"]["total_count"] == len(lines)
    event = sandbox.client.get("stripe", "/v1/events", {"type": "invoice.updated", "limit": 1}).json["data"][
        0
    ]
    assert event["data"]["previous_attributes"]["total"] == invoice["total"]


def test_given_connected_account_when_mutating_then_only_that_account_changes(sandbox: Running) -> None:
    headers = {"Stripe-Account": "acct_sandbox_a"}
    customer = walk_stripe(sandbox.client, "/v1/customers", headers=headers)[0]
    sandbox.client.control("POST", f"stripe/customers/{customer['id']}?account=acct_sandbox_a", {"name": "A"})
    assert (
        sandbox.client.get("stripe", f"/v1/customers/{customer['id']}", headers=headers).json["name"] == "A"
    )
    assert sandbox.client.get("stripe", f"/v1/customers/{customer['id']}").status == 404
    event = sandbox.client.get("stripe", "/v1/events", {"limit": 1}, headers=headers).json["data"][0]
    assert event["account"] == "acct_sandbox_a"
