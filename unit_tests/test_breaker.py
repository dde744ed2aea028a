"""The per-API circuit breaker: a request that gave up on transport failures stops the rest of its API."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing import SourceBilling
from source_billing.base_stream import ApiStream
from source_billing.breaker import CircuitBreaker, gave_up_on_transport

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
