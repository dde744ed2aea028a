"""The per-API circuit breaker: an API that answers nothing for a bounded time, or a request that gave up on
transport failures, stops the rest of that API's part of the sync.

The breaker's own scenarios run on a fake clock, which also moves by each wait the CDK's retry handler asks
for: requests go through the CDK's `HttpClient`, its retries, the connector's error handler and backoff, and
the breaker's transport adapter, to a fake network whose every attempt takes a read timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.adapters import BaseAdapter

from source_billing import SourceBilling
from source_billing.http.base_stream import ApiStream
from source_billing.http.breaker import MIN_FAILURES, SILENCE, CircuitBreaker, gave_up_on_transport
from source_billing.http.errors import (
    MAX_RETRIES,
    READ_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT,
    ApiErrorHandler,
    RetryAfterBackoff,
)
from source_billing.orb.base import orb_error_mapping

ORB = "https://api.orb.test"
STRIPE = "https://api.stripe.test"
CONFIG = {
    "orb": {"api_key": "orb_SENTINEL", "api_base_url": ORB},
    "stripe": {"client_secret": "sk_test_SENTINEL", "api_base_url": STRIPE, "slice_range_days": 3650},
}
EMPTY_ORB_PAGE = {"data": [], "pagination_metadata": {"has_more": False, "next_cursor": None}}
EMPTY_STRIPE_PAGE = {"object": "list", "has_more": False, "data": []}


@pytest.fixture
def streams() -> dict[str, ApiStream]:
    """One sync's streams of Orb and Stripe, by name (each API's streams share its breaker)."""
    return {
        stream.name: stream for stream in SourceBilling().streams(CONFIG) if isinstance(stream, ApiStream)
    }


def _read(stream: ApiStream) -> list[Any]:
    """Every slice of a full refresh, read as the concurrent framework reads them."""
    return [
        record
        for stream_slice in stream.stream_slices(sync_mode=SyncMode.full_refresh)
        for record in stream.read_records(SyncMode.full_refresh, stream_slice=stream_slice)
    ]


def _give_up(stream: ApiStream) -> AirbyteTracedException:
    with pytest.raises(AirbyteTracedException) as caught:
        _read(stream)
    return caught.value


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ReadTimeout,
        requests.exceptions.ConnectionError,
    ],
)
def test_given_a_request_that_gave_up_on_transport_failures_when_its_api_is_read_again_then_it_fails_at_once(
    streams: dict[str, ApiStream], failure: type[Exception], sleeps: list[float]
) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{ORB}/v1/items", exc=failure)
        mock.get(f"{ORB}/v1/customers", json=EMPTY_ORB_PAGE)
        first = _give_up(streams["orb_items"])
        assert mock.call_count == 9  # the first attempt and 8 retries
        second = _give_up(streams["orb_customers"])
        assert mock.call_count == 9  # nothing more sent to Orb
    assert first.failure_type == FailureType.transient_error
    assert gave_up_on_transport(first)
    assert second.failure_type == FailureType.transient_error
    assert second.message is not None
    assert second.message.startswith("Stream orb_customers was not read in full: Orb stopped answering")
    assert "Retry the sync later" in second.message


def test_given_an_open_breaker_when_every_slice_of_a_stream_starts_then_each_fails_before_any_request(
    streams: dict[str, ApiStream], sleeps: list[float]
) -> None:
    # Each slice must fail, not end empty: a slice that ended would be closed, and its window taken as read.
    invoices = streams["orb_invoices"]
    slices = list(invoices.stream_slices(sync_mode=SyncMode.incremental))  # open ones, then yearly windows
    assert len(slices) > 2
    with requests_mock.Mocker() as mock:
        mock.get(f"{ORB}/v1/items", exc=requests.exceptions.ConnectTimeout)
        _give_up(streams["orb_items"])
        sent = mock.call_count
        for stream_slice in slices:
            with pytest.raises(AirbyteTracedException) as caught:
                list(invoices.read_records(SyncMode.full_refresh, stream_slice=stream_slice))
            assert caught.value.failure_type == FailureType.transient_error
        assert mock.call_count == sent


def test_given_orb_stopped_answering_when_stripe_is_read_then_stripe_carries_on(
    streams: dict[str, ApiStream], sleeps: list[float]
) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{ORB}/v1/items", exc=requests.exceptions.ConnectTimeout)
        mock.get(f"{STRIPE}/v1/customers", json=EMPTY_STRIPE_PAGE)
        _give_up(streams["orb_items"])
        assert _read(streams["customers"]) == []
        assert mock.request_history[-1].url.startswith(f"{STRIPE}/v1/customers")


@pytest.mark.parametrize(
    ("answer", "failure_type"),
    [
        ({"status_code": 503, "json": {"detail": "down"}}, FailureType.transient_error),
        ({"status_code": 500, "json": {"detail": "boom"}}, FailureType.transient_error),
        ({"status_code": 429, "json": {"detail": "slow down"}}, FailureType.transient_error),
        ({"status_code": 403, "json": {"detail": "no"}}, FailureType.config_error),
        ({"status_code": 404, "json": {"detail": "no such path"}}, FailureType.config_error),
    ],
)
def test_given_a_request_that_failed_with_an_http_answer_when_another_stream_is_read_then_it_is_sent(
    streams: dict[str, ApiStream], answer: dict[str, Any], failure_type: FailureType, sleeps: list[float]
) -> None:
    # The API answered: it is up, and the failure concerns that one stream.
    with requests_mock.Mocker() as mock:
        mock.get(f"{ORB}/v1/items", **answer)
        mock.get(f"{ORB}/v1/customers", json=EMPTY_ORB_PAGE)
        failed = _give_up(streams["orb_items"])
        sent = mock.call_count
        assert _read(streams["orb_customers"]) == []
        assert mock.call_count > sent
    assert failed.failure_type == failure_type
    assert not gave_up_on_transport(failed)


def test_given_a_new_breaker_when_checked_then_it_lets_slices_through() -> None:
    breaker = CircuitBreaker("Orb")
    breaker.check("orb_items")
    breaker.record(AirbyteTracedException(message="not a transport failure"))
    breaker.record(ValueError("not from a request"))
    assert not breaker.is_open


LOGGER = logging.getLogger("airbyte")
BOUND = SILENCE.total_seconds()


class Clock:
    """A monotonic clock that moves only when told, and by every retry wait (`wait`), which runs `on_wait`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.on_wait: Callable[[], None] = lambda: None

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.advance(seconds)
        self.on_wait()


class Network(BaseAdapter):
    """The API as the connector's transport sees it: each attempt takes a read timeout on the clock and
    gets the next outcome (a `requests` exception raised, or an HTTP status answered), the last repeated."""

    def __init__(self, clock: Clock, outcomes: Sequence[type[requests.RequestException] | int]) -> None:
        super().__init__()
        self._clock = clock
        self._outcomes = outcomes
        self.sent = 0

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        outcome = self._outcomes[min(self.sent, len(self._outcomes) - 1)]
        self.sent += 1
        self._clock.advance(READ_TIMEOUT_SECONDS)
        if isinstance(outcome, int):
            return requests_mock.create_response(request, status_code=outcome, json={"data": []})
        raise outcome(request=request)

    def close(self) -> None:
        pass


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The breaker's clock; the CDK's retry waits move it instead of sleeping."""
    fake = Clock()
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=fake.wait, time=time.time))
    return fake


def _client(breaker: CircuitBreaker, network: Network) -> HttpClient:
    """An HTTP client wired as a stream's: the breaker's adapter over the network, Orb's errors, backoff."""
    session = requests.Session()
    session.mount("https://", breaker.adapter(network))
    handler = ApiErrorHandler(LOGGER, "Orb", orb_error_mapping(), lambda _: None)
    return HttpClient("orb_items", LOGGER, handler, backoff_strategy=RetryAfterBackoff(), session=session)


def _get(client: HttpClient) -> requests.Response:
    _, response = client.send_request("GET", f"{ORB}/v1/items", request_kwargs={"timeout": REQUEST_TIMEOUT})
    return response


def _stopped(client: HttpClient) -> AirbyteTracedException:
    with pytest.raises(AirbyteTracedException) as caught:
        _get(client)
    return caught.value


def test_given_an_api_that_never_answers_when_a_request_retries_then_it_stops_once_silent_for_the_bound(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    network = Network(clock, [requests.exceptions.ReadTimeout])
    stopped = _stopped(_client(breaker, network))
    assert stopped.failure_type == FailureType.transient_error
    assert stopped.message == (
        "Orb stopped answering earlier in this sync (no request to it was answered for 2 minutes: 3 attempts "
        "in a row timed out or failed on the network), so no more requests were sent to it. Retry the sync "
        "later."
    )
    # Failures at 60 s, about 122 s and 185 s: the third comes more than the bound after the first, and the
    # request stops there, without waiting to retry, instead of going on to its 9th attempt.
    assert network.sent == MIN_FAILURES < MAX_RETRIES + 1
    assert len(clock.waits) == network.sent - 1
    assert breaker.is_open


def test_given_a_request_waiting_to_retry_when_other_requests_open_the_breaker_then_it_sends_nothing_more(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    network = Network(clock, [requests.exceptions.ReadTimeout])

    def others_fail_for_the_bound() -> None:
        for _ in range(MIN_FAILURES):
            clock.advance(BOUND / (MIN_FAILURES - 1))
            breaker.failed()

    clock.on_wait = others_fail_for_the_bound
    stopped = _stopped(_client(breaker, network))
    assert stopped.failure_type == FailureType.transient_error
    assert stopped.message is not None
    assert stopped.message.startswith("Orb stopped answering earlier in this sync")
    assert network.sent == 1
    assert len(clock.waits) == 1


def test_given_a_page_that_times_out_once_when_retried_then_it_is_read_and_the_count_restarts(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    breaker.failed()
    breaker.failed()  # other requests timed out just before
    network = Network(clock, [requests.exceptions.ReadTimeout, 200])
    assert _get(_client(breaker, network)).json() == {"data": []}
    assert network.sent == 2
    # Without the answer, this would be the 4th failure in a row, minutes after the first.
    clock.advance(10 * BOUND)
    assert not breaker.failed()
    breaker.check("orb_items")


@pytest.mark.parametrize(
    ("status", "failure_type"),
    [
        (500, FailureType.transient_error),
        (503, FailureType.transient_error),
        (429, FailureType.transient_error),
        (403, FailureType.config_error),
        (404, FailureType.config_error),
    ],
)
def test_given_an_api_answering_errors_when_a_request_gives_up_then_the_breaker_stays_closed(
    clock: Clock, status: int, failure_type: FailureType
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    breaker.failed()  # a timeout just before; every answer after it restarts the count
    network = Network(clock, [status])
    failed = _stopped(_client(breaker, network))
    assert failed.failure_type == failure_type
    assert "stopped answering" not in (failed.message or "")
    clock.advance(10 * BOUND)
    assert not breaker.is_open
    breaker.check("orb_items")


def test_given_failures_in_a_row_for_less_than_the_bound_when_a_slice_starts_then_it_is_let_through(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    for _ in range(MAX_RETRIES):
        assert not breaker.failed()
        clock.advance(BOUND / MAX_RETRIES * 0.99)
    breaker.check("orb_items")


def test_given_too_few_failures_when_the_bound_has_passed_then_a_slice_is_let_through(clock: Clock) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    for _ in range(MIN_FAILURES - 1):
        breaker.failed()
    clock.advance(10 * BOUND)
    breaker.check("orb_items")
    assert not breaker.is_open


def test_given_failures_in_a_row_for_the_bound_when_a_slice_starts_then_it_fails_naming_stream_and_api(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    breaker.failed()
    clock.advance(BOUND)
    for _ in range(MIN_FAILURES - 1):
        breaker.failed()
    with pytest.raises(AirbyteTracedException) as caught:
        breaker.check("orb_items")
    assert caught.value.failure_type == FailureType.transient_error
    assert caught.value.message is not None
    assert caught.value.message.startswith(
        "Stream orb_items was not read in full: Orb stopped answering earlier in this sync (no request to "
        "it was answered for 2 minutes"
    )
    assert caught.value.message.endswith("Retry the sync later.")


def test_given_many_workers_failing_at_once_when_the_bound_passes_then_the_breaker_opens_once(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = CircuitBreaker("Orb", clock=clock)
    for _ in range(MIN_FAILURES - 1):
        breaker.failed()
    clock.advance(BOUND)
    workers = 8
    start = threading.Barrier(workers)
    opened: list[bool] = []

    def fail_repeatedly() -> None:
        start.wait()
        opened.extend(breaker.failed() for _ in range(200))

    threads = [threading.Thread(target=fail_repeatedly) for _ in range(workers)]
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(opened) == workers * 200
    assert all(opened)
    assert len([record for record in caplog.records if "Orb stopped answering" in record.message]) == 1
