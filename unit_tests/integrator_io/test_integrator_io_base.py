"""integrator.io's base stream through the connector's entry point: `Link` paging, 204, region hosts, one test
per failure, and the rate budget."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing import SourceBilling
from source_billing.integrator_io import check
from source_billing.integrator_io.base import REQUESTS_PER_SECOND, integrator_io_api
from unit_tests.entrypoint import MockedApi, read_stream, records, requests_sent, stream_error
from unit_tests.integrator_io.helpers import (
    BASE,
    EU_BASE,
    NOW_MILLIS,
    TOKEN,
    answer,
    config,
    connector,
    link,
    settings,
)

FLOWS = f"{BASE}/v1/flows"
FLOWS_STREAM = "integrator_io_flows"
LOGGER = logging.getLogger("airbyte")


def _kept_secret(output: EntrypointOutput) -> bool:
    return TOKEN not in repr(list(output.get_message_iterator()))


def test_given_link_header_when_read_then_the_next_url_is_followed_exactly_as_given(
    api: MockedApi, caplog: pytest.LogCaptureFixture
) -> None:
    next_url = f"{BASE}/v1/flows?cursor=eyJwIjoiL3YxL2Zsb3dzIn0%2B%3D%3D&state=a%2Fb"
    # No page-size or other parameter on the first page: the API documents none.
    api.get(HttpRequest(FLOWS), answer([{"_id": "f1"}, {"_id": "f2"}], headers=link(next_url)))
    api.get(HttpRequest(next_url, headers={"Authorization": f"Bearer {TOKEN}"}), answer([{"_id": "f3"}]))
    with caplog.at_level(logging.DEBUG, logger="airbyte"):
        output = read_stream(settings(), FLOWS_STREAM)
    assert [r["_id"] for r in records(output)] == ["f1", "f2", "f3"]
    assert [url for url, _ in requests_sent(caplog)] == [FLOWS, next_url]


def _refused_link(api: MockedApi, first_url: str, next_url: str, **section: Any) -> None:
    """A read whose first page links the next one to `next_url`: refused, and nothing sent there (an
    unmocked request fails the read with another message)."""
    api.get(HttpRequest(first_url), answer([{"_id": "f1"}], headers=link(next_url)))
    output = read_stream(settings(**section), FLOWS_STREAM)
    error = stream_error(output, FLOWS_STREAM)
    assert error.failure_type == FailureType.system_error
    assert "another host" in error.message
    assert _kept_secret(output)


@pytest.mark.parametrize(
    "next_url",
    [
        "https://attacker.example.com/v1/flows?cursor=1",
        "http://api.integrator.io/v1/flows?cursor=1",
        "https://api.integrator.io:8443/v1/flows?cursor=1",
    ],
    ids=["other host", "plain http", "other port"],
)
def test_given_link_to_another_origin_when_read_then_refused_without_sending_the_token(
    api: MockedApi, next_url: str
) -> None:
    _refused_link(api, FLOWS, next_url)


def test_given_eu_region_when_the_link_points_at_the_us_host_then_refused(api: MockedApi) -> None:
    _refused_link(api, f"{EU_BASE}/v1/flows", f"{BASE}/v1/flows?cursor=1", region="eu")


def test_given_204_when_read_then_no_records_and_no_error(api: MockedApi) -> None:
    api.get(HttpRequest(FLOWS), answer(status=204))
    output = read_stream(settings(), FLOWS_STREAM)
    assert not output.records
    assert not output.errors


def test_given_200_whose_body_is_not_a_list_when_read_then_specific_error(api: MockedApi) -> None:
    api.get(HttpRequest(FLOWS), answer({"flows": []}))
    output = read_stream(settings(), FLOWS_STREAM)
    error = stream_error(output, FLOWS_STREAM)
    assert "integrator_io_flows with something other than a JSON list" in error.message


def test_given_region_eu_when_checked_and_every_stream_read_then_every_request_goes_to_the_eu_host(
    api: MockedApi,
) -> None:
    # Only the EU host answers: a request to any other host (or path) fails its read.
    owned = connector(1)["_id"]
    created = [{"_id": "x1", "createdAt": "2024-01-01T00:00:00.000Z"}]
    api.get(HttpRequest(f"{EU_BASE}/v1/tokenInfo"), answer({"_userId": "u1", "scope": "*"}))
    # Listed by the check, the connectors stream, and each of the two children streams for itself.
    api.get(HttpRequest(f"{EU_BASE}/v1/connectors"), answer([connector(1)]), times=4)
    for path in ("integrations", "flows", f"connectors/{owned}/licenses", f"connectors/{owned}/installBase"):
        api.get(HttpRequest(f"{EU_BASE}/v1/{path}"), answer(created))
    api.get(HttpRequest(f"{EU_BASE}/v1/jobs", query_params={"createdAt_lte": NOW_MILLIS}), answer(created))
    assert check(config(region="eu"), LOGGER) is None
    catalog = discover(SourceBilling(), settings(region="eu")).catalog.catalog
    assert catalog is not None
    names = [stream.name for stream in catalog.streams]
    assert len(names) == 6
    for name in names:
        output = read_stream(settings(region="eu"), name)
        assert records(output), name
        assert not output.errors, name


@pytest.mark.parametrize(
    ("name", "path", "status", "body", "failure_type", "expected"),
    [
        (
            "connectors",
            "connectors",
            401,
            {"errors": [{"code": "unauthorized", "message": "Bearer Authentication Failed"}]},
            FailureType.config_error,
            "at api.eu.integrator.io (region `eu`)",
        ),
        (
            "connectors",
            "connectors",
            403,
            {"errors": [{"code": "forbidden", "message": "Not allowed"}]},
            FailureType.config_error,
            "full-access API token of the account that publishes the connectors",
        ),
        (
            "licenses",
            f"connectors/{connector(1)['_id']}/licenses",
            403,
            {"errors": [{"code": "forbidden", "message": "Not allowed"}]},
            FailureType.config_error,
            "full-access API token of the account that publishes the connectors",
        ),
        (
            "jobs",
            "jobs",
            400,
            {"errors": [{"code": "invalid_date", "field": "createdAt_gte", "message": "not a date"}]},
            FailureType.system_error,
            "integrator.io said: not a date",
        ),
    ],
)
def test_given_client_error_when_read_then_fails_at_once_with_specific_message(
    api: MockedApi,
    name: str,
    path: str,
    status: int,
    body: dict[str, Any],
    failure_type: FailureType,
    expected: str,
    sleeps: list[float],
) -> None:
    if path.startswith("connectors/"):
        api.get(HttpRequest(f"{EU_BASE}/v1/connectors"), answer([connector(1)]))
    api.get(HttpRequest(f"{EU_BASE}/v1/{path}", query_params=ANY_QUERY_PARAMS), answer(body, status))
    output = read_stream(settings(region="eu"), f"integrator_io_{name}")
    error = stream_error(output, f"integrator_io_{name}")
    assert error.failure_type == failure_type
    assert expected in error.message
    assert _kept_secret(output)
    assert sleeps == []


@pytest.mark.parametrize(
    "body",
    [{"message": "Unauthorized"}, {"errors": [{"code": "unauthorized", "message": "Unauthorized"}]}],
    ids=["bare message", "errors list"],
)
def test_given_401_on_token_info_when_checked_then_config_error_naming_the_region(
    api: MockedApi, body: dict[str, Any], sleeps: list[float]
) -> None:
    api.get(HttpRequest(f"{BASE}/v1/tokenInfo"), answer(body, 401))
    with pytest.raises(AirbyteTracedException) as caught:
        check(config(), LOGGER)
    message = str(caught.value.message)
    assert caught.value.failure_type == FailureType.config_error
    assert "region `us`" in message
    assert "a token of the US region is rejected by the EU host and the reverse" in message
    assert "integrator.io said: Unauthorized" in message
    assert TOKEN not in message


def test_given_a_token_without_connector_access_when_checked_then_the_full_access_message(
    api: MockedApi,
) -> None:
    api.get(HttpRequest(f"{BASE}/v1/tokenInfo"), answer({"_userId": "u1", "scope": "limited"}))
    api.get(HttpRequest(f"{BASE}/v1/connectors"), answer({"errors": [{"code": "forbidden"}]}, 403))
    with pytest.raises(AirbyteTracedException) as caught:
        check(config(), LOGGER)
    assert caught.value.failure_type == FailureType.config_error
    assert "full-access API token of the account that publishes the connectors" in str(caught.value.message)


def test_given_a_connector_deleted_during_the_sync_when_its_licenses_answer_404_then_skipped_with_reason(
    api: MockedApi, sleeps: list[float]
) -> None:
    gone, kept = connector(1)["_id"], connector(2)["_id"]
    api.get(HttpRequest(f"{BASE}/v1/connectors"), answer([connector(1), connector(2)]))
    api.get(
        HttpRequest(f"{BASE}/v1/connectors/{gone}/licenses"),
        answer({"errors": [{"code": "not_found", "message": f"Connector not found: {gone}"}]}, 404),
    )
    api.get(HttpRequest(f"{BASE}/v1/connectors/{kept}/licenses"), answer([{"_id": "l1"}]))
    output = read_stream(settings(), "integrator_io_licenses")
    assert records(output) == [{"_id": "l1", "_connectorId": kept}]
    assert not output.errors
    assert output.is_in_logs("the connector was deleted during the sync")
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        pytest.param(
            answer(
                {"errors": [{"code": "rate_limited", "message": "Too many requests"}]},
                429,
                {"Retry-After": "7"},
            ),
            7 + 1,
            id="429 with Retry-After",
        ),
        pytest.param(answer({"errors": [{"code": "rate_limited"}]}, 429), None, id="429 without"),
        pytest.param(answer({"errors": [{"code": "internal_error"}]}, 500), None, id="500"),
        # A body broken in transit: its compression cannot be decoded (a transport error, as a reset is).
        pytest.param(HttpResponse(b"\x00cut", 200, {"Content-Encoding": "gzip"}), None, id="broken body"),
        pytest.param(HttpResponse('[{"_id": "f1"', 200), None, id="truncated body"),
    ],
)
def test_given_transient_failure_when_read_then_retried_after_backoff_and_succeeds(
    api: MockedApi, failure: HttpResponse, expected_wait: float | None, sleeps: list[float]
) -> None:
    api.get(HttpRequest(FLOWS), failure, answer([{"_id": "f1"}]))
    output = read_stream(settings(), FLOWS_STREAM)
    assert not output.errors
    assert [r["_id"] for r in records(output)] == ["f1"]
    assert len(sleeps) == 1
    # Retry-After and the CDK's second; else exponential backoff with jitter on the first attempt, and it.
    assert sleeps[0] == expected_wait if expected_wait is not None else 1 < sleeps[0] <= 2


def test_given_the_rate_budget_when_calls_exceed_it_within_a_second_then_the_next_call_must_wait() -> None:
    api = integrator_io_api(config())
    request = requests.Request("GET", FLOWS).prepare()
    # The budget spaces calls evenly over each second.
    api.budget.acquire_call(request, block=False)
    with pytest.raises(CallRateLimitHit):
        api.budget.acquire_call(request, block=False)
    # 300 slots a second: the documented refill of 300 requests a second, so the bucket of 1,000 never runs
    # dry, and holds enough to absorb requests that reach it bunched.
    (layer,) = api.budget.matching(request)
    assert REQUESTS_PER_SECOND == 300
    assert layer.interval * 300 == pytest.approx(1)
