"""The credit ledger through the connector's entry point: every customer's, a cursor per customer and
currency, pending entries read again, and event enrichment in searches of at most 500 ids and 30 days,
through the stream's retries and budget."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from jsonschema import Draft7Validator

from source_billing.config import BillingConfig
from source_billing.orb import check
from unit_tests.entrypoint import (
    NOW,
    MockedApi,
    final_state,
    read_stream,
    records,
    stream_error,
    stream_schema,
    warnings,
)
from unit_tests.orb.builders import (
    LIMIT,
    REJECTED,
    answer,
    customer,
    entry,
    error,
    ids,
    orb_config,
    page,
    pages,
    request,
)

LEDGER = "orb_credits_ledger_entries"
KEYS = {"numeric_event_properties_keys": ["tokens"], "string_event_properties_keys": ["region"]}
UNTIL_NOW = {**LIMIT, "created_at[lt]": NOW}
"""The query of a ledger read by an incremental sync, from the ledger's beginning to the sync's second."""


def _customers(api: MockedApi, *customers: dict[str, Any], prices: tuple[dict[str, Any], ...] = ()) -> None:
    """Every customer, never filtered, and the account's prices (their currencies are candidate ledgers)."""
    api.get(request("customers", LIMIT), page(customers))
    api.get(request("prices", LIMIT), page(prices))


def _ledger(api: MockedApi, customer_id: str, query: dict[str, str], *entries: dict[str, Any]) -> None:
    """A customer's ledger as an incremental sync asks for it (`query` adds to `UNTIL_NOW`)."""
    api.get(request(f"customers/{customer_id}/credits/ledger", {**UNTIL_NOW, **query}), page(entries))


def _read(state: dict[str, Any] | None = None, /, **settings: Any) -> EntrypointOutput:
    return read_stream(orb_config(**settings), LEDGER, SyncMode.incremental, state)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(event_id: str, **properties: Any) -> dict[str, Any]:
    return {"id": event_id, "timestamp": "2024-06-01T00:00:00Z", "properties": properties}


def _search(*event_ids: str) -> dict[str, Any]:
    """The search of events whose entries were all created at 2024-06-01T00:00:00Z: from a day before to an
    hour after."""
    return {
        "event_ids": list(event_ids),
        "timeframe_start": "2024-05-31T00:00:00Z",
        "timeframe_end": "2024-06-01T01:00:00Z",
    }


def test_given_customers_older_than_start_date_when_synced_then_every_customer_is_read_from_start_date(
    api: MockedApi,
) -> None:
    # Customers are never filtered by the start date; their entries are, and by nothing else (every entry
    # type and status).
    _customers(api, customer(1, "2021-01-01T00:00:00Z"), customer(2))
    for n in (1, 2):
        _ledger(api, f"cus_{n}", {"created_at[gte]": "2024-05-01T00:00:00Z"}, entry(n))
    output = _read(start_date="2024-05-01T00:00:00Z")
    assert not output.errors
    assert sorted((r["id"], r["customer_id"]) for r in records(output)) == [
        ("le_1", "cus_1"),
        ("le_2", "cus_2"),
    ]


def test_given_a_cursor_per_customer_and_currency_when_synced_then_each_resumes_less_the_lookback(
    api: MockedApi,
) -> None:
    """cus_1 resumes a day before its cursor; cus_2, never synced, is read from the beginning and fails: only
    the customer whose read completed moves its cursor."""
    _customers(api, customer(1), customer(2))
    _ledger(api, "cus_1", {"created_at[gte]": "2024-06-09T00:00:00Z"})
    api.get(request("customers/cus_2/credits/ledger", UNTIL_NOW), error(400))
    output = _read({"cus_1|credits": {"created_at": "2024-06-10T00:00:00Z"}}, lookback_window_days=1)
    assert stream_error(output, LEDGER).message.startswith(REJECTED)
    assert final_state(output) == {"cus_1|credits": {"created_at": NOW}}


def test_given_a_state_of_the_per_customer_form_when_read_then_it_is_the_credits_ledgers_cursor(
    api: MockedApi,
) -> None:
    _customers(api, customer(1))
    # No `currency`: credits is Orb's default ledger.
    _ledger(api, "cus_1", {"created_at[gte]": "2024-06-10T00:00:00Z"})
    output = _read({"cus_1": {"created_at": "2024-06-10T00:00:00Z"}})
    assert not output.errors
    assert final_state(output) == {"cus_1|credits": {"created_at": NOW}}


def test_given_a_customer_with_credits_in_credits_and_usd_when_read_then_both_ledgers_a_cursor_each(
    api: MockedApi,
) -> None:
    prices = ({"id": "p1", "currency": "compute", "credit_allocation": None},)
    _customers(api, {**customer(1), "currency": "USD"}, {**customer(2), "currency": "USD"}, prices=prices)
    # Each candidate besides credits is probed for a block: cus_1 holds USD credits, no compute credits;
    # cus_2 none besides credits.
    for customer_id, held in (("cus_1", "USD"), ("cus_2", None)):
        for currency in ("USD", "compute"):
            probe = {"currency": currency, "include_all_blocks": "true", "limit": "1"}
            api.get(
                request(f"customers/{customer_id}/credits", probe),
                page([{"id": "blk"}] if currency == held else []),
            )
    _ledger(api, "cus_1", {}, {**entry(1), "currency": "credits"})
    _ledger(api, "cus_1", {"currency": "USD"}, {**entry(2), "currency": "USD"})
    _ledger(api, "cus_2", {}, {**entry(3), "currency": "credits"})
    output = _read()
    assert not output.errors
    assert sorted((r["customer_id"], r["currency"]) for r in records(output)) == [
        ("cus_1", "USD"),
        ("cus_1", "credits"),
        ("cus_2", "credits"),
    ]
    assert final_state(output) == {
        "cus_1|USD": {"created_at": NOW},
        "cus_1|credits": {"created_at": NOW},
        "cus_2|credits": {"created_at": NOW},
    }


def test_given_a_pending_entry_when_synced_then_the_customers_cursor_stays_at_it(api: MockedApi) -> None:
    _customers(api, customer(1), customer(2))
    pending = entry(2, "2024-06-02T10:00:00.250Z", entry_status="pending")
    _ledger(api, "cus_1", {}, entry(3, "2024-06-03T00:00:00Z"), pending, entry(1))
    _ledger(api, "cus_2", {}, entry(4))
    output = _read()
    assert not output.errors
    assert final_state(output) == {
        "cus_1|credits": {"created_at": "2024-06-02T10:00:00Z"},
        "cus_2|credits": {"created_at": NOW},
    }


def test_given_event_keys_when_read_then_entries_with_events_carry_typed_properties_and_others_pass(
    api: MockedApi,
) -> None:
    _customers(api, customer(1))
    entries = [entry(1, event_id="ev_1"), entry(2, event_id="ev_2"), entry(3, entry_type="increment")]
    _ledger(api, "cus_1", {}, *entries)
    found = _event("ev_1", tokens="12.5", region=7, other="x")
    api.post(request("events/search", body=_search("ev_1", "ev_2")), answer({"data": [found]}))
    output = _read(**KEYS)
    by_id = {r["id"]: r for r in records(output)}
    assert by_id["le_1"]["event"] == {"id": "ev_1", "properties": {"tokens": 12.5, "region": "7"}}
    assert by_id["le_2"]["event"] == {"id": "ev_2", "properties": {"tokens": None, "region": None}}
    # Unchanged but for its customer (the CDK's output omits a record's top-level nulls: `event_id`).
    unchanged = {key: value for key, value in entry(3, entry_type="increment").items() if value is not None}
    assert by_id["le_3"] == {**unchanged, "customer_id": "cus_1"}
    (warning,) = warnings(output)
    assert "1 of 2 event ids" in warning
    schema = stream_schema(orb_config(**KEYS), LEDGER)
    event_properties = schema["properties"]["event"]["properties"]["properties"]["properties"]
    assert event_properties == {
        "tokens": {"type": ["null", "number"]},
        "region": {"type": ["null", "string"]},
    }
    for record in records(output):
        Draft7Validator(schema).validate(record)


class _AnySearch(dict[str, Any]):
    """A body HttpMocker matches every event search with (it compares a request's JSON body with this),
    recording each search."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[dict[str, Any]] = []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, dict) or set(other) != {"event_ids", "timeframe_start", "timeframe_end"}:
            return False
        self.made.append(other)
        return True


def test_given_many_entries_over_months_when_enriched_then_searches_hold_500_ids_and_30_days_at_most(
    api: MockedApi,
) -> None:
    _customers(api, customer(1))
    newest = datetime(2024, 6, 30, tzinfo=UTC)
    # 1,300 entries over 70 days, newest first as Orb lists them; some share an event.
    entries = [
        entry(n, _iso(newest - timedelta(hours=1.3 * n)), event_id=f"ev_{n // 2 if n < 200 else n}")
        for n in range(1300)
    ]
    pages(api, "customers/cus_1/credits/ledger", UNTIL_NOW, entries)
    searches = _AnySearch()
    # Every search is answered with every event: the connector keeps those it asked for.
    events = [_event(event_id, tokens=1) for event_id in sorted({e["event_id"] for e in entries})]
    api.mocker.post(request("events/search", body=searches), answer({"data": events}))
    output = _read(**KEYS)
    assert not output.errors
    assert sorted(ids(records(output))) == sorted(ids(entries))
    assert warnings(output) == []
    assert all(r["event"]["properties"] == {"tokens": 1, "region": None} for r in records(output))
    searched = [event_id for body in searches.made for event_id in body["event_ids"]]
    assert len(searched) == len(set(searched)) == len(events)
    by_event = {e["event_id"]: e["created_at"] for e in entries}
    for body in searches.made:
        assert len(body["event_ids"]) <= 500
        start = datetime.fromisoformat(body["timeframe_start"])
        end = datetime.fromisoformat(body["timeframe_end"])
        assert timedelta(0) < end - start <= timedelta(days=30)
        for event_id in body["event_ids"]:
            assert body["timeframe_start"] < by_event[event_id] < body["timeframe_end"]


def test_given_a_429_on_an_event_search_when_read_then_it_is_retried_after_retry_after(
    api: MockedApi, sleeps: list[float]
) -> None:
    _customers(api, customer(1))
    _ledger(api, "cus_1", {}, entry(1, event_id="ev_1"))
    limited = answer({"status": 429}, 429, {"Retry-After": "2"})
    api.post(
        request("events/search", body=_search("ev_1")),
        limited,
        answer({"data": [_event("ev_1", tokens=3, region="eu")]}),
    )
    output = _read(**KEYS)
    assert not output.errors
    assert sleeps == [2 + 1]
    assert records(output)[0]["event"]["properties"] == {"tokens": 3, "region": "eu"}


def test_given_no_event_keys_when_read_then_no_search_and_no_event_field(api: MockedApi) -> None:
    _customers(api, customer(1))
    _ledger(api, "cus_1", {}, entry(1, event_id="ev_1"))
    output = _read()
    assert not output.errors  # a search would be a request not mocked
    assert "event" not in records(output)[0]
    assert "event" not in stream_schema(orb_config(), LEDGER)["properties"]


def test_given_a_key_both_numeric_and_string_when_checked_then_config_error() -> None:
    raw = orb_config(numeric_event_properties_keys=["tokens"], string_event_properties_keys=["tokens"])
    parsed = BillingConfig.parse(raw)
    assert parsed.orb is not None
    with pytest.raises(AirbyteTracedException) as caught:
        check(parsed.orb, logging.getLogger("test"))
    assert caught.value.failure_type == FailureType.config_error
    assert "tokens" in str(caught.value.message)
    assert json.dumps(raw["orb"]["api_key"]) not in str(caught.value.message)
