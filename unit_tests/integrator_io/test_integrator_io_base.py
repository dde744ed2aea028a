"""integrator.io's base stream against mocked HTTP: `Link` paging, 204, region hosts, the rate budget, and
one test per failure."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import requests_mock
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.integrator_io import check
from source_billing.integrator_io import streams as integrator_io_streams
from source_billing.integrator_io.base import REQUESTS_PER_SECOND, integrator_io_api
from unit_tests.integrator_io.helpers import BASE, EU_BASE, TOKEN, config, connector, link, read, stream

FLOWS = f"{BASE}/v1/flows"
LOGGER = logging.getLogger("airbyte")


def test_given_link_header_when_read_then_the_next_url_is_followed_exactly_as_given() -> None:
    next_url = f"{BASE}/v1/flows?cursor=eyJwIjoiL3YxL2Zsb3dzIn0%2B%3D%3D&state=a%2Fb"
    with requests_mock.Mocker() as mock:
        mock.get(FLOWS, json=[{"_id": "f1"}, {"_id": "f2"}], headers=link(next_url))
        mock.get(next_url, json=[{"_id": "f3"}])
        records = read(stream("flows"))
        first, second = mock.request_history
    assert [r["_id"] for r in records] == ["f1", "f2", "f3"]
    assert first.url == FLOWS, "no page-size or other parameter: the API documents none"
    assert second.url == next_url
    assert second.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://attacker.example.com/v1/flows?cursor=1",
        "http://api.integrator.io/v1/flows?cursor=1",
        "https://api.integrator.io:8443/v1/flows?cursor=1",
    ],
    ids=["other host", "plain http", "other port"],
)
def test_given_link_to_another_origin_when_read_then_refused_without_sending_the_token(next_url: str) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(FLOWS, json=[{"_id": "f1"}], headers=link(next_url))
        with pytest.raises(AirbyteTracedException) as caught:
            read(stream("flows"))
        assert mock.call_count == 1
    assert caught.value.failure_type == FailureType.system_error
    assert "another host" in str(caught.value.message)


def test_given_eu_region_when_the_link_points_at_the_us_host_then_refused() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{EU_BASE}/v1/flows", json=[{"_id": "f1"}], headers=link(f"{BASE}/v1/flows?cursor=1"))
        with pytest.raises(AirbyteTracedException):
            read(stream("flows", region="eu"))
        assert mock.call_count == 1


def test_given_204_when_read_then_no_records_and_no_error() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(FLOWS, status_code=204)
        assert read(stream("flows")) == []
        assert mock.call_count == 1


def test_given_200_whose_body_is_not_a_list_when_read_then_specific_error() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(FLOWS, json={"flows": []})
        with pytest.raises(AirbyteTracedException) as caught:
            read(stream("flows"))
    assert "integrator_io_flows with something other than a JSON list" in str(caught.value.message)


def test_given_region_eu_when_checked_and_every_stream_read_then_every_request_goes_to_the_eu_host() -> None:
    eu = config(region="eu")
    paths = ["tokenInfo", "connectors", "integrations", "flows", "jobs"]
    paths += [f"connectors/{connector(1)['_id']}/{child}" for child in ("licenses", "installBase")]
    with requests_mock.Mocker() as mock:  # an unregistered URL (any other host) raises NoMockAddress
        mock.get(f"{EU_BASE}/v1/tokenInfo", json={"_userId": "u1", "scope": "*"})
        mock.get(f"{EU_BASE}/v1/connectors", json=[connector(1)])
        for path in paths[2:]:
            mock.get(f"{EU_BASE}/v1/{path}", json=[{"_id": "x1", "createdAt": "2024-01-01T00:00:00.000Z"}])
        assert check(eu, LOGGER) is None
        streams = integrator_io_streams(eu)
        for each in streams:
            assert read(each), each.name
        hosts = {urlsplit(request.url).hostname for request in mock.request_history}
        requested = {urlsplit(request.url).path.removeprefix("/v1/") for request in mock.request_history}
    assert hosts == {"api.eu.integrator.io"}
    assert requested == set(paths)
    assert len(streams) == 6


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
            "flows",
            "flows",
            403,
            {"errors": [{"code": "forbidden", "message": "Not allowed"}]},
            FailureType.config_error,
            "refused access to /v1/flows (HTTP 403)",
        ),
        (
            "integrations",
            "integrations",
            404,
            {"errors": [{"code": "not_found", "message": "Not found"}]},
            FailureType.config_error,
            "`integrator_io.api_base_url`",
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
    name: str,
    path: str,
    status: int,
    body: dict[str, Any],
    failure_type: FailureType,
    expected: str,
    sleeps: list[float],
) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{EU_BASE}/v1/connectors", json=[connector(1)])
        mock.get(f"{EU_BASE}/v1/{path}", status_code=status, json=body)
        with pytest.raises(AirbyteTracedException) as caught:
            read(stream(name, region="eu"))
        assert [request.path for request in mock.request_history].count(f"/v1/{path}".lower()) == 1
    assert caught.value.failure_type == failure_type
    assert expected in str(caught.value.message)
    assert TOKEN not in str(caught.value.message)
    assert sleeps == []


@pytest.mark.parametrize(
    "body",
    [{"message": "Unauthorized"}, {"errors": [{"code": "unauthorized", "message": "Unauthorized"}]}],
    ids=["bare message", "errors list"],
)
def test_given_401_on_token_info_when_checked_then_config_error_naming_the_region(
    body: dict[str, Any], sleeps: list[float]
) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{BASE}/v1/tokenInfo", status_code=401, json=body)
        with pytest.raises(AirbyteTracedException) as caught:
            check(config(), LOGGER)
        assert mock.call_count == 1
    message = str(caught.value.message)
    assert caught.value.failure_type == FailureType.config_error
    assert "region `us`" in message
    assert "a token of the US region is rejected by the EU host and the reverse" in message
    assert "integrator.io said: Unauthorized" in message
    assert TOKEN not in message


def test_given_a_token_without_connector_access_when_checked_then_the_full_access_message() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{BASE}/v1/tokenInfo", json={"_userId": "u1", "scope": "limited"})
        mock.get(f"{BASE}/v1/connectors", status_code=403, json={"errors": [{"code": "forbidden"}]})
        with pytest.raises(AirbyteTracedException) as caught:
            check(config(), LOGGER)
    assert caught.value.failure_type == FailureType.config_error
    assert "full-access API token of the account that publishes the connectors" in str(caught.value.message)


def test_given_a_connector_deleted_during_the_sync_when_its_licenses_answer_404_then_skipped_with_reason(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    gone, kept = connector(1)["_id"], connector(2)["_id"]
    with requests_mock.Mocker() as mock:
        mock.get(f"{BASE}/v1/connectors", json=[connector(1), connector(2)])
        mock.get(
            f"{BASE}/v1/connectors/{gone}/licenses",
            status_code=404,
            json={"errors": [{"code": "not_found", "message": f"Connector not found: {gone}"}]},
        )
        mock.get(f"{BASE}/v1/connectors/{kept}/licenses", json=[{"_id": "l1"}])
        with caplog.at_level(logging.INFO):
            records = read(stream("licenses"))
    assert records == [{"_id": "l1", "_connectorId": kept}]
    assert "the connector was deleted during the sync" in caplog.text
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "expected_wait"),
    [
        (
            {
                "status_code": 429,
                "headers": {"Retry-After": "7"},
                "json": {"errors": [{"code": "rate_limited", "message": "Too many requests"}]},
            },
            7 + 1,
        ),
        ({"status_code": 429, "json": {"errors": [{"code": "rate_limited"}]}}, None),
        ({"status_code": 500, "json": {"errors": [{"code": "internal_error"}]}}, None),
        ({"exc": requests.exceptions.ConnectionError("connection reset by peer")}, None),
        ({"status_code": 200, "text": '[{"_id": "f1"'}, None),
    ],
    ids=["429 with Retry-After", "429 without", "500", "connection reset", "truncated body"],
)
def test_given_transient_failure_when_read_then_retried_after_backoff_and_succeeds(
    failure: dict[str, Any], expected_wait: float | None, sleeps: list[float]
) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(FLOWS, [failure, {"json": [{"_id": "f1"}]}])
        records = read(stream("flows"))
        assert mock.call_count == 2
    assert [r["_id"] for r in records] == ["f1"]
    assert len(sleeps) == 1
    if expected_wait is not None:
        assert sleeps[0] == expected_wait
    else:
        assert (
            1 < sleeps[0] <= 2
        )  # exponential backoff with jitter on the first attempt, plus the CDK's second


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
