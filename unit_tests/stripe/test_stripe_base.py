"""Stripe's base stream through the connector's entry point: pagination, headers, windows, events, splitting
dense windows, and retries."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from source_billing.http.budget import Pacing
from source_billing.http.errors import MAX_RETRIES
from unit_tests.entrypoint import (
    NOW,
    MockedApi,
    final_state,
    read_stream,
    records,
    requests_sent,
    stream_error,
    warnings,
)

V1 = "https://api.stripe.com/v1"
SECRET = "sk_live_x_SENTINEL0key"
HEADERS = {"Stripe-Version": "2026-10-28.endive", "Authorization": f"Bearer {SECRET}"}
DAY = 86_400
SYNC = int(datetime.fromisoformat(NOW).timestamp())
"""The sync's second: where its windows end."""
NOV_2023 = int(datetime.fromisoformat("2023-11-01T00:00:00Z").timestamp())
JAN_2020 = int(datetime.fromisoformat("2020-01-01T00:00:00Z").timestamp())


def _read(state: Mapping[str, Any] | None = None, **stripe: Any) -> EntrypointOutput:
    """An incremental read of `customers`, on one worker: the slices are read one after the other, in the
    order the stream makes them."""
    config = {"stripe": {"client_secret": SECRET, **stripe}, "max_concurrency": 1}
    return read_stream(config, "customers", SyncMode.incremental, state)


def _customer(n: int, created: int = 1_700_000_000) -> dict[str, Any]:
    return {
        "id": f"cus_{n:05d}",
        "object": "customer",
        "created": created - n,
        "email": f"user{n}@example.com",
    }


def _page(items: list[dict[str, Any]], has_more: bool = False) -> HttpResponse:
    return HttpResponse(
        json.dumps({"object": "list", "url": "/v1/customers", "has_more": has_more, "data": items})
    )


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> HttpResponse:
    return HttpResponse(json.dumps({"error": {"message": message}}), status, headers or {})


def _listed(start: int, end: int, account: str | None = None, **query: str) -> HttpRequest:
    """The request of the customers created in [start, end), Stripe's largest page, in the pinned version."""
    headers = HEADERS if account is None else {**HEADERS, "Stripe-Account": account}
    window = {"created[gte]": str(start), "created[lt]": str(end), "limit": "100"}
    return HttpRequest(f"{V1}/customers", query_params={**window, **query}, headers=headers)


def _chain(api: MockedApi, end: int, pages: list[tuple[int, list[dict[str, Any]]]]) -> None:
    """A window's pages in turn, each asked from its own lower bound and after the last object of the page
    before; the last page says there are no more."""
    after: dict[str, str] = {}
    for index, (start, items) in enumerate(pages):
        api.get(_listed(start, end, **after), _page(items, has_more=index < len(pages) - 1))
        after = {"starting_after": items[-1]["id"]} if items else after


def _saved(updated: int) -> dict[str, Any]:
    return {"default": {"updated": updated}}


def _states(output: EntrypointOutput) -> list[dict[str, Any]]:
    """Every state the read saved, in order."""
    saved = []
    for message in output.state_messages:
        assert message.state is not None
        assert message.state.stream is not None
        saved.append(dict(message.state.stream.stream_state.__dict__))
    return saved


def _windows(api: MockedApi, days: int) -> list[tuple[int, int]]:
    """The windows of `days` from 2020-01-01 to the sync's second, oldest first, each answered empty."""
    windows = list(pairwise([*range(JAN_2020, SYNC, days * DAY), SYNC]))
    assert len(windows) >= 3
    for start, end in windows:
        api.get(_listed(start, end), _page([]))
    return windows


def test_given_two_pages_when_read_then_follows_starting_after_and_sends_version_and_limit(
    api: MockedApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(_listed(NOV_2023, SYNC), _page([_customer(1), _customer(2)], has_more=True))
    api.get(_listed(NOV_2023, SYNC, starting_after="cus_00002"), _page([_customer(3)]))
    with caplog.at_level(logging.DEBUG, logger="airbyte"):
        output = _read(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    read = records(output)
    assert [r["id"] for r in read] == ["cus_00001", "cus_00002", "cus_00003"]
    assert ["Stripe-Account" in headers for _, headers in requests_sent(caplog)] == [False, False]
    # A list read shows objects as of the read: `updated` is the sync's second, not the creation time.
    assert {r["updated"] for r in read} == {SYNC}
    assert all(r.get("stripe_account_id") is None for r in read)  # null: the output leaves it out


def test_given_connect_accounts_when_read_then_each_account_is_read_tagged_and_stated_separately(
    api: MockedApi,
) -> None:
    for account in ("acct_a", "acct_b"):
        api.get(_listed(NOV_2023, SYNC, account), _page([_customer(1)]))
    output = _read(account_ids=["acct_a", "acct_b"], start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    assert [r["stripe_account_id"] for r in records(output)] == ["acct_a", "acct_b"]
    assert final_state(output) == {"acct_a": {"updated": SYNC}, "acct_b": {"updated": SYNC}}


def test_given_recent_state_and_lookback_when_read_then_events_since_the_cursor_less_lookback(
    api: MockedApi,
) -> None:
    saved = SYNC - 5 * DAY
    changed = {**_customer(1), "email": "new@example.com"}
    event = {
        "id": "evt_1",
        "type": "customer.updated",
        "created": saved + 60,
        "api_version": HEADERS["Stripe-Version"],
        "data": {"object": changed},
    }
    since = {"created[gte]": str(saved - 2 * DAY), "created[lt]": str(SYNC), "limit": "100"}
    types = {"types[]": ["customer.created", "customer.deleted", "customer.updated"]}
    api.get(HttpRequest(f"{V1}/events", query_params={**since, **types}, headers=HEADERS), _page([event]))
    output = _read(_saved(saved), lookback_window_days=2, start_date="2020-01-01T00:00:00Z")
    # The platform account's records carry no `stripe_account_id` (null: the output leaves it out).
    assert records(output) == [{**changed, "updated": saved + 60, "is_deleted": False}]
    assert final_state(output) == _saved(SYNC)


def test_given_state_older_than_events_retention_when_read_then_full_reread_and_says_why(
    api: MockedApi,
) -> None:
    api.get(_listed(JAN_2020, SYNC), _page([]))  # from the start date: no events, no later lower bound
    output = _read(_saved(SYNC - 31 * DAY), start_date="2020-01-01T00:00:00Z")
    assert not output.errors
    (warning,) = [message for message in warnings(output) if "Stream customers" in message]
    assert "older than Stripe keeps events (30 days)" in warning
    assert "re-reading the stream in full" in warning
    assert final_state(output) == _saved(SYNC)


def test_given_windows_when_read_then_the_newest_comes_first_then_the_others_from_the_oldest(
    api: MockedApi, caplog: pytest.LogCaptureFixture
) -> None:
    windows = _windows(api, 400)
    with caplog.at_level(logging.DEBUG, logger="airbyte"):
        _read(start_date="2020-01-01T00:00:00Z", slice_range_days=400)
    starts = [int(parse_qs(urlsplit(url).query)["created[gte]"][0]) for url, _ in requests_sent(caplog)]
    assert starts == [windows[-1][0], *(start for start, _ in windows[:-1])]


def test_given_windows_when_read_then_state_advances_to_each_completed_window_end(api: MockedApi) -> None:
    windows = _windows(api, 1000)
    output = _read(start_date="2020-01-01T00:00:00Z", slice_range_days=1000)
    # The newest window, read first, moves nothing while an older one is unread; then each window read moves
    # the state to its end, and the last to the newest's.
    assert _states(output) == [{}, *(_saved(end) for _, end in windows[:-2]), _saved(SYNC)]


@pytest.mark.parametrize("throttled", [False, True])
def test_given_a_dense_window_when_its_first_pages_are_read_then_the_rest_is_split_off_for_other_workers(
    api: MockedApi, throttled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Held back by a limit that gives out all its slots, another worker would only wait for it.
    monkeypatch.setattr(Pacing, "throttled", lambda _: throttled)
    first_pages = [_customer(n, created=SYNC) for n in range(1, 301)]  # 300 objects in the last 300 s
    reached = first_pages[-1]["created"]
    # This read keeps the next 40 pages at its first pages' density (100 objects in 100 s)...
    bound = JAN_2020 if throttled else reached - 40 * 100
    pages = [(JAN_2020, first_pages[page * 100 : (page + 1) * 100]) for page in range(3)]
    _chain(api, SYNC, [*pages, (bound, [_customer(301, SYNC)])])
    if not throttled:
        # ...and the years before them are one window of its own, read as of the same second.
        api.get(_listed(JAN_2020, bound), _page([_customer(302, bound)]))
    output = _read(start_date="2020-01-01T00:00:00Z", slice_range_days=3650)
    read = records(output)
    assert len(read) == (301 if throttled else 302)
    assert {r["updated"] for r in read} == {SYNC}
    # The window's state waits for its part.
    assert _states(output) == ([_saved(SYNC)] if throttled else [{}, _saved(SYNC)])


def test_given_a_sparse_window_when_its_first_page_is_read_then_nothing_is_split_off(api: MockedApi) -> None:
    span = SYNC - JAN_2020
    # The first page reaches back over half the window: about one more page to read.
    first_page = [_customer(n, created=SYNC - n * span // 200) for n in range(1, 101)]
    _chain(api, SYNC, [(JAN_2020, first_page), (JAN_2020, [])])
    output = _read(start_date="2020-01-01T00:00:00Z", slice_range_days=3650)
    assert not output.errors  # a part split off would ask for a window nobody answers
    assert len(records(output)) == 100
    assert _states(output) == [_saved(SYNC)]


def _pages_back(pages: int, of: int) -> list[list[dict[str, Any]]]:
    """The newest `pages` pages of the window from 2020-01-01 to the sync's second, when it holds `of` pages
    evenly, 100 objects each."""
    step = (SYNC - JAN_2020) // (of * 100)
    created = [SYNC - (n + 1) * step for n in range(pages * 100)]
    objects = [{**_customer(n), "created": when} for n, when in enumerate(created, start=1)]
    return [objects[page * 100 : (page + 1) * 100] for page in range(pages)]


@pytest.mark.parametrize(
    ("held_by", "throttled", "split_off"),
    [
        ("the account's limit", False, True),
        ("the account's limit", True, False),  # still held back: another worker would not read faster
        (None, False, False),  # never held back: no limit in sight, each split would cost a request
    ],
)
def test_given_a_read_with_many_pages_left_when_its_limits_have_room_then_it_hands_on_the_older_half(
    api: MockedApi, held_by: str | None, throttled: bool, split_off: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether a limit held the stream back earlier in the sync, and whether it still does.
    monkeypatch.setattr(Pacing, "held_by", property(lambda _: held_by))
    monkeypatch.setattr(Pacing, "throttled", lambda _: throttled)
    pages = _pages_back(4, of=30)  # 30 pages: too few to split after the first three
    reached = pages[-1][-1]["created"]
    middle = JAN_2020 + (reached - JAN_2020) // 2
    # 26 pages left, read at once by two workers: this one the newer half, the other the older.
    _chain(api, SYNC, [*((JAN_2020, page) for page in pages), (middle if split_off else JAN_2020, [])])
    if split_off:
        api.get(_listed(JAN_2020, middle), _page([]))
    output = _read(start_date="2020-01-01T00:00:00Z", slice_range_days=3650)
    assert len(records(output)) == 400
    # The window's state waits for its older half.
    assert _states(output) == ([{}, _saved(SYNC)] if split_off else [_saved(SYNC)])


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        pytest.param(
            _error(429, "Too many requests", {"Retry-After": "7"}), 7 + 1, id="429 with Retry-After"
        ),
        pytest.param(_error(429, "Too many requests"), None, id="429 without"),
        pytest.param(_error(500, "boom"), None, id="500"),
        pytest.param(_error(503, "down"), None, id="503"),
        # A body broken in transit: its compression cannot be decoded (a transport error, as a reset is).
        pytest.param(HttpResponse(b"\x00cut", 200, {"Content-Encoding": "gzip"}), None, id="broken body"),
        pytest.param(
            HttpResponse('{"object": "list", "data": [{"id": "cus_1"', 200), None, id="truncated body"
        ),
    ],
)
def test_given_transient_failure_when_read_then_retried_after_backoff_and_succeeds(
    api: MockedApi, failure: HttpResponse, expected_wait: float | None, sleeps: list[float]
) -> None:
    api.get(_listed(NOV_2023, SYNC), failure, _page([_customer(1)]))
    output = _read(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    assert not output.errors
    assert [r["id"] for r in records(output)] == ["cus_00001"]
    assert len(sleeps) == 1
    # Retry-After and the CDK's second; else exponential backoff with jitter on the first attempt, and it.
    assert sleeps[0] == expected_wait if expected_wait is not None else 1 < sleeps[0] <= 2


def test_given_persistent_503_when_read_then_bounded_retries_then_transient_error(
    api: MockedApi, sleeps: list[float]
) -> None:
    # The first attempt and 8 retries.
    api.get(_listed(NOV_2023, SYNC), _error(503, "down"), times=MAX_RETRIES + 1)
    output = _read(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    assert stream_error(output, "customers").failure_type == FailureType.transient_error
    assert len(sleeps) == MAX_RETRIES == 8
