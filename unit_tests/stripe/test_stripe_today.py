"""Today's Stripe against mocked HTTP: one API version per record, meter-based billing, entitlements,
Connect accounts that refuse the platform, and objects created without an event."""

from __future__ import annotations

import re
from typing import Any

import pendulum
import pytest
import requests_mock
from airbyte_cdk.models import SyncMode

from source_billing.config import BillingConfig
from source_billing.stripe import streams as stripe_streams
from source_billing.stripe.base import StripeStream
from source_billing.stripe.event_types import INVOICE_EVENTS
from source_billing.stripe.streams import LEGACY_USAGE_VERSION

BASE = "https://api.stripe.test"
V1 = f"{BASE}/v1"
SECRET = "sk_test_SENTINELSECRET"
PINNED = "2026-10-28.endive"
OLD = "2023-08-16"


def _stream(name: str, **stripe: Any) -> StripeStream:
    settings = {"client_secret": SECRET, "api_base_url": BASE, "api_version": PINNED, **stripe}
    config = BillingConfig.parse({"stripe": settings})
    assert config.stripe is not None
    return next(s for s in stripe_streams(config.stripe) if s.name == name)


def _page(items: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/x", "has_more": has_more, "data": items}


def _event(n: int, kind: str, obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "id": f"evt_{n}",
        "object": "event",
        "type": kind,
        "created": pendulum.now("UTC").int_timestamp - 60 - n,
        "api_version": version,
        "data": {"object": obj},
    }


def _read(stream: StripeStream, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    mode = SyncMode.incremental
    if state is not None:
        stream.state = state
    records: list[dict[str, Any]] = []
    for stream_slice in stream.stream_slices(sync_mode=mode):
        records.extend(dict(r) for r in stream.read_records(mode, stream_slice=stream_slice))
        stream.close_slice(stream_slice)
    return records


def _recent() -> dict[str, Any]:
    return {"default": {"updated": pendulum.now("UTC").subtract(days=1).int_timestamp}}


def test_given_events_in_other_versions_when_read_incremental_then_those_objects_are_read_again_pinned() -> (
    None
):
    stream = _stream("invoices")
    old_shape = {"id": "in_old", "object": "invoice", "subscription": "sub_1"}
    pinned_shape = {"id": "in_new", "object": "invoice", "parent": {"type": "subscription_details"}}
    deleted = {"id": "in_gone", "object": "invoice", "subscription": "sub_2"}
    events = [
        _event(1, "invoice.paid", old_shape, OLD),
        _event(2, "invoice.finalized", pinned_shape, PINNED),
        _event(3, "invoice.deleted", deleted, OLD),
    ]
    reread = {
        "id": "in_old",
        "object": "invoice",
        "parent": {"subscription_details": {"subscription": "sub_1"}},
    }
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", json=_page(events))
        mock.get(f"{V1}/invoices/in_old", json=reread)
        records = _read(stream, _recent())
        retrieves = [r for r in mock.request_history if r.path == "/v1/invoices/in_old"]
    assert [r["id"] for r in records] == ["in_old", "in_new", "in_gone"]
    assert records[0]["parent"] == reread["parent"]
    assert "subscription" not in records[0]
    assert records[0]["updated"] == events[0]["created"]
    assert records[1] == {**pinned_shape, "updated": events[1]["created"], "is_deleted": False, **_platform()}
    # A deleted object cannot be read again: the event's payload is all there is.
    assert records[2]["subscription"] == "sub_2"
    assert records[2]["is_deleted"] is True
    (retrieve,) = retrieves
    assert retrieve.headers["Stripe-Version"] == PINNED
    assert stream.stats.notes == {
        f"objects rendered in another API version by their events, read again in {PINNED}": 1
    }


def _platform() -> dict[str, Any]:
    return {"stripe_account_id": None}


def test_given_a_parent_event_in_another_version_when_children_read_then_the_parent_is_read_again() -> None:
    stream = _stream("invoice_line_items")
    old_parent = {"id": "in_1", "object": "invoice", "lines": _page([{"id": "il_old", "price": {"id": "p"}}])}
    pinned_parent = {"id": "in_1", "object": "invoice", "lines": _page([{"id": "il_1", "pricing": {}}])}
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", json=_page([_event(1, "invoice.updated", old_parent, OLD)]))
        mock.get(f"{V1}/invoices/in_1", json=pinned_parent)
        records = _read(stream, _recent())
    assert [(r["id"], r["invoice_id"]) for r in records] == [("il_1", "in_1")]
    assert "pricing" in records[0]
    assert "price" not in records[0]


def test_given_an_entitlement_summary_event_when_read_then_its_customers_active_entitlements_are_listed() -> (
    None
):
    stream = _stream("active_entitlements")
    summary = {"object": "entitlements.active_entitlement_summary", "customer": "cus_1", "entitlements": {}}
    entitlement = {"id": "ent_1", "object": "entitlements.active_entitlement", "lookup_key": "sso"}
    with requests_mock.Mocker() as mock:
        mock.get(
            f"{V1}/events",
            json=_page([_event(1, "entitlements.active_entitlement_summary.updated", summary, PINNED)]),
        )
        mock.get(f"{V1}/entitlements/active_entitlements", json=_page([entitlement]))
        records = _read(stream, _recent())
        (listed,) = [r for r in mock.request_history if "active_entitlements" in r.path]
    assert listed.qs["customer"] == ["cus_1"]
    assert [(r["id"], r["customer_id"], r["is_deleted"]) for r in records] == [("ent_1", "cus_1", False)]


def _item(n: int, meter: str | None) -> dict[str, Any]:
    recurring = {"usage_type": "metered", "meter": meter}
    return {
        "id": f"si_{n}",
        "object": "subscription_item",
        "price": {"id": f"price_{n}", "recurring": recurring},
    }


def _subscription(items: list[dict[str, Any]], customer: str = "cus_1") -> dict[str, Any]:
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": customer,
        "created": 1_780_000_000,
        "start_date": 1_780_000_000,
        "items": _page(items),
    }


def test_given_meter_based_and_legacy_items_when_usage_records_read_then_legacy_read_metered_skipped() -> (
    None
):
    stream = _stream("usage_records", start_date="2026-01-01T00:00:00Z", slice_range_days=3650)
    summary = {"id": "sis_1", "object": "usage_record_summary", "total_usage": 3}
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/subscriptions", json=_page([_subscription([_item(1, None), _item(2, "mtr_1")])]))
        mock.get(f"{V1}/subscription_items/si_1/usage_record_summaries", json=_page([summary]))
        records = _read(stream)
        usage = [r for r in mock.request_history if r.path.endswith("usage_record_summaries")]
    assert [(r["id"], r["subscription_item_id"]) for r in records] == [("sis_1", "si_1")]
    (request,) = usage
    assert request.headers["Stripe-Version"] == LEGACY_USAGE_VERSION
    assert stream.stats.notes == {
        "subscription items on meter-based billing skipped (see billing_meter_event_summaries)": 1
    }


def test_given_meter_based_items_when_event_summaries_read_then_daily_per_customer_and_meter_with_state() -> (
    None
):
    stream = _stream("billing_meter_event_summaries", start_date="2026-01-01T00:00:00Z")
    day = {"id": "mtrusg_1", "object": "billing.meter_event_summary", "meter": "mtr_1", "aggregated_value": 7}
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/subscriptions", json=_page([_subscription([_item(1, None), _item(2, "mtr_1")])]))
        mock.get(f"{V1}/billing/meters/mtr_1/event_summaries", json=_page([{**day, "start_time": 1}]))
        records = _read(stream)
        (request,) = [r for r in mock.request_history if "event_summaries" in r.path]
    today = pendulum.now("UTC").start_of("day")
    assert request.qs["customer"] == ["cus_1"]
    assert request.qs["value_grouping_window"] == ["day"]
    # From the subscription's start (after `start_date`), at its UTC midnight.
    started = pendulum.from_timestamp(1_780_000_000).start_of("day")
    assert request.qs["start_time"] == [str(started.int_timestamp)]
    assert request.qs["end_time"] == [str(today.add(days=1).int_timestamp)]
    assert [(r["meter"], r["customer_id"]) for r in records] == [("mtr_1", "cus_1")]
    assert stream.primary_key == ["meter", "customer_id", "start_time"]
    # The last day is still growing: the next sync starts there.
    assert stream.state == {"cus_1|mtr_1": {"start_time": today.int_timestamp}}


def test_given_a_saved_day_when_event_summaries_read_again_then_from_that_day_less_the_lookback() -> None:
    stream = _stream("billing_meter_event_summaries", lookback_window_days=2)
    saved = pendulum.now("UTC").start_of("day").subtract(days=1).int_timestamp
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/subscriptions", json=_page([_subscription([_item(2, "mtr_1")])]))
        mock.get(f"{V1}/billing/meters/mtr_1/event_summaries", json=_page([]))
        _read(stream, {"cus_1|mtr_1": {"start_time": saved}})
        (request,) = [r for r in mock.request_history if "event_summaries" in r.path]
    assert request.qs["start_time"] == [str(saved - 2 * 86_400)]


def test_given_a_standard_account_refusing_persons_when_read_then_it_is_skipped_and_the_others_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = _stream("persons", start_date="2026-01-01T00:00:00Z", slice_range_days=3650)
    accounts = [{"id": "acct_custom", "object": "account"}, {"id": "acct_standard", "object": "account"}]
    refusal = {
        "error": {"message": "You cannot read persons of this account.", "type": "invalid_request_error"}
    }
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/accounts", json=_page(accounts))
        mock.get(f"{V1}/accounts/acct_custom/persons", json=_page([{"id": "person_1", "object": "person"}]))
        mock.get(f"{V1}/accounts/acct_standard/persons", status_code=403, json=refusal)
        records = _read(stream)
    assert [(r["id"], r["account_id"]) for r in records] == [("person_1", "acct_custom")]
    assert not stream.failed
    assert re.search(r"skipped accounts/acct_standard/persons.*HTTP 403.*cannot read persons", caplog.text)


def test_given_an_account_refusing_its_external_accounts_when_read_then_it_is_skipped_and_the_others_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = _stream("external_account_cards", account_ids=["acct_custom", "acct_standard"])
    refusal = {"error": {"message": "You do not have Platform Controls.", "type": "invalid_request_error"}}
    card = {"id": "card_1", "object": "card"}
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/account", [{"json": {"id": "acct_custom"}}, {"json": {"id": "acct_standard"}}])
        mock.get(f"{V1}/accounts/acct_custom/external_accounts", json=_page([card]))
        mock.get(f"{V1}/accounts/acct_standard/external_accounts", status_code=403, json=refusal)
        records = _read(stream)
    assert [(r["id"], r["stripe_account_id"]) for r in records] == [("card_1", "acct_custom")]
    assert not stream.failed
    assert re.search(
        r"skipped accounts/acct_standard/external_accounts \(account acct_standard\).*Platform", caplog.text
    )


def test_given_a_refusal_on_a_stream_without_skips_when_read_then_the_stream_fails() -> None:
    stream = _stream("customers")
    refusal = {"error": {"message": "The key lacks rak_customer_read.", "type": "invalid_request_error"}}
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/customers", status_code=403, json=refusal)
        with pytest.raises(Exception, match="403"):
            _read(stream)


def test_given_a_session_created_since_the_last_sync_when_read_incremental_then_it_is_listed() -> None:
    stream = _stream("checkout_sessions")
    completed = {"id": "cs_done", "object": "checkout.session", "status": "complete"}
    opened = {"id": "cs_open", "object": "checkout.session", "status": "open"}
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", json=_page([_event(1, "checkout.session.completed", completed, PINNED)]))
        mock.get(f"{V1}/checkout/sessions", json=_page([opened, completed]))
        records = _read(stream, _recent())
        (listed,) = [r for r in mock.request_history if r.path == "/v1/checkout/sessions"]
    assert [r["id"] for r in records] == ["cs_done", "cs_open"]
    assert "created[gte]" in listed.qs
    assert records[1]["updated"] == int(listed.qs["created[lt]"][0])


def _synced(names: tuple[str, ...], synced_at: int | None) -> list[StripeStream]:
    """Streams of one sync, each with its cursor at `synced_at` (set before any is read, as a sync does)."""
    config = BillingConfig.parse({"stripe": {"client_secret": SECRET, "api_base_url": BASE}})
    assert config.stripe is not None
    chosen = [s for s in stripe_streams(config.stripe) if s.name in names]
    for stream in chosen:
        stream.state = {} if synced_at is None else {"default": {stream.cursor_field: synced_at}}
    return chosen


def test_given_no_event_since_the_cursors_when_several_streams_read_incremental_then_one_events_request() -> (
    None
):
    last_week = pendulum.now("UTC").subtract(days=7).int_timestamp
    chosen = _synced(("customers", "invoices", "charges"), last_week)
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", json=_page([]))
        records = [record for stream in chosen for record in _read(stream)]
        (single,) = mock.request_history
    assert records == []
    # More than 20 types between them: one pass over every event since the cursors, unfiltered.
    assert single.qs["created[gte]"] == [str(last_week)]
    assert "types[]" not in single.qs


def test_given_events_since_the_cursors_when_several_streams_read_incremental_then_one_pass_serves_each() -> (
    None
):
    chosen = _synced(("customers", "invoices", "events"), _recent()["default"]["updated"])
    customer = _event(1, "customer.updated", {"id": "cus_1", "object": "customer"}, PINNED)
    invoice = _event(2, "invoice.paid", {"id": "in_1", "object": "invoice"}, PINNED)
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", json=_page([customer, invoice]))
        read = {stream.name: [r["id"] for r in _read(stream)] for stream in chosen}
        (single,) = mock.request_history
    assert read == {"customers": ["cus_1"], "invoices": ["in_1"], "events": ["evt_1", "evt_2"]}
    assert "types[]" not in single.qs  # the events stream reads every event


def test_given_a_stream_whose_cursor_came_after_the_pass_when_read_then_it_reads_its_own_events() -> None:
    first, late = _synced(("customers", "invoices"), None)
    first.state = _recent()
    invoice = _event(2, "invoice.paid", {"id": "in_1", "object": "invoice"}, PINNED)
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", json=_page([invoice]))
        assert _read(first) == []
        late.state = _recent()
        assert [r["id"] for r in _read(late)] == ["in_1"]
        passes = [r.qs["types[]"] for r in mock.request_history]
    assert passes == [["customer.created", "customer.deleted", "customer.updated"], sorted(INVOICE_EVENTS)]


def test_given_no_state_when_the_events_stream_is_sliced_then_it_starts_where_stripe_still_keeps_events() -> (
    None
):
    stream = _stream("events", start_date="2020-01-01T00:00:00Z")
    (only,) = stream.stream_slices(sync_mode=SyncMode.incremental)
    kept_since = pendulum.now("UTC").subtract(days=30).int_timestamp
    # Stripe lists 30 days of events: a window from the start date would cost a request for nothing.
    assert kept_since - 5 <= only["start"] <= kept_since + 5


def test_given_the_events_pass_fails_when_streams_read_their_changes_then_each_fails_after_one_attempt() -> (
    None
):
    chosen = _synced(("customers", "invoices"), _recent()["default"]["updated"])
    with requests_mock.Mocker() as mock:
        mock.get(f"{V1}/events", status_code=400, json={"error": {"message": "Invalid timestamp"}})
        for stream in chosen:
            with pytest.raises(Exception, match="400"):
                _read(stream)
        attempts = len(mock.request_history)
    assert attempts == 1, "the second stream gets the pass's error instead of asking again"
