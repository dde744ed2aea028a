"""The Airbyte source: validates the configuration, checks each configured API, reads their streams
concurrently."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from functools import partial
from queue import Empty, Queue
from types import ModuleType
from typing import Any

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
)
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.concurrent_source_adapter import ConcurrentSourceAdapter
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository, MessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.concurrent.adapters import StreamFacade, StreamPartition
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.partitions.types import QueueItem
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing import integrator_io, orb, stripe
from source_billing.config import DEFAULT_MAX_CONCURRENCY, BillingConfig, config_error
from source_billing.http.base_stream import ApiStream
from source_billing.incremental.slice_cursor import SliceCursor
from source_billing.runtime import inputs
from source_billing.runtime.progress import DEFAULT_INTERVAL_SECONDS, StreamStats, SyncProgress
from source_billing.runtime.scheduling import FairThreadPool

LOGGER = logging.getLogger("airbyte")
# Records waiting for output (about five pages); workers block when it is full, so memory stays flat however
# fast they read. A larger queue holds more records without reading faster (the main thread writes what
# arrives): with 2,000, and glibc's default malloc arenas (see `run.limit_malloc_arenas`), the peak RSS of
# a CPU-bound sync crept up by 10 MB over 600,000 records; with 500 and two arenas it stays within a few.
QUEUE_SIZE = 500
# How long the main thread waits for a record before it lets out the output it has written.
FLUSH_AFTER_SECONDS = 0.005


class OutputQueue(Queue[QueueItem]):
    """The queue of records and events for the main thread, which lets its written output out whenever it
    has waited `FLUSH_AFTER_SECONDS` for the next item.

    The CDK's print buffer writes out only when a write comes 0.1 s after its last flush, so the end of a
    stream, or the state messages written before a rate limit's wait, would stay in it until the next
    record. Waiting first keeps a busy sync's writes batched."""

    def get(self, block: bool = True, timeout: float | None = None) -> QueueItem:
        if not block or timeout is not None:
            return super().get(block, timeout)
        try:
            return super().get(timeout=FLUSH_AFTER_SECONDS)
        except Empty:
            sys.stdout.flush()
            return super().get()


class SourceBilling(ConcurrentSourceAdapter):
    """Stripe, Orb and integrator.io billing and licensing data, as one Airbyte source."""

    def __init__(
        self, progress_interval_seconds: float = DEFAULT_INTERVAL_SECONDS, api: str | None = None
    ) -> None:
        """
        Args:
            progress_interval_seconds: how often a sync logs its progress.
            api: read only this API's streams of the catalog (`Stripe`, `Orb`, `integrator.io`): the
                process of one API in a sync of several (`source_billing.runtime.processes`).
        """
        self._progress_interval = progress_interval_seconds
        self._api = api
        self._stream_stats: dict[str, StreamStats] = {}
        self._messages: MessageRepository = InMemoryMessageRepository()
        self._state_manager = ConnectorStateManager()
        self._catalog: ConfiguredAirbyteCatalog | None = None
        self._queue: Queue[QueueItem] = Queue()
        self._pool = FairThreadPool(DEFAULT_MAX_CONCURRENCY, LOGGER)
        super().__init__(_concurrent_source(self._pool, self._queue, self._messages))

    @property
    def message_repository(self) -> MessageRepository:
        return self._messages

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Like the CDK's, but the message reaches the user as written, not as a Python repr."""
        succeeded, problem = self.check_connection(logger, config)
        if succeeded:
            return AirbyteConnectionStatus(status=Status.SUCCEEDED)
        return AirbyteConnectionStatus(status=Status.FAILED, message=str(problem))

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        """One cheap authenticated call per configured API; a failure names the API and the cause."""
        try:
            parsed = BillingConfig.parse(config)
        except AirbyteTracedException as error:
            return False, error.message
        problems = check_apis(parsed, logger)
        return (False, problems) if problems else (True, None)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """Read the catalog's streams on `max_concurrency` workers."""
        parsed = BillingConfig.parse(config)
        if self._api is not None:
            own = {stream.name for stream in self.api_streams(config) if stream.api_name == self._api}
            catalog = ConfiguredAirbyteCatalog(
                streams=[configured for configured in catalog.streams if configured.stream.name in own]
            )
        # Built here, on the thread that consumes the queue, as ConcurrentMessageRepository requires.
        queue: Queue[QueueItem] = OutputQueue(maxsize=QUEUE_SIZE)
        self._queue = queue
        self._messages = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        self._pool = FairThreadPool(parsed.max_concurrency, LOGGER)
        self._concurrent_source = _concurrent_source(self._pool, queue, self._messages)
        self._state_manager = ConnectorStateManager(state)
        self._catalog = catalog
        self._stream_stats = {}
        progress = SyncProgress(self._stream_stats, self._progress_interval, self._pool.load)
        yield from progress.follow(super().read(logger, config, catalog, state))

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        """The streams of the configured APIs only; during `read`, wrapped for concurrent reading."""
        found = self.api_streams(config)
        if self._catalog is None:
            return list(found)
        self._stream_stats.update((stream.name, stream.stats) for stream in found)
        modes = {configured.stream.name: configured.sync_mode for configured in self._catalog.streams}
        return [self._concurrent(stream, modes.get(stream.name, SyncMode.full_refresh)) for stream in found]

    def api_streams(self, config: Mapping[str, Any]) -> list[ApiStream]:
        """The streams of the configured APIs, as they are (not wrapped for concurrent reading)."""
        found: list[ApiStream] = [
            stream
            for _, section, api in _configured(BillingConfig.parse(config))
            for stream in api.streams(section)
        ]
        names = [stream.name for stream in found]
        if clashes := sorted({name for name in names if names.count(name) > 1}):
            raise config_error(
                f"Two streams would be named {', '.join(clashes)}: rename the search or custom endpoint "
                "stream in `stripe.search_streams` / `stripe.custom_streams`."
            )
        return found

    def _concurrent(self, stream: ApiStream, sync_mode: SyncMode) -> Stream:
        self._pool.pace(stream.name, stream.pacing)
        cursor: Cursor
        state = self._state_manager.get_stream_state(stream.name, stream.namespace)
        if sync_mode == SyncMode.incremental and stream.cursor_field:
            stream.state = state
            cursor = SliceCursor(stream, self._state_manager, self._messages)
        else:
            cursor = FinalStateCursor(stream.name, stream.namespace, self._messages)
        cursor_field = stream.cursor_field if isinstance(stream.cursor_field, str) else None
        stream.spawn = partial(
            self._spawn,
            stream,
            SyncMode.full_refresh if isinstance(cursor, FinalStateCursor) else SyncMode.incremental,
            [cursor_field] if cursor_field else None,
            state,
        )
        return StreamFacade.create_from_stream(stream, self, LOGGER, state, cursor)

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        """The configured catalog; a file that is not one is a `config_error` saying what is wrong."""
        return inputs.read_catalog(catalog_path)

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        """The per-stream state; a malformed or legacy-format file is a `config_error` saying what to do."""
        return inputs.read_state(state_path)

    def _spawn(
        self,
        stream: ApiStream,
        sync_mode: SyncMode,
        cursor_field: list[str] | None,
        state: MutableMapping[str, Any],
        stream_slice: Mapping[str, Any],
    ) -> None:
        """Queue a slice a stream split off while reading, as the framework queues its own partitions:
        before the splitting slice completes, so the stream is not done before its parts are."""
        self._queue.put(
            StreamPartition(stream, dict(stream_slice), self._messages, sync_mode, cursor_field, state)
        )


def _concurrent_source(
    pool: FairThreadPool, queue: Queue[QueueItem], messages: MessageRepository
) -> ConcurrentSource:
    return ConcurrentSource(
        threadpool=pool,
        logger=LOGGER,
        slice_logger=DebugSliceLogger(),
        queue=queue,
        message_repository=messages,
        # Fewer partition generators than workers, so that some workers are always free to read.
        initial_number_partitions_to_generate=max(pool.workers // 2, 1),
    )


def _configured(parsed: BillingConfig) -> list[tuple[str, Any, ModuleType]]:
    """Each configured API: its name, its section of the configuration, and its package."""
    apis = (
        ("Stripe", parsed.stripe, stripe),
        ("Orb", parsed.orb, orb),
        ("integrator.io", parsed.integrator_io, integrator_io),
    )
    return [(name, section, api) for name, section, api in apis if section is not None]


def check_apis(parsed: BillingConfig, logger: logging.Logger) -> str | None:
    """What is wrong with each configured API's credentials or host, a sentence naming each API; None when
    every one answers (one cheap authenticated call each)."""
    problems = []
    for name, section, api in _configured(parsed):
        try:
            problem = api.check(section, logger)
        except AirbyteTracedException as error:
            unreachable = (
                ""
                if error.failure_type == FailureType.config_error
                else f"could not get an answer from {section.api_base_url} (host unreachable, timing out or "
                "failing): "
            )
            problem = f"{name}: {unreachable}{error.message}"
        if problem:
            problems.append(problem)
    return " ".join(problems) or None
