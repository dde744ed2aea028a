"""The credit ledger: every customer's, a cursor per customer, pending entries read again, and event
enrichment in searches of at most 500 ids and 30 days, through the stream's retries and budget."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests_mock
from airbyte_cdk.models import FailureType, Level, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from jsonschema import Draft7Validator

from source_billing.config import BillingConfig
from source_billing.orb import check
from unit_tests.orb.builders import V1, customer, entry, ids, orb_config, page, read_slices, stream

LEDGER = "orb_credits_ledger_entries"
KEYS = {"numeric_event_properties_keys": ["tokens"], "string_event_properties_keys": ["region"]}


def _ledger_url(customer_id: str) -> str:
    return f"{V1}/customers/{customer_id}/credits/ledger"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(event_id: str, **properties: Any) -> dict[str, Any]:
    return {"id": event_id, "timestamp": "2024-06-01T00:00:00Z", "properties": properties}


def test_given_customers_older_than_start_date_when_sliced_then_every_customer_is_read_from_start_date() -> (
    None
):
    ledger = stream(LEDGER, start_date="2024-05-01T00:00:00Z")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1, "2021-01-01T00:00:00Z"), customer(2)]))
        mock.get(f"{V1}/prices", json=page([]))
        mock.get(_ledger_url("cus_1"), json=page([entry(1)]))
        mock.get(_ledger_url("cus_2"), json=page([entry(2)]))
        records, _ = read_slices(ledger)
        customers_query, _prices, *ledger_queries = [request.qs for request in mock.request_history]
    assert customers_query == {"limit": ["100"]}, "customers are never filtered by start_date"
    assert [r["customer_id"] for r in records] == ["cus_1", "cus_2"]
    assert all(query["created_at[gte]"] == ["2024-05-01T00:00:00Z"] for query in ledger_queries)
    assert all("entry_status" not in query and "entry_type" not in query for query in ledger_queries)


def test_given_a_cursor_per_customer_and_currency_when_synced_then_each_resumes_less_the_lookback() -> None:
    ledger = stream(LEDGER, lookback_window_days=1)
    ledger.state = {"cus_1|credits": {"created_at": "2024-06-10T00:00:00Z"}}
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1), customer(2)]))
        mock.get(f"{V1}/prices", json=page([]))
        mock.get(_ledger_url("cus_1"), json=page([]))
        mock.get(_ledger_url("cus_2"), json=page([]))
        slices = list(ledger.stream_slices(sync_mode=SyncMode.incremental))
        first, second = slices
        assert first is not None
        assert second is not None
        list(ledger.read_records(SyncMode.full_refresh, stream_slice=first))
        list(ledger.read_records(SyncMode.full_refresh, stream_slice=second))
        first_query, second_query = [request.qs for request in mock.request_history[2:]]
    assert first_query["created_at[gte]"] == ["2024-06-09T00:00:00Z"]
    assert "created_at[gte]" not in second_query, "a customer never synced is read from the beginning"
    ledger.close_slice(first)
    assert ledger.state["cus_1|credits"] == {"created_at": first["checkpoint"]}
    assert "cus_2|credits" not in ledger.state, "state moves only when a customer's slice closes"


def test_given_a_state_of_the_per_customer_form_when_read_then_it_is_the_credits_ledgers_cursor() -> None:
    ledger = stream(LEDGER)
    ledger.state = {"cus_1": {"created_at": "2024-06-10T00:00:00Z"}}
    assert ledger.state == {"cus_1|credits": {"created_at": "2024-06-10T00:00:00Z"}}
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1)]))
        mock.get(f"{V1}/prices", json=page([]))
        ledger_mock = mock.get(_ledger_url("cus_1"), json=page([]))
        read_slices(ledger)
    assert ledger_mock.last_request.qs["created_at[gte]"] == ["2024-06-10T00:00:00Z"]
    assert "currency" not in ledger_mock.last_request.qs, "credits is Orb's default ledger"


def test_given_a_customer_with_credits_in_credits_and_usd_when_read_then_both_ledgers_a_cursor_each() -> None:
    ledger = stream(LEDGER)
    usd_customer = {**customer(1), "currency": "USD"}
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([usd_customer, {**customer(2), "currency": "USD"}]))
        mock.get(f"{V1}/prices", json=page([{"id": "p1", "currency": "compute", "credit_allocation": None}]))
        # cus_1 holds USD credits, no compute credits; cus_2 none besides credits.
        blocks = mock.get(
            f"{V1}/customers/cus_1/credits",
            json=lambda request, _: page([{"id": "blk_usd"}] if request.qs["currency"] == ["USD"] else []),
        )
        mock.get(f"{V1}/customers/cus_2/credits", json=page([]))

        def ledger_answer(request: Any, context: Any) -> dict[str, Any]:
            currency = request.qs.get("currency", ["credits"])[0]
            customer_id = request.path.split("/")[3]
            return page([{**entry(hash((customer_id, currency)) % 1000), "currency": currency}])

        mock.get(_ledger_url("cus_1"), json=ledger_answer)
        mock.get(_ledger_url("cus_2"), json=ledger_answer)
        records, _ = read_slices(ledger)
        probes = [request.qs for request in blocks.request_history]
    assert probes == [
        {"currency": ["USD"], "include_all_blocks": ["true"], "limit": ["1"]},
        {"currency": ["compute"], "include_all_blocks": ["true"], "limit": ["1"]},
    ]
    assert sorted((r["customer_id"], r["currency"]) for r in records) == [
        ("cus_1", "USD"),
        ("cus_1", "credits"),
        ("cus_2", "credits"),
    ]
    assert set(ledger.state) == {"cus_1|credits", "cus_1|USD", "cus_2|credits"}


def test_given_a_pending_entry_when_the_slice_closes_then_the_customers_cursor_stays_at_it() -> None:
    ledger = stream(LEDGER)
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1), customer(2)]))
        mock.get(f"{V1}/prices", json=page([]))
        pending = entry(2, "2024-06-02T10:00:00.250Z", entry_status="pending")
        mock.get(_ledger_url("cus_1"), json=page([entry(3, "2024-06-03T00:00:00Z"), pending, entry(1)]))
        mock.get(_ledger_url("cus_2"), json=page([entry(4)]))
        read_slices(ledger)
    assert ledger.state["cus_1|credits"] == {"created_at": "2024-06-02T10:00:00Z"}
    assert ledger.state["cus_2|credits"]["created_at"] > "2024-06-03"


def test_given_event_keys_when_read_then_entries_with_events_carry_typed_properties_and_others_pass() -> None:
    ledger = stream(LEDGER, **KEYS)
    entries = [entry(1, event_id="ev_1"), entry(2, event_id="ev_2"), entry(3, entry_type="increment")]
    events = [_event("ev_1", tokens="12.5", region=7, other="x")]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1)]))
        mock.get(f"{V1}/prices", json=page([]))
        mock.get(_ledger_url("cus_1"), json=page(entries))
        search = mock.post(f"{V1}/events/search", json={"data": events})
        records, messages = read_slices(ledger)
    by_id = {r["id"]: r for r in records}
    assert by_id["le_1"]["event"] == {"id": "ev_1", "properties": {"tokens": 12.5, "region": "7"}}
    assert by_id["le_2"]["event"] == {"id": "ev_2", "properties": {"tokens": None, "region": None}}
    assert "event" not in by_id["le_3"]
    assert by_id["le_3"] == {**entry(3, entry_type="increment"), "customer_id": "cus_1"}
    (warning,) = messages
    assert warning.log is not None
    assert warning.log.level == Level.WARN
    assert "1 of 2 event ids" in warning.log.message
    assert search.call_count == 1
    assert sorted(search.last_request.json()["event_ids"]) == ["ev_1", "ev_2"]
    schema = ledger.get_json_schema()
    event_properties = schema["properties"]["event"]["properties"]["properties"]["properties"]
    assert event_properties == {
        "tokens": {"type": ["null", "number"]},
        "region": {"type": ["null", "string"]},
    }
    for record in records:
        Draft7Validator(schema).validate(record)


def test_given_many_entries_over_months_when_enriched_then_searches_hold_500_ids_and_30_days_at_most() -> (
    None
):
    ledger = stream(LEDGER, **KEYS)
    newest = datetime(2024, 6, 30, tzinfo=UTC)
    # 1,300 entries over 70 days, newest first as Orb lists them; some share an event.
    entries = [
        entry(n, _iso(newest - timedelta(hours=1.3 * n)), event_id=f"ev_{n // 2 if n < 200 else n}")
        for n in range(1300)
    ]
    searches: list[dict[str, Any]] = []

    def search(request: Any, context: Any) -> dict[str, Any]:
        body = request.json()
        searches.append(body)
        return {"data": [_event(event_id, tokens=1) for event_id in body["event_ids"]]}

    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1)]))
        mock.get(f"{V1}/prices", json=page([]))
        mock.get(
            _ledger_url("cus_1"),
            [
                {"json": page(entries[i : i + 100], None if i >= 1200 else f"c{i}")}
                for i in range(0, 1300, 100)
            ],
        )
        mock.post(f"{V1}/events/search", json=search)
        records, messages = read_slices(ledger)
    assert sorted(ids(records)) == sorted(ids(entries))
    assert messages == []
    assert all(r["event"]["properties"] == {"tokens": 1, "region": None} for r in records)
    searched = [event_id for body in searches for event_id in body["event_ids"]]
    assert len(searched) == len(set(searched)) == len({e["event_id"] for e in entries})
    for body in searches:
        assert len(body["event_ids"]) <= 500
        start = datetime.fromisoformat(body["timeframe_start"])
        end = datetime.fromisoformat(body["timeframe_end"])
        assert timedelta(0) < end - start <= timedelta(days=30)
    by_event = {e["event_id"]: e["created_at"] for e in entries}
    for body in searches:
        for event_id in body["event_ids"]:
            assert body["timeframe_start"] < by_event[event_id] < body["timeframe_end"]


def test_given_a_429_on_an_event_search_when_read_then_it_is_retried_after_retry_after(
    sleeps: list[float],
) -> None:
    ledger = stream(LEDGER, **KEYS)
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1)]))
        mock.get(f"{V1}/prices", json=page([]))
        mock.get(_ledger_url("cus_1"), json=page([entry(1, event_id="ev_1")]))
        search = mock.post(
            f"{V1}/events/search",
            [
                {"status_code": 429, "headers": {"Retry-After": "2"}, "json": {"status": 429}},
                {"json": {"data": [_event("ev_1", tokens=3, region="eu")]}},
            ],
        )
        records, _ = read_slices(ledger)
    assert search.call_count == 2
    assert sleeps == [2 + 1]
    assert records[0]["event"]["properties"] == {"tokens": 3, "region": "eu"}


def test_given_no_event_keys_when_read_then_no_search_and_no_event_field() -> None:
    ledger = stream(LEDGER)
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1)]))
        mock.get(f"{V1}/prices", json=page([]))
        mock.get(_ledger_url("cus_1"), json=page([entry(1, event_id="ev_1")]))
        records, _ = read_slices(ledger)
        assert [request.method for request in mock.request_history] == ["GET", "GET", "GET"]
    assert "event" not in records[0]
    assert "event" not in ledger.get_json_schema()["properties"]


def test_given_a_key_both_numeric_and_string_when_checked_then_config_error() -> None:
    raw = orb_config(numeric_event_properties_keys=["tokens"], string_event_properties_keys=["tokens"])
    parsed = BillingConfig.parse(raw)
    assert parsed.orb is not None
    with pytest.raises(AirbyteTracedException) as caught:
        check(parsed.orb, __import__("logging").getLogger("test"))
    assert caught.value.failure_type == FailureType.config_error
    assert "tokens" in str(caught.value.message)
    assert json.dumps(raw["orb"]["api_key"]) not in str(caught.value.message)
