"""Invoices and subscriptions: every status read, and the open ones re-read each incremental sync so that
changes after creation (paid, voided, ended, plan changed) reach the destination."""

from __future__ import annotations

from typing import Any

import requests_mock
from airbyte_cdk.models import Level, SyncMode

from unit_tests.orb.builders import V1, ids, invoice, page, read_slices, stream

ALL_STATUSES = ["draft", "issued", "paid", "synced", "void"]
SAVED = {"default": {"invoice_date": "2024-06-01T00:00:00Z"}, "open_ids": ["inv_1", "inv_2", "inv_3"]}


def _in_window(value: str, query: dict[str, list[str]]) -> bool:
    low, high = query.get("invoice_date[gte]", [""])[0], query.get("invoice_date[lt]", ["9"])[0]
    return low <= value < high


def _invoices_api(mock: requests_mock.Mocker) -> None:
    """Windows (every status) see two invoices dated after the cursor; the open listing sees the open ones
    of any date; inv_2 was paid since the last sync and inv_3 deleted."""

    def listing(request: Any, context: Any) -> dict[str, Any]:
        if request.qs["status[]"] == ALL_STATUSES:
            dated = [
                invoice(10, "issued", "2024-07-01T00:00:00Z"),
                invoice(11, "paid", "2024-07-02T00:00:00Z"),
            ]
            return page([i for i in dated if _in_window(i["invoice_date"], request.qs)])
        assert request.qs["status[]"] == ["draft", "issued", "synced"]
        assert not any(key.startswith("invoice_date") for key in request.qs)
        return page(
            [
                invoice(1, "issued", "2024-01-01T00:00:00Z"),
                invoice(10, "issued", "2024-07-01T00:00:00Z"),
                invoice(20, "draft", "2099-01-01T00:00:00Z"),
            ]
        )

    mock.get(f"{V1}/invoices", json=listing)
    mock.get(f"{V1}/invoices/inv_2", json=invoice(2, "paid", "2024-02-01T00:00:00Z"))
    mock.get(f"{V1}/invoices/inv_3", status_code=404, json={"status": 404, "title": "Not found"})


def test_given_invoices_when_read_then_every_status_is_asked_for_by_invoice_date() -> None:
    invoices = stream("orb_invoices", start_date="2024-01-01T00:00:00Z")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/invoices", json=page([invoice(1, "void"), invoice(2, "draft")]))
        records, _ = read_slices(invoices, SyncMode.full_refresh)
        queries = [request.qs for request in mock.request_history]
    assert ids(records) == ["inv_1", "inv_2"] * len(queries)
    assert all(query["status[]"] == ALL_STATUSES for query in queries)
    assert queries[0]["invoice_date[gte]"] == ["2024-01-01T00:00:00Z"]
    assert "invoice_date[lt]" not in queries[-1], "a full refresh's newest window is open"


def test_given_open_invoices_in_state_when_synced_then_changed_ones_come_again_once_and_are_untracked(
    sleeps: list[float],
) -> None:
    invoices = stream("orb_invoices")
    invoices.state = dict(SAVED)
    with requests_mock.Mocker(case_sensitive=True) as mock:
        _invoices_api(mock)
        records, messages = read_slices(invoices)
    # inv_10 is open and in a window: the window emits it, the open listing does not repeat it.
    assert sorted(ids(records)) == ["inv_1", "inv_10", "inv_11", "inv_2", "inv_20"]
    assert {r["id"]: r["status"] for r in records}["inv_2"] == "paid"
    (warning,) = messages
    assert warning.log is not None
    assert warning.log.level == Level.WARN
    assert "inv_3" in warning.log.message
    assert invoices.state["open_ids"] == ["inv_1", "inv_10", "inv_20"]
    assert sleeps == [], "a 404 for a deleted invoice is expected, not retried"


def test_given_the_open_listing_not_yet_closed_when_state_is_emitted_then_it_keeps_the_saved_open_ids() -> (
    None
):
    invoices = stream("orb_invoices")
    invoices.state = dict(SAVED)
    refresh, *windows = list(invoices.stream_slices(sync_mode=SyncMode.incremental))
    assert refresh is not None
    assert refresh["tracked"] == ["inv_1", "inv_2", "inv_3"]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        _invoices_api(mock)
        for window in windows:
            assert window is not None
            list(invoices.read_records(SyncMode.full_refresh, stream_slice=window))
            invoices.close_slice(window)
        # A sync that stops here must resume still knowing inv_2 and inv_3.
        assert invoices.state["open_ids"] == ["inv_1", "inv_10", "inv_2", "inv_3"]
        list(invoices.read_records(SyncMode.full_refresh, stream_slice=refresh))
        assert invoices.state["open_ids"] == ["inv_1", "inv_10", "inv_2", "inv_3"], "only close commits"
        invoices.close_slice(refresh)
    assert invoices.state["open_ids"] == ["inv_1", "inv_10", "inv_20"]
    assert invoices.state["default"]["invoice_date"] == windows[-1]["checkpoint"]


def test_given_a_full_refresh_when_sliced_then_there_is_no_open_listing() -> None:
    invoices = stream("orb_invoices")
    invoices.state = dict(SAVED)
    slices = list(invoices.stream_slices(sync_mode=SyncMode.full_refresh))
    assert all(s is not None and "refresh" not in s for s in slices)


def test_given_subscriptions_when_synced_then_active_and_upcoming_are_relisted_and_ended_ones_fetched() -> (
    None
):
    subscriptions = stream("orb_subscriptions", start_date="2024-01-01T00:00:00Z")
    subscriptions.state = {"default": {"created_at": "2024-06-01T00:00:00Z"}, "open_ids": ["sub_1", "sub_2"]}

    def listing(request: Any, context: Any) -> dict[str, Any]:
        if "status[]" not in request.qs:
            return page([])
        assert request.qs["status[]"] == ["active", "upcoming"]
        assert request.qs["created_at[gte]"] == ["2024-01-01T00:00:00Z"], "start_date still applies"
        plan = {"id": "plan_new"}
        return page([{"id": "sub_1", "status": "active", "created_at": "2024-02-01T00:00:00Z", "plan": plan}])

    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=listing)
        mock.get(
            f"{V1}/subscriptions/sub_2",
            json={"id": "sub_2", "status": "ended", "created_at": "2024-03-01T00:00:00Z"},
        )
        records, _ = read_slices(subscriptions)
    assert {r["id"]: r["status"] for r in records} == {"sub_1": "active", "sub_2": "ended"}
    assert subscriptions.state["open_ids"] == ["sub_1"]
