"""Invoices and subscriptions through the connector's entry point: every status read, and the open ones
re-read each incremental sync so that changes after creation (paid, voided, ended, plan changed) reach the
destination."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from airbyte_cdk.models import SyncMode

from unit_tests.entrypoint import NOW, MockedApi, final_state, read_stream, records, stream_error, warnings
from unit_tests.orb.builders import (
    LIMIT,
    REJECTED,
    Query,
    answer,
    error,
    ids,
    invoice,
    orb_config,
    page,
    request,
)

ALL_STATUSES = ["draft", "issued", "paid", "synced", "void"]
OPEN_STATUSES = ["draft", "issued", "synced"]
SAVED = {"default": {"invoice_date": "2024-06-01T00:00:00Z"}, "open_ids": ["inv_1", "inv_2", "inv_3"]}


def _invoices(api: MockedApi, query: Query, listed: Sequence[dict[str, Any]] = ()) -> None:
    """An invoice listing with this query (besides the page size), answered with `listed`."""
    api.get(request("invoices", {**LIMIT, **query}), page(listed))


def _invoice_windows(api: MockedApi, bounds: Sequence[str | None], *listed: list[dict[str, Any]]) -> None:
    """The invoices' windows between consecutive bounds (the last one open when None), every status asked
    for by invoice date; the first ones answered with `listed` in turn, the others empty."""
    for n, (start, end) in enumerate(pairwise(bounds)):
        window = {"invoice_date[gte]": str(start)} | ({} if end is None else {"invoice_date[lt]": end})
        _invoices(api, {"status[]": ALL_STATUSES, **window}, listed[n] if n < len(listed) else [])


def _invoices_since_the_saved_cursor(api: MockedApi) -> None:
    """The yearly windows from the saved cursor see two invoices dated after it; the open listing (any date)
    sees the open ones; inv_2 was paid since the last sync."""
    dated = [invoice(10, "issued", "2024-07-01T00:00:00Z"), invoice(11, "paid", "2024-07-02T00:00:00Z")]
    bounds = ["2024-06-01T00:00:00Z", "2025-06-01T00:00:00Z", "2026-06-01T00:00:00Z", NOW]
    _invoice_windows(api, bounds, dated)
    listed = [
        invoice(1, "issued", "2024-01-01T00:00:00Z"),
        invoice(10, "issued", "2024-07-01T00:00:00Z"),
        invoice(20, "draft", "2099-01-01T00:00:00Z"),
    ]
    # Without a start date, the open listing has no date filter.
    _invoices(api, {"status[]": OPEN_STATUSES}, listed)


def test_given_invoices_when_read_then_every_status_is_asked_for_by_invoice_date(api: MockedApi) -> None:
    listed = [invoice(1, "void"), invoice(2, "draft")]
    # A full refresh's newest window is open.
    bounds = ["2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z", "2025-12-31T00:00:00Z", None]
    _invoice_windows(api, bounds, listed, listed, listed)
    output = read_stream(orb_config(start_date="2024-01-01T00:00:00Z"), "orb_invoices")
    assert not output.errors
    assert sorted(ids(records(output))) == sorted(["inv_1", "inv_2"] * 3)


def test_given_invoices_from_a_start_date_when_synced_then_yearly_windows_by_invoice_date(
    api: MockedApi,
) -> None:
    bounds = ["2022-01-01T00:00:00Z", "2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]
    _invoice_windows(api, [*bounds, "2024-12-31T00:00:00Z", "2025-12-31T00:00:00Z", NOW])
    # The open listing keeps to the start date.
    _invoices(api, {"status[]": OPEN_STATUSES, "invoice_date[gte]": bounds[0]})
    output = read_stream(orb_config(start_date=bounds[0]), "orb_invoices", SyncMode.incremental)
    assert not output.errors
    assert final_state(output) == {"default": {"invoice_date": NOW}, "open_ids": []}


def test_given_open_invoices_in_state_when_synced_then_changed_ones_come_again_once_and_are_untracked(
    api: MockedApi, sleeps: list[float]
) -> None:
    _invoices_since_the_saved_cursor(api)
    api.get(request("invoices/inv_2"), answer(invoice(2, "paid", "2024-02-01T00:00:00Z")))
    api.get(request("invoices/inv_3"), error(404))  # deleted since
    output = read_stream(orb_config(), "orb_invoices", SyncMode.incremental, SAVED)
    assert not output.errors
    # inv_10 is open and in a window: the window emits it, the open listing does not repeat it.
    assert sorted(ids(records(output))) == ["inv_1", "inv_10", "inv_11", "inv_2", "inv_20"]
    assert {r["id"]: r["status"] for r in records(output)}["inv_2"] == "paid"
    (warning,) = warnings(output)
    assert "inv_3" in warning
    assert final_state(output) == {
        "default": {"invoice_date": NOW},
        "open_ids": ["inv_1", "inv_10", "inv_20"],
    }
    assert sleeps == [], "a 404 for a deleted invoice is expected, not retried"


def test_given_the_open_listing_breaks_off_when_synced_then_the_state_keeps_the_saved_open_ids(
    api: MockedApi,
) -> None:
    """The windows complete, the open listing does not: the state saved must still know inv_2 and inv_3,
    which the next sync looks up again."""
    _invoices_since_the_saved_cursor(api)
    api.get(request("invoices/inv_2"), error(400))
    output = read_stream(orb_config(), "orb_invoices", SyncMode.incremental, SAVED)
    assert stream_error(output, "orb_invoices").message.startswith(REJECTED)
    assert final_state(output) == {
        "default": {"invoice_date": NOW},
        "open_ids": ["inv_1", "inv_10", "inv_2", "inv_3"],
    }


def test_given_a_full_refresh_when_read_then_there_is_no_open_listing(api: MockedApi) -> None:
    # Only the window is asked for: neither the open listing nor the saved open invoices.
    _invoice_windows(api, ["2026-06-01T00:00:00Z", None], [invoice(1, "issued")])
    output = read_stream(
        orb_config(start_date="2026-06-01T00:00:00Z"), "orb_invoices", SyncMode.full_refresh, SAVED
    )
    assert not output.errors
    assert ids(records(output)) == ["inv_1"]


def test_given_subscriptions_when_synced_then_active_and_upcoming_are_relisted_and_ended_ones_fetched(
    api: MockedApi,
) -> None:
    since = {"created_at[gte]": "2024-06-01T00:00:00Z", "created_at[lt]": NOW}
    api.get(request("subscriptions", {**LIMIT, **since}), page([]))
    # The start date still applies to the open listing.
    relisted = {
        "id": "sub_1",
        "status": "active",
        "created_at": "2024-02-01T00:00:00Z",
        "plan": {"id": "plan_new"},
    }
    opened: Query = {**LIMIT, "status[]": ["active", "upcoming"], "created_at[gte]": "2024-01-01T00:00:00Z"}
    api.get(request("subscriptions", opened), page([relisted]))
    api.get(
        request("subscriptions/sub_2"),
        answer({"id": "sub_2", "status": "ended", "created_at": "2024-03-01T00:00:00Z"}),
    )
    saved = {"default": {"created_at": "2024-06-01T00:00:00Z"}, "open_ids": ["sub_1", "sub_2"]}
    output = read_stream(
        orb_config(start_date="2024-01-01T00:00:00Z"), "orb_subscriptions", SyncMode.incremental, saved
    )
    assert not output.errors
    assert {r["id"]: r["status"] for r in records(output)} == {"sub_1": "active", "sub_2": "ended"}
    assert final_state(output) == {"default": {"created_at": NOW}, "open_ids": ["sub_1"]}
