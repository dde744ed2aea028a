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


def _latest(sandbox: Running, count: int) -> list[tuple[str, str, list[str]]]:
    events = sandbox.client.get("stripe", "/v1/events", {"limit": count}).json["data"]
    return [
        (e["type"], e["data"]["object"]["id"], sorted(e["data"].get("previous_attributes", {})))
        for e in events
    ]


def test_given_status_changes_when_updating_then_the_status_events_follow_the_updated_event(
    sandbox: Running,
) -> None:
    charge = walk_stripe(sandbox.client, "/v1/charges")[0]
    sandbox.client.control("POST", f"stripe/charges/{charge['id']}", {"refunded": True})
    assert _latest(sandbox, 2) == [
        ("charge.refunded", charge["id"], ["refunded"]),
        ("charge.updated", charge["id"], ["refunded"]),
    ]
    intent = next(
        pi for pi in walk_stripe(sandbox.client, "/v1/payment_intents") if pi["status"] != "canceled"
    )
    sandbox.client.control("POST", f"stripe/payment_intents/{intent['id']}", {"status": "canceled"})
    assert _latest(sandbox, 1) == [("payment_intent.canceled", intent["id"], ["status"])]
    subscription = walk_stripe(sandbox.client, "/v1/subscriptions")[0]
    sandbox.client.control("POST", f"stripe/subscriptions/{subscription['id']}", {"status": "canceled"})
    assert [kind for kind, _, _ in _latest(sandbox, 2)] == [
        "customer.subscription.deleted",
        "customer.subscription.updated",
    ]
    kept = sandbox.client.get("stripe", f"/v1/subscriptions/{subscription['id']}").json
    assert kept["status"] == "canceled", "a canceled subscription still exists"
    review = next(r for r in walk_stripe(sandbox.client, "/v1/reviews") if r["open"])
    sandbox.client.control(
        "POST", f"stripe/reviews/{review['id']}", {"open": False, "closed_reason": "approved"}
    )
    assert _latest(sandbox, 1) == [("review.closed", review["id"], ["closed_reason", "open"])]


def test_given_seeded_objects_without_a_created_event_type_when_listing_events_then_their_status_decides(
    sandbox: Running,
) -> None:
    charges = {c["id"]: c["status"] for c in walk_stripe(sandbox.client, "/v1/charges")}
    types = [f"charge.{kind}" for kind in ("succeeded", "failed", "pending")]
    events = walk_stripe(sandbox.client, "/v1/events", {"types[]": types})
    assert {e["type"] for e in events} == {"charge.succeeded", "charge.failed"}
    assert all(e["type"] == f"charge.{charges[e['data']['object']['id']]}" for e in events)
    sessions = walk_stripe(sandbox.client, "/v1/events", {"type": "checkout.session.*"})
    assert sessions
    assert all(
        (e["type"], e["data"]["object"]["status"])
        in {("checkout.session.completed", "complete"), ("checkout.session.expired", "expired")}
        for e in sessions
    )


def test_given_child_changes_when_listing_events_then_child_and_parent_events_are_stripes(
    sandbox: Running,
) -> None:
    customer = walk_stripe(sandbox.client, "/v1/customers")[0]
    tax_id = sandbox.client.control("POST", "stripe/tax_ids", {"_parent": customer["id"]})
    sandbox.client.control("POST", f"stripe/tax_ids/{tax_id['id']}", {"value": "DE000000001"})
    sandbox.client.control("DELETE", f"stripe/tax_ids/{tax_id['id']}")
    assert _latest(sandbox, 3) == [
        ("customer.tax_id.deleted", tax_id["id"], []),
        ("customer.tax_id.updated", tax_id["id"], ["value"]),
        ("customer.tax_id.created", tax_id["id"], []),
    ]
    source = sandbox.client.control("POST", "stripe/customer_sources", {"_parent": customer["id"]})
    assert _latest(sandbox, 1) == [("customer.source.created", source["id"], [])]
    credit = sandbox.client.control(
        "POST", "stripe/customer_balance_transactions", {"_parent": customer["id"], "amount": -700}
    )
    assert credit["ending_balance"] == customer["balance"] - 700
    assert _latest(sandbox, 1) == [("customer.updated", customer["id"], ["balance"])]
    transfer = walk_stripe(sandbox.client, "/v1/transfers")[0]
    reversal = sandbox.client.control(
        "POST", "stripe/transfer_reversals", {"_parent": transfer["id"], "amount": 5}
    )
    assert _latest(sandbox, 1) == [("transfer.reversed", transfer["id"], ["amount_reversed", "reversals"])]
    refreshed = sandbox.client.get("stripe", f"/v1/transfers/{transfer['id']}").json
    assert refreshed["reversals"]["data"][0] == reversal
    fee = walk_stripe(sandbox.client, "/v1/application_fees")[0]
    refund = sandbox.client.control(
        "POST", "stripe/application_fee_refunds", {"_parent": fee["id"], "amount": 1}
    )
    sandbox.client.control("POST", f"stripe/application_fee_refunds/{refund['id']}", {"metadata": {"k": "v"}})
    assert _latest(sandbox, 2) == [
        ("application_fee.refund.updated", refund["id"], ["metadata"]),
        ("application_fee.refunded", fee["id"], ["amount_refunded", "refunds"]),
    ]


def test_given_issuing_and_radar_objects_when_created_and_updated_then_their_events_are_listed(
    sandbox: Running,
) -> None:
    for resource, prefix in (
        ("issuing_cardholders", "issuing_cardholder"),
        ("issuing_cards", "issuing_card"),
        ("issuing_authorizations", "issuing_authorization"),
        ("issuing_transactions", "issuing_transaction"),
        ("early_fraud_warnings", "radar.early_fraud_warning"),
    ):
        created = sandbox.client.control("POST", f"stripe/{resource}", {})
        change = (
            {"actionable": not created["actionable"]} if "actionable" in created else {"metadata": {"k": "v"}}
        )
        sandbox.client.control("POST", f"stripe/{resource}/{created['id']}", change)
        assert [kind for kind, _, _ in _latest(sandbox, 2)] == [f"{prefix}.updated", f"{prefix}.created"]
        seeded = walk_stripe(sandbox.client, "/v1/events", {"types[]": f"{prefix}.created"})
        assert seeded[0]["data"]["object"]["id"] == created["id"]
        assert len(seeded) > 1, "recent seeded objects have their created events"
