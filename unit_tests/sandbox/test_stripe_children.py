"""Stripe child lists: per-parent endpoints, embedded first pages, customer sources and tax ids,
balance transactions by payout, setup attempts and usage record summaries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from sandbox.stripe_resources import RESOURCES_BY_NAME
from unit_tests.sandbox.helpers import Running, SandboxFactory, walk_stripe


def _by_parent(objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for obj in objects:
        grouped[obj["_parent"]].append(obj["id"])
    return grouped


@pytest.mark.parametrize(
    ("resource", "parent_field"),
    [
        ("customer_sources", "customer"),
        ("tax_ids", "customer"),
        ("customer_balance_transactions", "customer"),
        ("usage_record_summaries", "subscription_item"),
        ("transfer_reversals", "transfer"),
        ("application_fee_refunds", "fee"),
        ("persons", "account"),
        ("external_accounts", "account"),
    ],
)
def test_given_a_child_resource_when_walking_each_parent_then_the_control_objects_come_in_list_order(
    sandbox: Running, resource: str, parent_field: str
) -> None:
    row = RESOURCES_BY_NAME[resource]
    stored = sandbox.client.control("GET", f"objects/stripe/{resource}")["data"]
    assert stored
    assert all(obj["_parent"] == obj[parent_field] for obj in stored), "the parent is named twice"
    accounts = sandbox.client.control("GET", "objects/stripe/accounts")["data"]
    # The platform may not read persons or external accounts of Standard and Express accounts.
    uncontrolled = {a["id"] for a in accounts if a["controller"]["requirement_collection"] == "stripe"}
    for parent_id, ids in _by_parent(stored).items():
        path = row.path.replace("{parent}", parent_id)
        if parent_field == "account" and parent_id in uncontrolled:
            refused = sandbox.client.get("stripe", path)
            assert refused.status == 403
            assert "do not have Platform Controls" in refused.json["error"]["message"]
            continue
        listed = walk_stripe(sandbox.client, path)
        assert [obj["id"] for obj in listed] == ids, (resource, parent_id)
        assert "_parent" not in listed[0]
        if row.newest_first:
            keys = [(-obj["created"], obj["id"]) for obj in listed]
            assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("parents", "path", "field"),
    [
        ("/v1/transfers", "/v1/transfers/{id}/reversals", "reversals"),
        ("/v1/application_fees", "/v1/application_fees/{id}/refunds", "refunds"),
    ],
)
def test_given_parents_with_embedded_children_when_listing_then_first_ten_and_has_more_match_the_child_list(
    make_sandbox: SandboxFactory, parents: str, path: str, field: str
) -> None:
    running = make_sandbox(scale=10, scale_for={"stripe.transfers": 150, "stripe.application_fees": 150})
    seen_more = False
    for parent in walk_stripe(running.client, parents):
        children = walk_stripe(running.client, path.format(id=parent["id"]))
        embedded = parent[field]
        assert embedded["url"] == path.format(id=parent["id"])
        assert embedded["data"] == children[:10]
        assert embedded["has_more"] == (len(children) > 10)
        assert embedded["total_count"] == len(children)
        seen_more |= embedded["has_more"]
        reduced = parent["amount_reversed" if field == "reversals" else "amount_refunded"]
        assert reduced == sum(child["amount"] for child in children) <= parent["amount"]
    assert seen_more, "some parents have more than a page of children"


def test_given_customer_sources_when_filtering_by_object_or_path_then_only_that_kind(
    sandbox: Running,
) -> None:
    stored = sandbox.client.control("GET", "objects/stripe/customer_sources")["data"]
    kinds = {obj["object"] for obj in stored}
    assert kinds == {"bank_account", "card"}
    for customer_id, ids in _by_parent(stored).items():
        everything = walk_stripe(sandbox.client, f"/v1/customers/{customer_id}/sources")
        assert [obj["id"] for obj in everything] == ids
        for kind, subpath in (("bank_account", "bank_accounts"), ("card", "cards")):
            expected = [obj["id"] for obj in everything if obj["object"] == kind]
            by_param = walk_stripe(sandbox.client, f"/v1/customers/{customer_id}/sources", {"object": kind})
            by_path = walk_stripe(sandbox.client, f"/v1/customers/{customer_id}/{subpath}")
            assert [obj["id"] for obj in by_param] == [obj["id"] for obj in by_path] == expected
    customer_id = stored[0]["_parent"]
    refused = sandbox.client.get("stripe", f"/v1/customers/{customer_id}/cards", {"object": "card"})
    assert refused.status == 400, "the cards path takes no object parameter"
    missing = sandbox.client.get("stripe", "/v1/customers/cus_nope/sources")
    assert missing.status == 404
    assert missing.json["error"]["message"] == "No such customer: 'cus_nope'"


def test_given_expand_of_includable_lists_when_reading_customers_then_sources_and_tax_ids_are_embedded(
    sandbox: Running,
) -> None:
    tax_ids = sandbox.client.control("GET", "objects/stripe/tax_ids")["data"]
    customer_id = tax_ids[0]["_parent"]
    plain = sandbox.client.get("stripe", f"/v1/customers/{customer_id}").json
    assert "tax_ids" not in plain
    assert "sources" not in plain
    expanded = sandbox.client.get(
        "stripe", f"/v1/customers/{customer_id}", {"expand[]": ["tax_ids", "sources"]}
    ).json
    listed = walk_stripe(sandbox.client, f"/v1/customers/{customer_id}/tax_ids")
    assert expanded["tax_ids"] == {
        "object": "list",
        "data": listed,
        "has_more": False,
        "total_count": len(listed),
        "url": f"/v1/customers/{customer_id}/tax_ids",
    }
    assert expanded["sources"]["url"] == f"/v1/customers/{customer_id}/sources"
    page = walk_stripe(sandbox.client, "/v1/customers", {"expand[]": "data.tax_ids"})
    assert all(customer["tax_ids"]["object"] == "list" for customer in page)


def test_given_customer_balance_transactions_when_listing_then_balances_run_and_end_at_the_customer_balance(
    sandbox: Running,
) -> None:
    stored = sandbox.client.control("GET", "objects/stripe/customer_balance_transactions")["data"]
    grouped = _by_parent(stored)
    for customer in walk_stripe(sandbox.client, "/v1/customers"):
        transactions = walk_stripe(sandbox.client, f"/v1/customers/{customer['id']}/balance_transactions")
        assert [txn["id"] for txn in transactions] == grouped.get(customer["id"], [])
        balance = 0
        for txn in reversed(transactions):
            balance += txn["amount"]
            assert txn["ending_balance"] == balance
        assert customer["balance"] == balance


def test_given_payouts_when_listing_balance_transactions_by_payout_then_exactly_the_linked_ones(
    sandbox: Running,
) -> None:
    linked = sandbox.client.control("GET", "objects/stripe/payout_balance_transactions")["data"]
    everything = walk_stripe(sandbox.client, "/v1/balance_transactions")
    assert linked
    assert len(linked) < len(everything), "recent transactions await a payout"
    payouts = {payout["id"]: payout for payout in walk_stripe(sandbox.client, "/v1/payouts")}
    for payout_id, ids in _by_parent(linked).items():
        listed = walk_stripe(sandbox.client, "/v1/balance_transactions", {"payout": payout_id})
        assert [txn["id"] for txn in listed] == ids
        assert payouts[payout_id]["status"] not in ("failed", "canceled")
        paid_out = [txn for txn in listed if txn["type"] != "payout"]
        assert all(txn["available_on"] <= payouts[payout_id]["created"] for txn in paid_out)
        charges = walk_stripe(
            sandbox.client, "/v1/balance_transactions", {"payout": payout_id, "type": "charge"}
        )
        assert [txn["id"] for txn in charges] == [txn["id"] for txn in listed if txn["type"] == "charge"]
    missing = sandbox.client.get("stripe", "/v1/balance_transactions", {"payout": "po_nope"})
    assert missing.status == 400
    assert missing.json["error"]["code"] == "resource_missing"
    assert missing.json["error"]["param"] == "payout"


def test_given_setup_attempts_when_listing_then_setup_intent_is_required_and_created_filters_apply(
    sandbox: Running,
) -> None:
    assert sandbox.client.get("stripe", "/v1/setup_attempts").json["error"]["param"] == "setup_intent"
    for intent in walk_stripe(sandbox.client, "/v1/setup_intents"):
        attempts = walk_stripe(sandbox.client, "/v1/setup_attempts", {"setup_intent": intent["id"]})
        assert attempts, "every setup intent was attempted"
        assert intent["latest_attempt"] == attempts[0]["id"]
        assert all(attempt["setup_intent"] == intent["id"] for attempt in attempts)
        newest = attempts[0]["created"]
        recent = walk_stripe(
            sandbox.client, "/v1/setup_attempts", {"setup_intent": intent["id"], "created[gte]": newest}
        )
        assert [a["id"] for a in recent] == [a["id"] for a in attempts if a["created"] >= newest]


def test_given_subscription_items_when_listing_usage_summaries_then_only_metered_items_have_them(
    sandbox: Running,
) -> None:
    stored = _by_parent(sandbox.client.control("GET", "objects/stripe/usage_record_summaries")["data"])
    items = sandbox.client.control("GET", "objects/stripe/subscription_items")["data"]
    assert stored
    on_meter = []
    for item in items:
        recurring = item["price"]["recurring"] or {}
        metered = recurring.get("usage_type") == "metered"
        assert (item["id"] in stored) == (metered and not recurring["meter"]), "legacy metered items only"
        assert (item["quantity"] is None) == metered
        on_meter += [item["id"]] if recurring.get("meter") else []
    assert on_meter, "some items are on billing meters"
    refused = sandbox.client.get("stripe", f"/v1/subscription_items/{on_meter[0]}/usage_record_summaries")
    assert refused.status == 400
    assert refused.json["error"]["message"] == (
        f"Cannot list usage record summaries for `{on_meter[0]}` because it is not on the legacy metered "
        "billing system. Call /v1/billing/meters/:id/event_summaries instead."
    )
    item_id, ids = next(iter(stored.items()))
    summaries = walk_stripe(sandbox.client, f"/v1/subscription_items/{item_id}/usage_record_summaries")
    assert [summary["id"] for summary in summaries] == ids
    ends = [summary["period"]["end"] for summary in summaries]
    assert ends == sorted(ends, reverse=True), "the current period first"
