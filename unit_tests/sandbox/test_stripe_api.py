"""Stripe emulation: auth, Connect, pagination, filters, embedded lists, retrieve and search."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sandbox.credentials import (
    STRIPE_LIVE_KEY,
    STRIPE_RESTRICTED_KEY,
    STRIPE_RESTRICTED_KEY_MASKED,
)
from sandbox.stripe_resources import STRIPE_RESOURCES
from unit_tests.sandbox.helpers import Running, SandboxFactory, walk_stripe


def test_given_no_key_when_listing_then_401_with_stripes_message(sandbox: Running) -> None:
    reply = sandbox.client.get("stripe", "/v1/customers", key=None)
    assert reply.status == 401
    assert reply.json["error"]["message"].startswith("You did not provide an API key.")
    assert reply.json["error"]["type"] == "invalid_request_error"


def test_given_unknown_key_when_listing_then_401_and_key_masked(sandbox: Running) -> None:
    reply = sandbox.client.get("stripe", "/v1/customers", key="sk_test_notreallyabcd")
    assert reply.status == 401
    assert reply.json == {
        "error": {"message": "Invalid API Key provided: sk_test_****abcd", "type": "invalid_request_error"}
    }
    assert b"notreally" not in reply.raw


def test_given_restricted_key_when_reading_charges_then_403_naming_the_permission(sandbox: Running) -> None:
    denied = sandbox.client.get("stripe", "/v1/charges", key=STRIPE_RESTRICTED_KEY)
    balance = sandbox.client.get("stripe", "/v1/balance_transactions", key=STRIPE_RESTRICTED_KEY)
    allowed = sandbox.client.get("stripe", "/v1/customers", key=STRIPE_RESTRICTED_KEY)
    assert denied.status == 403
    assert denied.json == {
        "error": {
            "message": f"The provided key '{STRIPE_RESTRICTED_KEY_MASKED}' does not have the required "
            "permissions for this endpoint on account 'acct_sandbox'. Having the 'rak_charge_read' "
            "permission would allow this request to continue.",
            "type": "invalid_request_error",
        }
    }
    assert STRIPE_RESTRICTED_KEY_MASKED == "rk_test_***********cted"
    assert balance.status == 403
    assert "rak_balance_transaction_source_read" in balance.json["error"]["message"]
    assert allowed.status == 200


def test_given_live_key_when_listing_then_same_data_as_test_key(sandbox: Running) -> None:
    live = sandbox.client.get("stripe", "/v1/customers", key=STRIPE_LIVE_KEY)
    test = sandbox.client.get("stripe", "/v1/customers")
    assert live.status == 200
    assert live.json["data"] == test.json["data"]


def test_given_connect_header_when_listing_then_each_account_has_its_own_tagged_ids(sandbox: Running) -> None:
    ids = {}
    for account, tag in (("acct_sandbox", "P"), ("acct_sandbox_a", "A"), ("acct_sandbox_b", "B")):
        headers = {} if account == "acct_sandbox" else {"Stripe-Account": account}
        customers = walk_stripe(sandbox.client, "/v1/customers", headers=headers)
        ids[account] = {customer["id"] for customer in customers}
        assert all(object_id.startswith(f"cus_{tag}") for object_id in ids[account])
        me = sandbox.client.get("stripe", "/v1/account", headers=headers)
        assert me.json["id"] == account
    assert not ids["acct_sandbox"] & ids["acct_sandbox_a"]
    assert not ids["acct_sandbox_a"] & ids["acct_sandbox_b"]


def test_given_unknown_account_when_listing_then_403_account_invalid(sandbox: Running) -> None:
    reply = sandbox.client.get("stripe", "/v1/customers", headers={"Stripe-Account": "acct_nobody"})
    assert reply.status == 403
    assert reply.json["error"]["code"] == "account_invalid"
    assert "acct_nobody" in reply.json["error"]["message"]


def test_given_stripe_version_header_when_listing_then_it_is_echoed(sandbox: Running) -> None:
    reply = sandbox.client.get("stripe", "/v1/customers", headers={"Stripe-Version": "2024-06-20"})
    assert reply.headers["stripe-version"] == "2024-06-20"
    assert reply.headers["request-id"].startswith("req_")


def test_given_every_list_endpoint_when_paginating_then_each_object_comes_once(sandbox: Running) -> None:
    for row in STRIPE_RESOURCES:
        if row.is_child:
            continue
        expected = sandbox.client.control("GET", f"objects/stripe/{row.name}")["data"]
        params = {"status": "all"} if row.hidden_statuses else {}
        listed = walk_stripe(sandbox.client, row.path, params)
        ids = [obj["id"] for obj in listed]
        assert len(ids) == len(set(ids)), row.name
        assert set(ids) == {obj["id"] for obj in expected}, row.name
        assert all(obj["object"] == row.object for obj in listed), row.name


def test_given_a_list_when_reading_then_newest_first_with_ties_broken_by_id(sandbox: Running) -> None:
    customers = walk_stripe(sandbox.client, "/v1/customers")
    keys = [(-customer["created"], customer["id"]) for customer in customers]
    assert keys == sorted(keys)
    page = sandbox.client.get("stripe", "/v1/customers", {"limit": 3}).json
    assert page["url"] == "/v1/customers"
    assert page["object"] == "list"
    assert len(page["data"]) == 3


def test_given_limit_out_of_bounds_or_unknown_param_when_listing_then_400(sandbox: Running) -> None:
    for limit in (0, 101, "ten"):
        reply = sandbox.client.get("stripe", "/v1/customers", {"limit": limit})
        assert reply.status == 400, limit
        assert reply.json["error"]["param"] == "limit"
    unknown = sandbox.client.get("stripe", "/v1/customers", {"colour": "blue"})
    assert unknown.status == 400
    assert unknown.json["error"]["message"] == "Received unknown parameter: colour"
    assert sandbox.client.get("stripe", "/v1/customers", {"expand[]": "data.default_source"}).status == 200
    default = sandbox.client.get("stripe", "/v1/customers").json
    assert len(default["data"]) == 10


def test_given_created_filters_when_listing_then_only_matching_objects(sandbox: Running) -> None:
    customers = walk_stripe(sandbox.client, "/v1/customers")
    middle = sorted(customer["created"] for customer in customers)[len(customers) // 2]
    newer = walk_stripe(sandbox.client, "/v1/customers", {"created[gte]": middle})
    older = walk_stripe(sandbox.client, "/v1/customers", {"created[lt]": middle})
    exact = walk_stripe(sandbox.client, "/v1/customers", {"created": middle})
    assert {c["id"] for c in newer} == {c["id"] for c in customers if c["created"] >= middle}
    assert {c["id"] for c in older} == {c["id"] for c in customers if c["created"] < middle}
    assert {c["id"] for c in exact} == {c["id"] for c in customers if c["created"] == middle}
    no_filter = sandbox.client.get("stripe", "/v1/quotes", {"created[gte]": middle})
    assert no_filter.status == 400  # quotes take no created filter (the stripe package's QuoteListParams)


def test_given_ending_before_when_listing_then_the_page_before_in_list_order(sandbox: Running) -> None:
    customers = walk_stripe(sandbox.client, "/v1/customers")
    pivot = customers[15]["id"]
    page = sandbox.client.get("stripe", "/v1/customers", {"ending_before": pivot, "limit": 5}).json
    assert [c["id"] for c in page["data"]] == [c["id"] for c in customers[10:15]]
    assert page["has_more"] is True
    missing = sandbox.client.get("stripe", "/v1/customers", {"starting_after": "cus_missing"})
    assert missing.status == 400
    assert missing.json["error"]["param"] == "starting_after"


def test_given_invoices_with_many_lines_when_reading_then_embedded_first_ten_and_child_list_complete(
    sandbox: Running,
) -> None:
    invoices = walk_stripe(sandbox.client, "/v1/invoices")
    all_lines = sandbox.client.control("GET", "objects/stripe/invoice_line_items")["data"]
    big = [invoice for invoice in invoices if invoice["lines"]["has_more"]]
    assert big, "the seed has invoices with more than 10 lines"
    for invoice in invoices:
        embedded = invoice["lines"]
        lines = walk_stripe(sandbox.client, f"/v1/invoices/{invoice['id']}/lines")
        assert embedded["url"] == f"/v1/invoices/{invoice['id']}/lines"
        assert [line["id"] for line in embedded["data"]] == [line["id"] for line in lines[:10]]
        assert embedded["has_more"] == (len(lines) > 10)
        assert invoice["total"] == sum(line["amount"] for line in lines)
    assert sum(invoice["lines"]["total_count"] for invoice in invoices) == len(all_lines)
    missing = sandbox.client.get("stripe", "/v1/invoices/in_missing/lines")
    assert missing.status == 404
    assert missing.json["error"]["code"] == "resource_missing"


def test_given_subscription_items_when_listing_then_subscription_param_required(sandbox: Running) -> None:
    assert sandbox.client.get("stripe", "/v1/subscription_items").status == 400
    subscription = walk_stripe(sandbox.client, "/v1/subscriptions")[0]
    items = walk_stripe(sandbox.client, "/v1/subscription_items", {"subscription": subscription["id"]})
    assert [item["id"] for item in items] == [item["id"] for item in subscription["items"]["data"]]


def test_given_canceled_subscriptions_when_listing_without_status_then_they_are_hidden(
    sandbox: Running,
) -> None:
    default = walk_stripe(sandbox.client, "/v1/subscriptions")
    everything = walk_stripe(sandbox.client, "/v1/subscriptions", {"status": "all"})
    canceled = walk_stripe(sandbox.client, "/v1/subscriptions", {"status": "canceled"})
    assert canceled
    assert all(sub["status"] == "canceled" for sub in canceled)
    assert not any(sub["status"] == "canceled" for sub in default)
    assert len(everything) == len(default) + len(canceled)


def test_given_customer_filter_and_alternate_path_when_listing_payment_methods_then_same_result(
    sandbox: Running,
) -> None:
    method = walk_stripe(sandbox.client, "/v1/payment_methods")[0]
    by_query = walk_stripe(sandbox.client, "/v1/payment_methods", {"customer": method["customer"]})
    by_path = walk_stripe(sandbox.client, f"/v1/customers/{method['customer']}/payment_methods")
    assert by_query == by_path
    assert method in by_query
    assert all(pm["customer"] == method["customer"] for pm in by_query)


def test_given_an_id_when_retrieving_then_the_object_or_stripes_404(sandbox: Running) -> None:
    customer = walk_stripe(sandbox.client, "/v1/customers")[0]
    assert sandbox.client.get("stripe", f"/v1/customers/{customer['id']}").json == customer
    expanded = sandbox.client.get("stripe", "/v1/invoices", {"limit": 1, "expand[]": "data.customer"}).json
    assert isinstance(expanded["data"][0]["customer"], dict)
    missing = sandbox.client.get("stripe", "/v1/customers/cus_nope")
    assert missing.status == 404
    assert missing.json["error"]["message"] == "No such customer: 'cus_nope'"


def test_given_search_queries_when_searching_then_stripe_query_language_subset_works(
    sandbox: Running,
) -> None:
    customers = walk_stripe(sandbox.client, "/v1/customers")
    target = customers[3]

    def search(query: str, **params: object) -> list[dict[str, Any]]:
        reply = sandbox.client.get("stripe", "/v1/customers/search", {"query": query, **params})
        assert reply.status == 200, reply.raw
        assert reply.json["object"] == "search_result"
        return list(reply.json["data"])

    assert [c["id"] for c in search(f"email:'{target['email']}'")] == [target["id"]]
    assert target in search(f"name~'{target['name'][2:]}'", limit=100)
    cutoff = sorted(c["created"] for c in customers)[20]
    assert len(search(f"created>{cutoff}", limit=100)) == sum(c["created"] > cutoff for c in customers)
    tier = next(c for c in customers if "tier" in c["metadata"])["metadata"]["tier"]
    tiered = search(f"metadata['tier']:'{tier}'", limit=100)
    assert tiered
    assert all(c["metadata"]["tier"] == tier for c in tiered)
    other = customers[4]
    both = search(f"email:'{target['email']}' OR email:'{other['email']}'")
    assert {c["id"] for c in both} == {target["id"], other["id"]}
    assert search(f"email:'{target['email']}' AND name:'{other['name']}'") == []
    for bad in ("email:", "colour:'red'", "email:'a' AND name:'b' OR name:'c'"):
        reply = sandbox.client.get("stripe", "/v1/customers/search", {"query": bad})
        assert reply.status == 400, bad


def test_given_many_results_when_searching_then_next_page_walks_them_all(sandbox: Running) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"query": "created>0", "limit": 7}
    while True:
        page = sandbox.client.get("stripe", "/v1/charges/search", params).json
        seen += [charge["id"] for charge in page["data"]]
        if not page["has_more"]:
            assert page["next_page"] is None
            break
        params["page"] = page["next_page"]
    assert len(seen) == len(set(seen)) == len(walk_stripe(sandbox.client, "/v1/charges"))


def test_given_same_seed_when_started_twice_then_same_ids_and_other_seed_differs(
    make_sandbox: SandboxFactory,
) -> None:
    first = make_sandbox(seed=7, scale=10)
    second = make_sandbox(seed=7, scale=10)
    third = make_sandbox(seed=8, scale=10)
    ids = [[c["id"] for c in walk_stripe(s.client, "/v1/customers")] for s in (first, second, third)]
    assert Counter(ids[0]) == Counter(ids[1])
    assert not set(ids[0]) & set(ids[2])


def test_given_scale_for_when_started_then_counts_follow(make_sandbox: SandboxFactory) -> None:
    running = make_sandbox(scale=5, scale_for={"stripe.customers": 123})
    assert len(walk_stripe(running.client, "/v1/customers")) == 123
    assert len(walk_stripe(running.client, "/v1/products")) == 5


def test_given_expand_paths_when_listing_or_retrieving_then_stripes_rules_apply(sandbox: Running) -> None:
    bare = sandbox.client.get("stripe", "/v1/invoices", {"expand[]": "customer"})
    assert bare.status == 400
    assert bare.json["error"]["message"] == (
        "This property cannot be expanded (customer). You may want to try expanding 'data.customer' instead."
    )
    too_deep = sandbox.client.get("stripe", "/v1/invoices", {"expand[]": "data.subscription.customer.x.y"})
    assert too_deep.status == 400
    assert too_deep.json["error"]["param"] == "expand"
    deepest = sandbox.client.get("stripe", "/v1/invoices", {"expand[0]": "data.subscription.customer.x"})
    assert deepest.status == 200
    invoice = deepest.json["data"][0]
    retrieved = sandbox.client.get("stripe", f"/v1/invoices/{invoice['id']}", {"expand[]": "customer"})
    assert retrieved.json["customer"]["id"] == invoice["customer"]
    events = sandbox.client.get("stripe", "/v1/events", {"expand[]": "data.request"})
    assert events.status == 200


def test_given_a_cursor_object_deleted_meanwhile_when_paginating_then_400_resource_missing(
    sandbox: Running,
) -> None:
    page = sandbox.client.get("stripe", "/v1/coupons", {"limit": 3}).json["data"]
    sandbox.client.control("DELETE", f"stripe/coupons/{page[-1]['id']}")
    reply = sandbox.client.get("stripe", "/v1/coupons", {"limit": 3, "starting_after": page[-1]["id"]})
    assert reply.status == 400
    assert reply.json["error"] == {
        "message": f"No such coupon: '{page[-1]['id']}'",
        "type": "invalid_request_error",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "param": "starting_after",
    }
