"""Orb's base streams through the connector's entry point: pagination, windows, splitting a dense window,
retries, and the rate budget."""

from __future__ import annotations

import pendulum
import pytest
import requests
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.test.mock_http import HttpResponse

from source_billing.incremental.cursors import parse_iso_timestamp
from source_billing.orb.base import orb_budget, orb_timestamp
from unit_tests.entrypoint import NOW, MockedApi, final_state, read_stream, records
from unit_tests.orb.builders import LIMIT, answer, customer, ids, orb_config, page, pages, request

SINCE_2020 = {**LIMIT, "created_at[gte]": "2020-01-01T00:00:00Z"}
"""The query of a `created_at` window from the start date 2020-01-01."""


def test_given_two_pages_when_a_full_list_is_read_then_follows_the_cursor_with_limit_100_and_the_key(
    api: MockedApi,
) -> None:
    api.get(request("items", LIMIT), page([{"id": "item_1"}, {"id": "item_2"}], next_cursor="c2"))
    api.get(request("items", {**LIMIT, "cursor": "c2"}), page([{"id": "item_3"}]))
    output = read_stream(orb_config(), "orb_items")
    assert ids(records(output)) == ["item_1", "item_2", "item_3"]


def test_given_coupons_when_read_then_archived_ones_are_asked_for(api: MockedApi) -> None:
    api.get(request("coupons", {**LIMIT, "show_archived": "true"}), page([{"id": "cou_1"}]))
    output = read_stream(orb_config(), "orb_coupons")
    assert ids(records(output)) == ["cou_1"]


def test_given_a_start_date_when_read_then_created_at_filters_and_the_state_comes_after_the_records(
    api: MockedApi,
) -> None:
    api.get(
        request("customers", {**LIMIT, "created_at[gte]": "2022-01-01T00:00:00Z", "created_at[lt]": NOW}),
        page([customer(1)]),
    )
    output = read_stream(orb_config(start_date="2022-01-01T00:00:00Z"), "orb_customers", SyncMode.incremental)
    kinds = [
        message.type for message in output.get_message_iterator() if message.type in (Type.RECORD, Type.STATE)
    ]
    assert kinds == [Type.RECORD, Type.STATE], "the window's state moves once its records are out"
    assert final_state(output) == {"default": {"created_at": NOW}}


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        pytest.param(answer({"status": 429}, 429, {"Retry-After": "3"}), 3 + 1, id="429-retry-after"),
        # A body broken in transit: its compression cannot be decoded (a transport error, as a reset is).
        pytest.param(HttpResponse(b"\x00cut", 200, {"Content-Encoding": "gzip"}), None, id="broken-body"),
        pytest.param(HttpResponse('{"data": [{"id": "item_1"', 200), None, id="truncated-json"),
    ],
)
def test_given_transient_failure_when_read_then_retried_and_succeeds(
    api: MockedApi, failure: HttpResponse, expected_wait: float | None, sleeps: list[float]
) -> None:
    api.get(request("items", LIMIT), failure, page([{"id": "item_1"}]))
    output = read_stream(orb_config(), "orb_items")
    assert not output.errors
    assert ids(records(output)) == ["item_1"]
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


def test_given_a_dense_list_when_read_then_the_older_part_is_split_off_and_each_object_read_once(
    api: MockedApi,
) -> None:
    newest = parse_iso_timestamp(NOW).subtract(days=1)
    # 2,500 customers, three every 10 minutes (several in one second): 25 pages within the last 6 days.
    objects = [customer(n, orb_timestamp(newest.subtract(minutes=10 * (n // 3)))) for n in range(2_500)]
    # The window's own read keeps its filters page after page, through the 25 pages it keeps.
    pages(api, "customers", {**SINCE_2020, "created_at[lt]": NOW}, objects)
    # Its first page spans 330 minutes: it keeps 40 such pages' span below that page for its own read, and
    # splits off the years before as a window of their own (empty here: one request).
    split = orb_timestamp(newest.subtract(minutes=330 + 40 * 330))
    assert split < objects[-1]["created_at"]
    api.get(request("customers", {**SINCE_2020, "created_at[lt]": split}), page([]))
    output = read_stream(orb_config(start_date="2020-01-01T00:00:00Z"), "orb_customers", SyncMode.incremental)
    assert not output.errors
    assert sorted(ids(records(output))) == sorted(ids(objects))
    assert len(records(output)) == len(objects), "no object is read twice"
    assert final_state(output) == {"default": {"created_at": NOW}}


def test_given_a_sparse_list_when_read_then_one_window_reads_page_after_page(api: MockedApi) -> None:
    # 300 customers spread evenly since the start date: the first page reaches back a third of the way.
    start, end = pendulum.datetime(2020, 1, 1), parse_iso_timestamp(NOW)
    step = (end - start) / 301
    objects = [customer(n, orb_timestamp(end - step * (n + 1))) for n in range(300)]
    # Three pages of one window, and no window split off (it would be a request not mocked).
    pages(api, "customers", {**SINCE_2020, "created_at[lt]": NOW}, objects)
    output = read_stream(orb_config(start_date="2020-01-01T00:00:00Z"), "orb_customers", SyncMode.incremental)
    assert not output.errors
    assert sorted(ids(records(output))) == sorted(ids(objects))
