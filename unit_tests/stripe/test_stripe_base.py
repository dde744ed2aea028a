"""Stripe's base stream against mocked HTTP: pagination, headers, windows, and one test per failure."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
import requests
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.config import BillingConfig
from source_billing.http.budget import Pacing
from source_billing.stripe import streams as stripe_streams
from source_billing.stripe.base import StripeStream

BASE = "https://api.stripe.test"
URL = f"{BASE}/v1/customers"
SECRET = "sk_test_SENTINELSECRET"


def _stream(**stripe: Any) -> StripeStream:
    config = BillingConfig.parse({"stripe": {"client_secret": SECRET, "api_base_url": BASE, **stripe}})
    assert config.stripe is not None
    return next(s for s in stripe_streams(config.stripe) if s.name == "customers")


def _customer(n: int, created: int = 1_700_000_000) -> dict[str, Any]:
    return {
        "id": f"cus_{n:05d}",
        "object": "customer",
        "created": created - n,
        "email": f"user{n}@example.com",
    }


def _page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/customers", "has_more": has_more, "data": items}


def _read_all(stream: StripeStream) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for stream_slice in stream.stream_slices(sync_mode=SyncMode.incremental):
        records.extend(dict(r) for r in stream.read_records(SyncMode.incremental, stream_slice=stream_slice))
        stream.close_slice(stream_slice)
    return records


def test_given_two_pages_when_read_then_follows_starting_after_and_sends_version_and_limit() -> None:
    stream = _stream(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    with requests_mock.Mocker() as mock:
        mock.get(
            URL,
            [
                {"json": _page([_customer(1), _customer(2)], has_more=True)},
                {"json": _page([_customer(3)], has_more=False)},
            ],
        )
        records = _read_all(stream)
        first, second = mock.request_history
    assert [r["id"] for r in records] == ["cus_00001", "cus_00002", "cus_00003"]
    assert first.qs["limit"] == ["100"]
    assert "starting_after" not in first.qs
    assert second.qs["starting_after"] == ["cus_00002"]
    assert first.headers["Stripe-Version"] == "2026-10-28.endive"
    assert first.headers["Authorization"] == f"Bearer {SECRET}"
    assert "Stripe-Account" not in first.headers
    # A list read shows objects as of the read: `updated` is the sync's time, not the creation time.
    (read_at,) = {r["updated"] for r in records}
    assert read_at >= pendulum.now("UTC").int_timestamp - 60
    assert all(r["stripe_account_id"] is None for r in records)


def test_given_connect_accounts_when_read_then_each_account_is_read_tagged_and_stated_separately() -> None:
    stream = _stream(
        account_ids=["acct_a", "acct_b"], start_date="2023-11-01T00:00:00Z", slice_range_days=3650
    )
    with requests_mock.Mocker() as mock:
        mock.get(URL, json=_page([_customer(1)], has_more=False))
        records = _read_all(stream)
        accounts = [r.headers["Stripe-Account"] for r in mock.request_history]
    assert accounts == ["acct_a", "acct_b"]
    assert [r["stripe_account_id"] for r in records] == ["acct_a", "acct_b"]
    assert set(stream.state) == {"acct_a", "acct_b"}


def test_given_recent_state_and_lookback_when_sliced_then_one_events_slice_from_cursor_less_lookback() -> (
    None
):
    stream = _stream(lookback_window_days=2, start_date="2020-01-01T00:00:00Z")
    saved = pendulum.now("UTC").subtract(days=5).int_timestamp
    stream.state = {"default": {"updated": saved}}
    (only,) = list(stream.stream_slices(sync_mode=SyncMode.incremental))
    assert only is not None
    assert only["events"] is True
    assert only["start"] == saved - 2 * 86_400


def test_given_state_older_than_events_retention_when_sliced_then_full_reread_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = _stream(start_date="2020-01-01T00:00:00Z")
    stream.state = {"default": {"updated": pendulum.now("UTC").subtract(days=31).int_timestamp}}
    slices = list(stream.stream_slices(sync_mode=SyncMode.incremental))
    assert not any(s and s.get("events") for s in slices)
    assert min(s["start"] for s in slices) == pendulum.datetime(2020, 1, 1).int_timestamp
    assert "older than Stripe keeps events (30 days)" in caplog.text
    assert "re-reading the stream in full" in caplog.text


def test_given_windows_when_sliced_then_the_newest_comes_first_then_the_others_from_the_oldest() -> None:
    stream = _stream(start_date="2020-01-01T00:00:00Z", slice_range_days=400)
    ends = [
        stream_slice["checkpoint"] for stream_slice in stream.stream_slices(sync_mode=SyncMode.incremental)
    ]
    assert len(ends) >= 3
    assert ends == [max(ends), *sorted(ends)[:-1]]


def test_given_windows_when_read_then_state_advances_to_each_completed_window_end() -> None:
    stream = _stream(start_date="2020-01-01T00:00:00Z", slice_range_days=1000)
    slices = sorted(stream.stream_slices(sync_mode=SyncMode.incremental), key=lambda s: s["checkpoint"])
    assert len(slices) >= 3
    with requests_mock.Mocker() as mock:
        mock.get(URL, json=_page([], has_more=False))
        first = slices[0]
        assert first is not None
        list(stream.read_records(SyncMode.incremental, stream_slice=first))
        assert stream.state == {}, "state moves only when the slice is closed"
        stream.close_slice(first)
        assert stream.state == {"default": {"updated": first["checkpoint"]}}
        assert mock.request_history[0].qs["created[gte]"] == [str(first["start"])]
        assert mock.request_history[0].qs["created[lt]"] == [str(first["end"])]


@pytest.mark.parametrize("throttled", [False, True])
def test_given_a_dense_window_when_its_first_pages_are_read_then_the_rest_is_split_off_for_other_workers(
    throttled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = _stream(start_date="2020-01-01T00:00:00Z", slice_range_days=3650)
    spawned: list[dict[str, Any]] = []
    stream.spawn = spawned.append
    # Held back by a limit that gives out all its slots, another worker would only wait for it.
    monkeypatch.setattr(stream.pacing, "throttled", lambda: throttled)
    (window,) = stream.stream_slices(sync_mode=SyncMode.incremental)
    newest = window["end"]
    first_pages = [_customer(n, created=newest) for n in range(1, 301)]  # 300 objects in the last 300 s
    reached = first_pages[-1]["created"]
    with requests_mock.Mocker() as mock:
        mock.get(
            URL,
            [{"json": _page(first_pages[page * 100 : (page + 1) * 100], has_more=True)} for page in range(3)]
            + [{"json": _page([_customer(301, newest)], False)}],
        )
        records = list(stream.read_records(SyncMode.incremental, stream_slice=window))
        fourth = mock.request_history[3]
    assert len(records) == 301
    assert fourth.qs["starting_after"] == ["cus_00300"]
    if throttled:
        assert not spawned
        assert fourth.qs["created[gte]"] == [str(window["start"])]
        return
    # This read keeps the next 40 pages at its first pages' density (100 objects in 100 s)...
    bound = reached - 40 * 100
    assert fourth.qs["created[gte]"] == [str(bound)]
    # ...and the years before them are one window of its own, split again once read if still dense.
    (older,) = spawned
    assert (older["start"], older["end"], older["checkpoint"]) == (window["start"], bound, bound)
    assert older["as_of"] == window["as_of"]
    # The window's state waits for its part.
    stream.close_slice(window)
    assert stream.state == {}
    stream.close_slice(older)
    assert stream.state == {"default": {"updated": window["checkpoint"]}}


def test_given_a_sparse_window_when_its_first_page_is_read_then_nothing_is_split_off() -> None:
    stream = _stream(start_date="2020-01-01T00:00:00Z", slice_range_days=3650)
    spawned: list[dict[str, Any]] = []
    stream.spawn = spawned.append
    (window,) = stream.stream_slices(sync_mode=SyncMode.incremental)
    span = window["end"] - window["start"]
    # The first page reaches back over half the window: about one more page to read.
    first_page = [_customer(n, created=window["end"] - n * span // 200) for n in range(1, 101)]
    with requests_mock.Mocker() as mock:
        mock.get(URL, [{"json": _page(first_page, has_more=True)}, {"json": _page([], has_more=False)}])
        list(stream.read_records(SyncMode.incremental, stream_slice=window))
        _, second = mock.request_history
    assert not spawned
    assert second.qs["created[gte]"] == [str(window["start"])]


def _pages_back(window: dict[str, Any], pages: int, of: int) -> list[list[dict[str, Any]]]:
    """The newest `pages` pages of a window holding `of` pages evenly, 100 objects each."""
    step = (window["end"] - window["start"]) // (of * 100)
    created = [window["end"] - (n + 1) * step for n in range(pages * 100)]
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
    held_by: str | None, throttled: bool, split_off: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = _stream(start_date="2020-01-01T00:00:00Z", slice_range_days=3650)
    spawned: list[dict[str, Any]] = []
    stream.spawn = spawned.append
    # Whether a limit held the stream back earlier in the sync, and whether it still does.
    monkeypatch.setattr(Pacing, "held_by", property(lambda _: held_by))
    monkeypatch.setattr(stream.pacing, "throttled", lambda: throttled)
    (window,) = stream.stream_slices(sync_mode=SyncMode.incremental)
    pages = _pages_back(window, 4, of=30)  # 30 pages: too few to split after the first three
    with requests_mock.Mocker() as mock:
        mock.get(
            URL,
            [{"json": _page(page, has_more=True)} for page in pages] + [{"json": _page([], has_more=False)}],
        )
        list(stream.read_records(SyncMode.incremental, stream_slice=window))
        fifth = mock.request_history[4]
    reached = pages[-1][-1]["created"]
    middle = window["start"] + (reached - window["start"]) // 2
    if not split_off:
        assert not spawned
        assert fifth.qs["created[gte]"] == [str(window["start"])]
        return
    # 26 pages left, read at once by two workers: this one the newer half, the other the older.
    (older,) = spawned
    assert (older["start"], older["end"], older["checkpoint"]) == (window["start"], middle, middle)
    assert fifth.qs["created[gte]"] == [str(middle)]
    stream.close_slice(window)
    assert stream.state == {}, "the window's state waits for its older half"
    stream.close_slice(older)
    assert stream.state == {"default": {"updated": window["checkpoint"]}}


@pytest.mark.parametrize(
    ("status", "body", "failure_type", "expected"),
    [
        (
            400,
            {"error": {"message": "Received unknown parameter: x", "type": "invalid_request_error"}},
            FailureType.system_error,
            "unknown parameter",
        ),
        (
            401,
            {
                "error": {
                    "message": "Invalid API Key provided: sk_test_****RET",
                    "type": "invalid_request_error",
                }
            },
            FailureType.config_error,
            "`stripe.client_secret`",
        ),
        (
            403,
            {
                "error": {
                    "message": "Having the 'rak_customer_read' permission would allow this request.",
                    "type": "invalid_request_error",
                }
            },
            FailureType.config_error,
            "rak_customer_read",
        ),
        (
            404,
            {
                "error": {
                    "message": "Unrecognized request URL (GET: /v1/customers).",
                    "type": "invalid_request_error",
                }
            },
            FailureType.config_error,
            "`stripe.api_base_url`",
        ),
    ],
)
def test_given_client_error_when_read_then_fails_at_once_with_specific_message(
    status: int, body: dict[str, Any], failure_type: FailureType, expected: str, sleeps: list[float]
) -> None:
    stream = _stream(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    with requests_mock.Mocker() as mock:
        mock.get(URL, status_code=status, json=body)
        with pytest.raises(AirbyteTracedException) as caught:
            _read_all(stream)
        assert mock.call_count == 1
    assert caught.value.failure_type == failure_type
    assert expected in str(caught.value.message)
    assert SECRET not in str(caught.value.message)
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        (
            {
                "status_code": 429,
                "headers": {"Retry-After": "7"},
                "json": {"error": {"message": "Too many requests"}},
            },
            7 + 1,
        ),
        ({"status_code": 429, "json": {"error": {"message": "Too many requests"}}}, None),
        ({"status_code": 500, "json": {"error": {"message": "boom"}}}, None),
        ({"status_code": 503, "json": {"error": {"message": "down"}}}, None),
        ({"exc": requests.exceptions.ConnectionError("connection reset by peer")}, None),
        ({"exc": requests.exceptions.ReadTimeout("read timed out")}, None),
        ({"status_code": 200, "text": '{"object": "list", "data": [{"id": "cus_1"'}, None),
    ],
)
def test_given_transient_failure_when_read_then_retried_after_backoff_and_succeeds(
    failure: dict[str, Any], expected_wait: float | None, sleeps: list[float]
) -> None:
    stream = _stream(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    with requests_mock.Mocker() as mock:
        mock.get(URL, [failure, {"json": _page([_customer(1)], has_more=False)}])
        records = _read_all(stream)
        assert mock.call_count == 2
    assert [r["id"] for r in records] == ["cus_00001"]
    assert len(sleeps) == 1
    if expected_wait is not None:
        assert sleeps[0] == expected_wait
    else:
        assert (
            1 < sleeps[0] <= 2
        )  # exponential backoff with jitter on the first attempt, plus the CDK's second


def test_given_persistent_503_when_read_then_bounded_retries_then_transient_error(
    sleeps: list[float],
) -> None:
    stream = _stream(start_date="2023-11-01T00:00:00Z", slice_range_days=3650)
    with requests_mock.Mocker() as mock:
        mock.get(URL, status_code=503, json={"error": {"message": "down"}})
        with pytest.raises(AirbyteTracedException) as caught:
            _read_all(stream)
        assert mock.call_count == 9  # the first attempt and 8 retries
    assert caught.value.failure_type == FailureType.transient_error
    assert len(sleeps) == 8
