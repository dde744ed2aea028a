"""Orb emulation: auth, cursor paging, filters, invoice status defaults, ledger, event search, usage."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.orb_ledger import FULL_LEDGER
from unit_tests.sandbox.helpers import Client, Running

ORB_ERRORS = "https://docs.withorb.com/reference/error-responses#"


def walk_orb(client: Client, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Follow ``next_cursor`` to the end of an Orb list."""
    objects: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100, **(params or {})}
    while True:
        reply = client.get("orb", path, query)
        assert reply.status == 200, reply.raw
        page = reply.json
        objects.extend(page["data"])
        if not page["pagination_metadata"]["has_more"]:
            assert page["pagination_metadata"]["next_cursor"] is None
            return objects
        query["cursor"] = page["pagination_metadata"]["next_cursor"]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_given_bad_or_missing_key_when_calling_then_401_in_orbs_error_shape(sandbox: Running) -> None:
    for key in ("wrong", None):
        reply = sandbox.client.get("orb", "/v1/customers", key=key)
        assert reply.status == 401
        body = reply.json
        assert body["type"] == ORB_ERRORS + "401-authentication-error"
        assert body["status"] == 401
        assert body["title"] == "Authentication error"
        assert body["detail"]
    assert sandbox.client.get("orb", "/v1/ping", key=None).status == 401
    assert sandbox.client.get("orb", "/v1/ping").json == {"response": "Orb ok"}


def test_given_lists_when_following_cursors_then_each_object_once_newest_first(sandbox: Running) -> None:
    for resource in ("customers", "subscriptions", "plans", "credit_notes", "items", "prices"):
        listed = walk_orb(sandbox.client, f"/v1/{resource}", {"limit": 7})
        expected = sandbox.client.control("GET", f"objects/orb/{resource}")["data"]
        ids = [obj["id"] for obj in listed]
        assert len(ids) == len(set(ids)) == len(expected), resource
        stamps = [obj["created_at"] for obj in listed]
        assert stamps == sorted(stamps, reverse=True), resource
        assert all(stamp.endswith("Z") for stamp in stamps)
    first = sandbox.client.get("orb", "/v1/customers").json
    assert len(first["data"]) == 20, "default limit"
    customer = first["data"][0]
    assert sandbox.client.get("orb", f"/v1/customers/{customer['id']}").json == customer
    assert isinstance(customer["balance"], str)


def test_given_bad_limit_or_cursor_when_listing_then_400_in_orbs_shape(sandbox: Running) -> None:
    for params in ({"limit": 101}, {"limit": 0}, {"cursor": "not-a-cursor"}):
        reply = sandbox.client.get("orb", "/v1/customers", params)
        assert reply.status == 400, params
        assert reply.json["status"] == 400
        assert reply.json["type"].startswith(ORB_ERRORS)
    missing = sandbox.client.get("orb", "/v1/customers/nope")
    assert missing.status == 404
    assert missing.json["type"] == ORB_ERRORS + "404-resource-not-found"


def test_given_created_at_filters_when_listing_then_only_matching(sandbox: Running) -> None:
    customers = walk_orb(sandbox.client, "/v1/customers")
    middle = sorted(c["created_at"] for c in customers)[len(customers) // 2]
    newer = walk_orb(sandbox.client, "/v1/customers", {"created_at[gte]": middle})
    older = walk_orb(sandbox.client, "/v1/customers", {"created_at[lt]": middle})
    assert {c["id"] for c in newer} == {c["id"] for c in customers if c["created_at"] >= middle}
    assert {c["id"] for c in older} == {c["id"] for c in customers if c["created_at"] < middle}


def test_given_invoices_when_listing_without_status_then_drafts_and_voids_are_omitted(
    sandbox: Running,
) -> None:
    everything = sandbox.client.control("GET", "objects/orb/invoices")["data"]
    assert {"draft", "void"} <= {inv["status"] for inv in everything}
    default = walk_orb(sandbox.client, "/v1/invoices")
    assert {inv["status"] for inv in default} <= {"issued", "paid", "synced"}
    explicit = walk_orb(
        sandbox.client, "/v1/invoices", {"status[]": ["draft", "issued", "paid", "synced", "void"]}
    )
    assert len(explicit) == len(everything)
    drafts = walk_orb(sandbox.client, "/v1/invoices", {"status[]": "draft"})
    assert drafts
    assert all(inv["status"] == "draft" for inv in drafts)
    cutoff = sorted(inv["invoice_date"] for inv in default)[len(default) // 2]
    recent = walk_orb(sandbox.client, "/v1/invoices", {"invoice_date[gt]": cutoff})
    assert {i["id"] for i in recent} == {i["id"] for i in default if i["invoice_date"] > cutoff}


def test_given_control_status_change_when_listing_invoices_then_visible(sandbox: Running) -> None:
    draft = walk_orb(sandbox.client, "/v1/invoices", {"status[]": "draft"})[0]
    sandbox.client.control("POST", f"orb/invoices/{draft['id']}", {"status": "paid"})
    default_ids = {inv["id"] for inv in walk_orb(sandbox.client, "/v1/invoices")}
    assert draft["id"] in default_ids
    paid = sandbox.client.get("orb", f"/v1/invoices/{draft['id']}").json
    assert paid["status"] == "paid"
    assert paid["paid_at"]
    sandbox.client.control("POST", f"orb/invoices/{draft['id']}", {"status": "void"})
    assert draft["id"] not in {inv["id"] for inv in walk_orb(sandbox.client, "/v1/invoices")}


def test_given_control_plan_change_when_reading_subscription_then_new_plan_shows(sandbox: Running) -> None:
    subscription = walk_orb(sandbox.client, "/v1/subscriptions")[0]
    plan = next(p for p in walk_orb(sandbox.client, "/v1/plans") if p["id"] != subscription["plan"]["id"])
    sandbox.client.control(
        "POST", f"orb/subscriptions/{subscription['id']}", {"plan": plan["id"], "status": "ended"}
    )
    listed = {s["id"]: s for s in walk_orb(sandbox.client, "/v1/subscriptions")}[subscription["id"]]
    assert listed["plan"]["id"] == plan["id"]
    assert listed["status"] == "ended"
    assert listed["end_date"]


def test_given_ledger_when_listing_then_all_seven_types_with_orbs_fields(sandbox: Running) -> None:
    customers = walk_orb(sandbox.client, "/v1/customers")
    entries = [
        e for c in customers for e in walk_orb(sandbox.client, f"/v1/customers/{c['id']}/credits/ledger")
    ]
    assert set(Counter(e["entry_type"] for e in entries)) == set(FULL_LEDGER)
    required = {
        *("id", "ledger_sequence_number", "entry_status", "entry_type", "customer", "amount", "currency"),
        *("starting_balance", "ending_balance", "created_at", "credit_block", "description", "metadata"),
    }
    for entry in entries:
        assert required <= set(entry)
        assert isinstance(entry["amount"], float)
        assert isinstance(entry["ending_balance"], float)
        assert entry["ending_balance"] == entry["starting_balance"] + entry["amount"]
    decrements = [e for e in entries if e["entry_type"] == "decrement"]
    event_ids = [e["event_id"] for e in decrements]
    assert None in event_ids
    assert any(i and i.startswith("missing-") for i in event_ids)
    stored = {event["id"] for event in sandbox.client.control("GET", "objects/orb/events")["data"]}
    assert any(i in stored for i in event_ids)
    recent = iso(datetime.now(UTC) - timedelta(days=4))
    oldest_customer = min(customers, key=lambda c: c["created_at"])
    ledger = walk_orb(sandbox.client, f"/v1/customers/{oldest_customer['id']}/credits/ledger")
    assert max(e["created_at"] for e in ledger) > recent, "old customers still have recent entries"


def test_given_ledger_filters_when_listing_then_applied(sandbox: Running) -> None:
    customer = walk_orb(sandbox.client, "/v1/customers")[0]
    path = f"/v1/customers/{customer['id']}/credits/ledger"
    everything = walk_orb(sandbox.client, path)
    decrements = walk_orb(sandbox.client, path, {"entry_type": "decrement"})
    committed = walk_orb(sandbox.client, path, {"entry_status": "committed"})
    assert decrements == [e for e in everything if e["entry_type"] == "decrement"]
    assert committed == [e for e in everything if e["entry_status"] == "committed"]
    assert sandbox.client.get("orb", "/v1/customers/nope/credits/ledger").status == 404


def test_given_event_search_when_limits_exceeded_then_400_constraint_violation(sandbox: Running) -> None:
    too_many = sandbox.client.request("POST", "orb", "/v1/events/search", body={"event_ids": ["x"] * 501})
    assert too_many.status == 400
    assert too_many.json["type"] == ORB_ERRORS + "400-constraint-violation"
    now = datetime.now(UTC)
    window = {"event_ids": ["x"], "timeframe_start": iso(now - timedelta(days=31)), "timeframe_end": iso(now)}
    too_long = sandbox.client.request("POST", "orb", "/v1/events/search", body=window)
    assert too_long.status == 400
    assert too_long.json["title"] == "Constraint violation"


def test_given_event_ids_when_searching_then_events_in_window_are_returned(sandbox: Running) -> None:
    stored = sandbox.client.control("GET", "objects/orb/events")["data"]
    now = datetime.now(UTC)
    body = {
        "event_ids": [e["id"] for e in stored] + ["missing-id"],
        "timeframe_start": iso(now - timedelta(days=29)),
    }
    found = sandbox.client.request("POST", "orb", "/v1/events/search", body=body).json["data"]
    cutoff = iso(now - timedelta(days=29))
    assert {e["id"] for e in found} == {e["id"] for e in stored if e["timestamp"] >= cutoff}
    event = found[0]
    fields = {
        "id",
        "customer_id",
        "external_customer_id",
        "event_name",
        "timestamp",
        "properties",
        "deprecated",
    }
    assert set(event) == fields
    assert isinstance(event["properties"]["tokens"], int)
    assert isinstance(event["properties"]["region"], str)
    default_week = sandbox.client.request(
        "POST", "orb", "/v1/events/search", body={"event_ids": body["event_ids"]}
    )
    week = iso(now - timedelta(days=7))
    assert all(e["timestamp"] >= week for e in default_week.json["data"])


def test_given_subscription_usage_when_fetching_then_orbs_ungrouped_and_grouped_shapes(
    sandbox: Running,
) -> None:
    subscriptions = walk_orb(sandbox.client, "/v1/subscriptions", {"status": "active"})
    now = datetime.now(UTC)
    params = {
        "timeframe_start": iso(now - timedelta(days=5)),
        "timeframe_end": iso(now),
        "granularity": "day",
    }
    usage = None
    for subscription in subscriptions:
        reply = sandbox.client.get("orb", f"/v1/subscriptions/{subscription['id']}/usage", params)
        assert reply.status == 200
        if reply.json["data"]:
            usage = (subscription, reply.json)
            break
    assert usage is not None
    subscription, body = usage
    item = body["data"][0]
    assert set(item) == {"billable_metric", "usage", "view_mode"}
    assert set(item["billable_metric"]) == {"id", "name"}
    assert set(item["usage"][0]) == {"quantity", "timeframe_start", "timeframe_end"}
    grouped_params = {**params, "billable_metric_id": item["billable_metric"]["id"], "group_by": "region"}
    grouped = sandbox.client.get("orb", f"/v1/subscriptions/{subscription['id']}/usage", grouped_params).json
    assert {g["metric_group"]["property_key"] for g in grouped["data"]} == {"region"}
    assert len(grouped["data"]) == 3
    assert grouped["pagination_metadata"] == {
        "has_more": False,
        "next_cursor": None,
    }
    half = sandbox.client.get(
        "orb", f"/v1/subscriptions/{subscription['id']}/usage", {**params, "group_by": "x"}
    )
    assert half.status == 400


def test_given_subscriptions_when_listed_then_the_whole_plan_is_embedded_and_plan_and_statuses_filter(
    sandbox: Running,
) -> None:
    subscriptions = walk_orb(sandbox.client, "/v1/subscriptions")
    plans = {plan["id"]: plan for plan in walk_orb(sandbox.client, "/v1/plans")}
    for subscription in subscriptions:
        assert subscription["plan"] == plans[subscription["plan"]["id"]]
    assert any(price["billable_metric"] for s in subscriptions for price in s["plan"]["prices"])
    plan_id = subscriptions[0]["plan"]["id"]
    on_plan = walk_orb(sandbox.client, "/v1/subscriptions", {"plan_id": plan_id})
    assert {s["id"] for s in on_plan} == {s["id"] for s in subscriptions if s["plan"]["id"] == plan_id}
    open_ones = walk_orb(sandbox.client, "/v1/subscriptions", {"status[]": ["active", "upcoming"]})
    assert {s["id"] for s in open_ones} == {s["id"] for s in subscriptions if s["status"] != "ended"}


def test_given_a_subscriptions_draft_invoice_when_listed_then_it_is_dated_at_the_period_end(
    sandbox: Running,
) -> None:
    subscriptions = {s["id"]: s for s in walk_orb(sandbox.client, "/v1/subscriptions")}
    drafts = [i for i in walk_orb(sandbox.client, "/v1/invoices", {"status[]": "draft"}) if i["subscription"]]
    assert drafts
    for draft in drafts:
        period_end = subscriptions[draft["subscription"]["id"]]["current_billing_period_end_date"]
        assert draft["invoice_date"] == period_end
    future = walk_orb(
        sandbox.client, "/v1/invoices", {"status[]": "draft", "invoice_date[gte]": iso(datetime.now(UTC))}
    )
    assert {i["id"] for i in future} == {i["id"] for i in drafts}


def test_given_a_timeframe_cut_mid_day_when_usage_is_fetched_then_windows_are_cut_and_shares_add_up(
    sandbox: Running,
) -> None:
    subscription = next(
        s
        for s in walk_orb(sandbox.client, "/v1/subscriptions", {"status": "active"})
        if s["start_date"] < iso(datetime.now(UTC) - timedelta(days=5))
        and any(p["billable_metric"] for p in s["plan"]["prices"])
    )
    path = f"/v1/subscriptions/{subscription['id']}/usage"
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    cut = {"granularity": "day", "view_mode": "periodic"}
    whole = sandbox.client.get(
        "orb", path, {**cut, "timeframe_start": iso(day), "timeframe_end": iso(day + timedelta(days=1))}
    )
    halves = [
        sandbox.client.get(
            "orb",
            path,
            {
                **cut,
                "timeframe_start": iso(day + timedelta(hours=h)),
                "timeframe_end": iso(day + timedelta(hours=h + 12)),
            },
        )
        for h in (0, 12)
    ]
    (whole_window,) = whole.json["data"][0]["usage"]
    assert whole_window == {
        "quantity": whole_window["quantity"],
        "timeframe_start": iso(day),
        "timeframe_end": iso(day + timedelta(days=1)),
    }
    half_windows = [half.json["data"][0]["usage"] for half in halves]
    assert [w[0]["timeframe_start"] for w in half_windows] == [iso(day), iso(day + timedelta(hours=12))]
    assert abs(sum(w[0]["quantity"] for w in half_windows) - whole_window["quantity"]) <= 1
    span = sandbox.client.get(
        "orb",
        path,
        {
            **cut,
            "timeframe_start": iso(day + timedelta(hours=6)),
            "timeframe_end": iso(day + timedelta(days=2)),
        },
    )
    windows = span.json["data"][0]["usage"]
    assert [(w["timeframe_start"], w["timeframe_end"]) for w in windows] == [
        (iso(day + timedelta(hours=6)), iso(day + timedelta(days=1))),
        (iso(day + timedelta(days=1)), iso(day + timedelta(days=2))),
    ]


def test_given_control_ledger_entries_when_backdated_with_an_event_choice_then_the_event_follows(
    sandbox: Running,
) -> None:
    customer = walk_orb(sandbox.client, "/v1/customers")[0]
    when = datetime.now(UTC) - timedelta(days=40)
    created = [
        sandbox.client.control(
            "POST",
            "orb/credit_ledger_entries",
            {"_parent": customer["id"], "entry_type": "decrement", "created_at": iso(when), "_event": choice},
        )
        for choice in ("stored", "missing", "none")
    ]
    assert all(entry["created_at"] == iso(when) for entry in created)
    stored, missing, none = (entry["event_id"] for entry in created)
    events = {e["id"]: e for e in sandbox.client.control("GET", "objects/orb/events")["data"]}
    assert events[stored]["timestamp"] == iso(when - timedelta(seconds=60))
    assert missing.startswith("missing-")
    assert none is None
    listed = walk_orb(
        sandbox.client, f"/v1/customers/{customer['id']}/credits/ledger", {"created_at[lte]": iso(when)}
    )
    assert {e["id"] for e in created} <= {e["id"] for e in listed}


def test_given_licenses_when_listed_then_per_subscription_and_deactivation_or_an_ended_subscription_ends_them(
    sandbox: Running,
) -> None:
    missing = sandbox.client.get("orb", "/v1/licenses")
    assert missing.status == 400
    assert missing.json["type"] == ORB_ERRORS + "400-request-validation-errors"
    licenses = sandbox.client.control("GET", "objects/orb/licenses")["data"]
    active = next(lic for lic in licenses if lic["status"] == "active")
    listed = walk_orb(sandbox.client, "/v1/licenses", {"subscription_id": active["subscription_id"]})
    assert {lic["subscription_id"] for lic in listed} == {active["subscription_id"]}
    assert set(listed[0]) == {
        *("id", "external_license_id", "license_type_id", "subscription_id", "status", "start_date"),
        "end_date",
    }
    sandbox.client.control("POST", f"orb/licenses/{active['id']}", {"status": "inactive"})
    (found,) = walk_orb(
        sandbox.client,
        "/v1/licenses",
        {"subscription_id": active["subscription_id"], "external_license_id": active["external_license_id"]},
    )
    assert found["status"] == "inactive"
    assert found["end_date"]
    other = next(
        lic
        for lic in licenses
        if lic["status"] == "active" and lic["subscription_id"] != active["subscription_id"]
    )
    sandbox.client.control("POST", f"orb/subscriptions/{other['subscription_id']}", {"status": "ended"})
    ended = walk_orb(sandbox.client, "/v1/licenses", {"subscription_id": other["subscription_id"]})
    assert {lic["status"] for lic in ended} == {"inactive"}
    types = walk_orb(sandbox.client, "/v1/license_types")
    assert {lic["license_type_id"] for lic in licenses} <= {t["id"] for t in types}


def test_given_a_customer_with_credits_and_usd_when_ledger_and_blocks_are_read_then_credits_by_default(
    sandbox: Running,
) -> None:
    entries = sandbox.client.control("GET", "objects/orb/credit_ledger_entries")["data"]
    customer_id = next(e["customer"]["id"] for e in entries if e["currency"] == "USD")
    ledger = f"/v1/customers/{customer_id}/credits/ledger"
    assert {e["currency"] for e in walk_orb(sandbox.client, ledger)} == {"credits"}
    assert {e["currency"] for e in walk_orb(sandbox.client, ledger, {"currency": "USD"})} == {"USD"}
    credits = f"/v1/customers/{customer_id}/credits"
    default_blocks = walk_orb(sandbox.client, credits, {"include_all_blocks": "true"})
    usd_blocks = walk_orb(sandbox.client, credits, {"include_all_blocks": "true", "currency": "USD"})
    assert default_blocks
    assert usd_blocks
    assert "currency" not in usd_blocks[0], "Orb's credit blocks do not name their currency"
    in_ledger = {e["credit_block"]["id"] for e in entries if e["customer"]["id"] == customer_id}
    assert {b["id"] for b in default_blocks + usd_blocks} == in_ledger
    left = walk_orb(sandbox.client, credits, {"currency": "USD"})
    assert all(block["balance"] > 0 for block in left), "without include_all_blocks: only blocks left"


def test_given_a_unique_count_metric_when_grouped_then_only_by_its_invoice_grouping_key(
    sandbox: Running,
) -> None:
    metrics = walk_orb(sandbox.client, "/v1/metrics")
    assert "bm_unique_users" in {m["id"] for m in metrics}
    subscriptions = walk_orb(sandbox.client, "/v1/subscriptions", {"status": "active"})
    subscription = next(
        s
        for s in subscriptions
        if any((p["billable_metric"] or {}).get("id") == "bm_unique_users" for p in s["plan"]["prices"])
    )
    now = datetime.now(UTC)
    params = {
        "timeframe_start": iso(now - timedelta(days=2)),
        "timeframe_end": iso(now),
        "granularity": "day",
        "billable_metric_id": "bm_unique_users",
    }
    path = f"/v1/subscriptions/{subscription['id']}/usage"
    refused = sandbox.client.get("orb", path, {**params, "group_by": "model"})
    assert refused.status == 400
    assert refused.json["type"] == ORB_ERRORS + "400-request-validation-errors"
    assert "invoice grouping key" in refused.json["detail"]
    grouped = sandbox.client.get("orb", path, {**params, "group_by": "region"})
    assert grouped.status == 200
    assert {g["metric_group"]["property_key"] for g in grouped.json["data"]} == {"region"}


def test_given_customers_and_subscriptions_when_their_lists_are_read_then_transactions_and_schedules(
    sandbox: Running,
) -> None:
    transactions = sandbox.client.control("GET", "objects/orb/balance_transactions")["data"]
    assert transactions
    schedules = sandbox.client.control("GET", "objects/orb/subscription_schedules")["data"]
    subscription_id = schedules[0]["id"].split("|")[0]
    listed = walk_orb(sandbox.client, f"/v1/subscriptions/{subscription_id}/schedule")
    assert listed
    assert all("id" not in entry for entry in listed), "Orb's schedule entries have no id"
    assert set(listed[0]) == {"created_at", "start_date", "end_date", "plan"}
    unknown = sandbox.client.get("orb", "/v1/subscriptions/nope/schedule")
    assert unknown.status == 404
