"""Reading one stream through the connector's entry point, as Airbyte does: the CDK's
`entrypoint_wrapper.read` on a frozen clock, with the CDK's `HttpMocker` answering (the `http_mocker`
fixture)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import time_machine
from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
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
