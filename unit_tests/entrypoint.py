"""Reading one stream through the connector's entry point, as Airbyte does: the CDK's
`entrypoint_wrapper.read` on a frozen clock, with the CDK's `HttpMocker` answering (the `api` fixture)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest
import time_machine
from airbyte_cdk.models import AirbyteErrorTraceMessage, AirbyteStateMessage, Level, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.test.state_builder import StateBuilder

from source_billing import SourceBilling

NOW = "2026-12-01T12:00:00Z"
"""The frozen clock of every read (a sync's second)."""


def read_stream(
    config: Mapping[str, Any],
    stream: str,
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: Mapping[str, Any] | None = None,
    now: str = NOW,
) -> EntrypointOutput:
    """One stream's read: its records, state and trace messages; `state` is the stream's saved state."""
    catalog = CatalogBuilder().with_stream(stream, sync_mode).build()
    states: list[AirbyteStateMessage] | None = None
    if state is not None:
        states = StateBuilder().with_stream_state(stream, dict(state)).build()
    with time_machine.travel(now, tick=False):
        return read(SourceBilling(), dict(config), catalog, states)


def records(output: EntrypointOutput) -> list[dict[str, Any]]:
    """The records a read emitted, in order."""
    return [dict(message.record.data) for message in output.records if message.record is not None]


def final_state(output: EntrypointOutput) -> dict[str, Any]:
    """The stream's last saved state."""
    final = output.most_recent_state
    assert final is not None, "the read saved no state"
    return dict(final.stream_state.__dict__)


def warnings(output: EntrypointOutput) -> list[str]:
    """The warnings a read logged, in order."""
    return [message.log.message for message in output.logs if message.log and message.log.level == Level.WARN]


def stream_schema(config: Mapping[str, Any], stream: str) -> dict[str, Any]:
    """A stream's JSON schema, as `discover` announces it for this configuration."""
    catalog = discover(SourceBilling(), dict(config)).catalog.catalog
    assert catalog is not None, "discover announced no catalog"
    (found,) = [announced for announced in catalog.streams if announced.name == stream]
    return dict(found.json_schema)


def stream_error(output: EntrypointOutput, stream: str) -> AirbyteErrorTraceMessage:
    """The one error a read reported for the stream (the sync's summary of failed streams names none)."""
    (error,) = [
        message.trace.error
        for message in output.errors
        if message.trace and message.trace.error and message.trace.error.stream_descriptor
        if message.trace.error.stream_descriptor.name == stream
    ]
    return error


def requests_sent(caplog: pytest.LogCaptureFixture) -> list[tuple[str, Mapping[str, str]]]:
    """The URL and headers of each request, in order, from the CDK's debug log of every request it sends
    (read within `caplog.at_level(logging.DEBUG, logger="airbyte")`)."""
    sent = [vars(record) for record in caplog.records if record.levelno == logging.DEBUG]
    return [
        (fields["url"], fields["headers"])
        for fields in sent
        if fields["msg"] == "Making outbound API request"
    ]


class MockedApi:
    """The requests a test's reads must make, each answered in turn by the CDK's `HttpMocker`. `verify` checks
    that each was made once per answer (or `times`): HttpMocker checks nothing when used as a context manager,
    as the `api` fixture uses it."""

    def __init__(self, mocker: HttpMocker) -> None:
        self.mocker = mocker
        self.expected: list[tuple[HttpRequest, int]] = []

    def get(self, request: HttpRequest, *answers: HttpResponse, times: int | None = None) -> HttpRequest:
        self.mocker.get(request, list(answers))
        self.expected.append((request, times or len(answers)))
        return request

    def post(self, request: HttpRequest, *answers: HttpResponse) -> HttpRequest:
        self.mocker.post(request, list(answers))
        self.expected.append((request, len(answers)))
        return request

    def verify(self) -> None:
        for request, times in self.expected:
            try:
                self.mocker.assert_number_of_calls(request, times)
            except AssertionError:
                raise AssertionError(f"not requested {times} time(s): {request}") from None
