"""How our streams run on the CDK's concurrent framework: one cursor adapter, and the source's wiring.

Each stream is wrapped in the CDK's `StreamFacade`, so its slices (windows, Connect accounts, parent
partitions) are read on a pool of `max_concurrency` workers. A worker puts a slice's records on the
output queue, then closes the slice; `SliceCursor` then advances the stream's state and puts the state
message on the same queue (`ConcurrentMessageRepository`), so a state message always comes after every
record it covers, whatever order the slices finish in.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import Any

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record

from source_billing.http.base_stream import ApiStream


class SliceCursor(Cursor):
    """The concurrent framework's handle on an incremental stream's own state."""

    def __init__(
        self, stream: ApiStream, state_manager: ConnectorStateManager, messages: MessageRepository
    ) -> None:
        self._stream = stream
        self._state_manager = state_manager
        self._messages = messages
        self._emitted: dict[str, Any] | None = None
        # Computing a state and queueing it must not interleave with another worker's, or an older state
        # could be queued after a newer one.
        self._lock = threading.Lock()

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._stream.state

    def observe(self, record: Record) -> None:
        """Nothing per record: state moves per completed slice, which keeps the record path lean."""

    def close_partition(self, partition: Partition) -> None:
        if self._stream.failed:
            return  # slices of a failed stream end without reading: their windows were not read
        with self._lock:
            stream_slice = partition.to_slice()
            if stream_slice is not None:
                self._stream.close_slice(stream_slice)
            # A slice that finished before an earlier one moves nothing yet: no message to send.
            if self._stream.state != self._emitted:
                self._emit()

    def ensure_at_least_one_state_emitted(self) -> None:
        with self._lock:
            if self._emitted is None:
                self._emit()

    def should_be_synced(self, record: Record) -> bool:
        return True

    def _emit(self) -> None:
        state = dict(self._stream.state)
        self._state_manager.update_state_for_stream(self._stream.name, self._stream.namespace, state)
        self._messages.emit_message(
            self._state_manager.create_state_message(self._stream.name, self._stream.namespace)
        )
        self._emitted = state
