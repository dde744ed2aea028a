"""Orb's base streams against mocked HTTP: pagination, windows, the rate budget, one test per failure."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
import requests
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit

from source_billing.orb.base import orb_budget, orb_timestamp, parse_orb_timestamp
from unit_tests.orb.builders import API_KEY, V1, customer, ids, page, read_slices, stream


def test_given_two_pages_when_a_full_list_is_read_then_follows_the_cursor_with_limit_100_and_the_key() -> (
    None
):
    items = stream("orb_items")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(
            f"{V1}/items",
            [
                {"json": page([{"id": "item_1"}, {"id": "item_2"}], next_cursor="c2")},
                {"json": page([{"id": "item_3"}])},
            ],
        )
        records, _ = read_slices(items, SyncMode.full_refresh)
        first, second = mock.request_history
    assert ids(records) == ["item_1", "item_2", "item_3"]
    assert first.qs == {"limit": ["100"]}
    assert second.qs == {"limit": ["100"], "cursor": ["c2"]}
    assert first.headers["Authorization"] == f"Bearer {API_KEY}"


def test_given_coupons_when_read_then_archived_ones_are_asked_for() -> None:
    coupons = stream("orb_coupons")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/coupons", json=page([{"id": "cou_1"}]))
        read_slices(coupons, SyncMode.full_refresh)
        assert mock.request_history[0].qs["show_archived"] == ["true"]


def test_given_windows_when_read_then_created_at_filters_and_state_moves_only_on_close() -> None:
    customers = stream("orb_customers", start_date="2022-01-01T00:00:00Z")
    slices = list(customers.stream_slices(sync_mode=SyncMode.incremental))
    first = slices[0]
    assert first is not None
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1)]))
        list(customers.read_records(SyncMode.full_refresh, stream_slice=first))
        assert customers.state == {}
        customers.close_slice(first)
        query = mock.request_history[0].qs
    assert customers.state == {"default": {"created_at": first["checkpoint"]}}
    assert query["created_at[gte]"] == ["2022-01-01T00:00:00Z"]
    assert query["created_at[lt]"] == [first["end"]]


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        ({"status_code": 429, "headers": {"Retry-After": "3"}, "json": {"status": 429}}, 3 + 1),
        ({"status_code": 500, "json": {"status": 500}}, None),
        ({"exc": requests.exceptions.ConnectionError("reset")}, None),
        ({"status_code": 200, "text": '{"data": [{"id": "item_1"'}, None),
    ],
)
def test_given_transient_failure_when_read_then_retried_and_succeeds(
    failure: dict[str, Any], expected_wait: float | None, sleeps: list[float]
) -> None:
    items = stream("orb_items")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/items", [failure, {"json": page([{"id": "item_1"}])}])
        records, _ = read_slices(items, SyncMode.full_refresh)
        assert mock.call_count == 2
    assert ids(records) == ["item_1"]
    assert len(sleeps) == 1
    if expected_wait is not None:
        assert sleeps[0] == expected_wait


def _request(url: str, method: str = "GET") -> requests.PreparedRequest:
    return requests.Request(method, url).prepare()


@pytest.mark.parametrize("base", ["https://api.withorb.com", "http://127.0.0.1:8080/orb"])
def test_given_orbs_budget_when_ledger_and_usage_are_called_then_they_share_10_per_second_within_the_100(
    base: str,
) -> None:
    budget = orb_budget(base)
    heavy = [
        f"{base}/v1/customers/cus_1/credits/ledger?limit=100",
        f"{base}/v1/subscriptions/sub_1/usage?granularity=day",
    ]
    # Budgets space calls evenly: a ledger call leaves no slot free at once for usage (their shared 10/s)...
    budget.acquire_call(_request(heavy[0]), block=False)
    with pytest.raises(CallRateLimitHit):
        budget.acquire_call(_request(heavy[1]), block=False)
    # ...nor for any other call (every request counts toward the 100/s, the ledger's included).
    with pytest.raises(CallRateLimitHit):
        budget.acquire_call(_request(f"{base}/v1/events/search", "POST"), block=False)
    ledger, everything = (layer.per_second for layer in budget.matching(_request(heavy[1])))
    assert (ledger, everything) == (10, 100)
    assert [layer.per_second for layer in budget.matching(_request(f"{base}/v1/customers"))] == [100]


def _listing(objects: list[dict[str, Any]]) -> Any:
    """Orb's list as a mocked endpoint: newest first, `created_at[gte|lt]` to the second, `cursor` as the
    position in the filtered list (the filters of the first request stay with the cursor)."""
    ordered = sorted(objects, key=lambda o: o["created_at"], reverse=True)

    def answer(request: requests.PreparedRequest, context: Any) -> dict[str, Any]:
        query = request.qs  # type: ignore[attr-defined]
        low, high = (
            query.get("created_at[gte]", [""])[0].upper(),
            query.get("created_at[lt]", [""])[0].upper(),
        )
        chosen = [o for o in ordered if o["created_at"] >= low and (not high or o["created_at"] < high)]
        at = int(query.get("cursor", ["0"])[0])
        rest = chosen[at : at + 100]
        more = at + 100 < len(chosen)
        return page(rest, next_cursor=str(at + 100) if more else None)

    return answer


def _read_with_splits(
    target: Any, windows: list[Any] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read every window (those given, or the stream's), and every window split off while reading, closing
    each as the framework does; the records and the split-off windows."""
    queued = (
        list(windows) if windows is not None else list(target.stream_slices(sync_mode=SyncMode.incremental))
    )
    spawned: list[dict[str, Any]] = []
    target.spawn = lambda part: (queued.append(part), spawned.append(part))
    records: list[dict[str, Any]] = []
    while queued:
        window = queued.pop(0)
        records.extend(dict(r) for r in target.read_records(SyncMode.full_refresh, stream_slice=window))
        target.close_slice(window)
    return records, spawned


def test_given_a_dense_list_when_read_then_split_off_windows_and_the_first_read_each_object_once() -> None:
    customers = stream("orb_customers", start_date="2020-01-01T00:00:00Z")
    (window,) = customers.stream_slices(sync_mode=SyncMode.incremental)
    assert window is not None
    newest = parse_orb_timestamp(window["end"]).subtract(days=1)
    # 2,500 customers, three every 10 minutes (several in one second): 25 pages within the last 6 days.
    objects = [customer(n, orb_timestamp(newest.subtract(minutes=10 * (n // 3)))) for n in range(2_500)]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=_listing(objects))
        # The window sliced above, not slices made again (a second later, they would end elsewhere).
        records, spawned = _read_with_splits(customers, [window])
        own = [r.qs for r in mock.request_history if r.qs.get("created_at[lt]") == [window["end"]]]
    assert sorted(ids(records)) == sorted(ids(objects))
    assert len(records) == len(objects), "no object is read twice"
    # The years before the next 40 pages are one window of their own (empty here: one request).
    (older,) = spawned
    assert (older["start"], older["end"]) == (window["start"], older["checkpoint"])
    assert parse_orb_timestamp(older["end"]) < parse_orb_timestamp(objects[-1]["created_at"])
    # The window's own read kept its filters page after page, through the 25 pages it kept.
    assert [q.get("cursor") for q in own] == [None, *[[str(100 * page)] for page in range(1, 25)]]
    assert {q["created_at[gte]"][0] for q in own} == {"2020-01-01T00:00:00Z"}
    assert customers.state == {"default": {"created_at": window["checkpoint"]}}


def test_given_a_sparse_list_when_read_then_one_window_reads_page_after_page() -> None:
    customers = stream("orb_customers", start_date="2020-01-01T00:00:00Z")
    (window,) = customers.stream_slices(sync_mode=SyncMode.incremental)
    assert window is not None
    # 300 customers spread evenly since the start date: the first page reaches back a third of the way.
    start, end = pendulum.datetime(2020, 1, 1), parse_orb_timestamp(window["end"])
    step = (end - start) / 301
    objects = [customer(n, orb_timestamp(end - step * (n + 1))) for n in range(300)]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=_listing(objects))
        records, spawned = _read_with_splits(customers)
        queries = [r.qs for r in mock.request_history]
    assert not spawned
    assert sorted(ids(records)) == sorted(ids(objects))
    assert [q.get("cursor") for q in queries] == [None, ["100"], ["200"]]


def test_given_invoices_when_sliced_then_yearly_windows_by_invoice_date() -> None:
    invoices = stream("orb_invoices", start_date="2022-01-01T00:00:00Z")
    windows = [s for s in invoices.stream_slices(sync_mode=SyncMode.incremental) if s and "start" in s]
    assert len(windows) >= 4
    assert (windows[0]["start"], windows[0]["end"]) == ("2022-01-01T00:00:00Z", "2023-01-01T00:00:00Z")
