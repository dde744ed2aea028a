"""Each API's error answers, through the connector's entry point: the CDK's `entrypoint_wrapper.read` of one
stream with the CDK's `HttpMocker` answering, on a frozen clock. One case per status code per API: what the
user sees (the trace's failure type and message, never the key), and that a retried answer loses nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS

from unit_tests.entrypoint import MockedApi, read_stream

WORDS = "the API's own words"


@dataclass(frozen=True)
class Api:
    """One API as a read of one of its streams sees it: its configuration, the list the stream reads, a
    page of one object and an error body in the API's own shape."""

    name: str
    secret_field: str
    secret: str
    stream: str
    url: str

    def config(self) -> dict[str, Any]:
        return {self.name: {self.secret_field: self.secret}}

    def page(self) -> str:
        """One object, the last page."""
        if self.name == "stripe":
            return json.dumps(
                {"object": "list", "data": [{"id": "cus_1", "created": 1700000000}], "has_more": False}
            )
        if self.name == "orb":
            item = {"id": "item_1", "created_at": "2024-01-01T00:00:00Z"}
            return json.dumps(
                {"data": [item], "pagination_metadata": {"has_more": False, "next_cursor": None}}
            )
        return json.dumps([{"_id": "f1", "name": "Flow 1"}])

    def error(self, status: int) -> str:
        """The API's error body for a status, with a detail of its own."""
        if self.name == "stripe":
            return json.dumps({"error": {"type": "invalid_request_error", "message": WORDS}})
        if self.name == "orb":
            return json.dumps({"status": status, "title": "T", "detail": WORDS})
        return json.dumps({"errors": [{"code": "error", "message": WORDS}]})


STRIPE = Api(
    "stripe", "client_secret", "sk_live_x_SENTINEL0key", "customers", "https://api.stripe.com/v1/customers"
)
ORB = Api("orb", "api_key", "orb_SENTINEL0key", "orb_items", "https://api.withorb.com/v1/items")
INTEGRATOR_IO = Api(
    "integrator_io",
    "api_token",
    "SENTINEL0integrator0token",
    "integrator_io_flows",
    "https://api.integrator.io/v1/flows",
)


def _read(vendor: Api) -> EntrypointOutput:
    return read_stream(vendor.config(), vendor.stream)


def _answers(api: MockedApi, vendor: Api, *responses: HttpResponse) -> None:
    api.get(HttpRequest(vendor.url, query_params=ANY_QUERY_PARAMS), *responses)


@pytest.mark.parametrize(
    ("vendor", "status", "failure_type", "says"),
    [
        (STRIPE, 400, FailureType.system_error, "please report this"),
        (STRIPE, 401, FailureType.config_error, "`stripe.client_secret`"),
        (STRIPE, 403, FailureType.config_error, "grant the permission"),
        (STRIPE, 404, FailureType.config_error, "`stripe.api_base_url`"),
        (ORB, 400, FailureType.system_error, "please report this"),
        (ORB, 401, FailureType.config_error, "`orb.api_key`"),
        (ORB, 403, FailureType.config_error, "may not read this resource"),
        (ORB, 404, FailureType.config_error, "`orb.api_base_url`"),
        (INTEGRATOR_IO, 401, FailureType.config_error, "`integrator_io.api_token`"),
        (INTEGRATOR_IO, 403, FailureType.config_error, "refused access to /v1/flows (HTTP 403)"),
        (INTEGRATOR_IO, 404, FailureType.config_error, "`integrator_io.api_base_url`"),
    ],
    ids=lambda value: value.name if isinstance(value, Api) else str(value),
)
def test_given_a_client_error_when_read_then_the_stream_fails_at_once_saying_what_to_fix(
    api: MockedApi, vendor: Api, status: int, failure_type: FailureType, says: str, sleeps: list[float]
) -> None:
    _answers(api, vendor, HttpResponse(vendor.error(status), status))
    output = _read(vendor)
    assert not output.records
    errors = [message.trace.error for message in output.errors if message.trace and message.trace.error]
    # The stream's own error, then the sync's summary of the streams that failed.
    (error,) = [
        error for error in errors if error.stream_descriptor and error.stream_descriptor.name == vendor.stream
    ]
    assert error.failure_type == failure_type
    assert says in error.message
    assert error.message.endswith(f" said: {WORDS}")
    assert vendor.secret not in repr(list(output.get_message_iterator()))
    assert sleeps == []  # not retried


@pytest.mark.parametrize("vendor", [STRIPE, ORB, INTEGRATOR_IO], ids=lambda vendor: vendor.name)
@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_given_a_transient_error_when_read_then_retried_and_nothing_lost(
    api: MockedApi, vendor: Api, status: int, sleeps: list[float]
) -> None:
    _answers(api, vendor, HttpResponse(vendor.error(status), status), HttpResponse(vendor.page(), 200))
    output = _read(vendor)
    assert not output.errors
    assert len(output.records) == 1
    assert len(sleeps) == 1  # one wait, then the answer
