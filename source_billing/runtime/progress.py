"""Progress a user can follow in a long sync's log: per stream, at a steady interval, and a closing summary.

Counting costs one attribute increment per record (on the thread that writes the output) and one per
response (in the stream's error handler); nothing is logged per record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from airbyte_cdk.models import AirbyteLogMessage, AirbyteMessage, AirbyteStreamStatus, Level, Type

from source_billing.runtime.scheduling import Load

DEFAULT_INTERVAL_SECONDS = 30.0


@dataclass
class StreamStats:
    """What one stream did so far. Responses are counted on worker threads, hence the lock."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    records: int = 0
    started: float | None = None
    finished: float | None = None
    # What the stream counted besides records, for its closing summary ("objects read again ...": 3).
    notes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, what: str, count: int = 1) -> None:
        """Count something the closing summary reports (`what` says what was counted)."""
        with self._lock:
            self.notes[what] = self.notes.get(what, 0) + count

    def count_response(self, *, retry: bool, rate_limited: bool) -> None:
        """One answer (or transport failure) of the API; `retry` when it will be asked again."""
        with self._lock:
            self.requests += 1
            self.retries += retry
            self.rate_limited += rate_limited

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now) - self.started


class SyncProgress:
    """Turns the counters of every stream into log messages, on the thread that writes the output."""

    def __init__(
        self,
        stats: dict[str, StreamStats],
        interval_seconds: float,
        load: Callable[[str], Load],
    ) -> None:
        """
        Args:
            stats: Each stream's counters.
            interval_seconds: How often streams in progress are reported.
            load: A stream's slices being read and how many it may read at once (the scheduler's), for
                the report.
        """
        self._stats = stats
        self._interval = interval_seconds
        self._load = load
        self._next_report = time.monotonic() + interval_seconds

    def follow(self, messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
        """Pass every message through, adding progress and summary log messages between them."""
        stats = self._stats
        for message in messages:
            if message.type == Type.RECORD and message.record is not None:
                counted = stats.get(message.record.stream)
                if counted is not None:
                    counted.records += 1
            elif message.type == Type.TRACE and message.trace is not None and message.trace.stream_status:
                yield from self._on_status(
                    message.trace.stream_status.stream_descriptor.name, message.trace.stream_status.status
                )
            yield message
            if time.monotonic() >= self._next_report:
                self._next_report = time.monotonic() + self._interval
                yield from self._report()

    def _on_status(self, stream: str, status: AirbyteStreamStatus) -> Iterator[AirbyteMessage]:
        counted = self._stats.get(stream)
        if counted is None:
            return
        now = time.monotonic()
        if status == AirbyteStreamStatus.STARTED:
            counted.started = now
        elif status in (AirbyteStreamStatus.COMPLETE, AirbyteStreamStatus.INCOMPLETE):
            counted.finished = now
            outcome = "complete" if status == AirbyteStreamStatus.COMPLETE else "INCOMPLETE"
            yield log_message(
                f"Stream {stream} {outcome}: {counted.records} records, {counted.requests} requests, "
                f"{counted.retries} retries ({counted.rate_limited} rate-limited), "
                f"in {counted.elapsed(now):.1f} s."
                + "".join(f" {what.capitalize()}: {count}." for what, count in sorted(counted.notes.items()))
            )

    def _report(self) -> Iterator[AirbyteMessage]:
        now = time.monotonic()
        for stream, counted in sorted(self._stats.items()):
            if counted.started is None or counted.finished is not None:
                continue
            elapsed = max(counted.elapsed(now), 1e-9)
            level, in_flight = self._load(stream)
            yield log_message(
                f"Stream {stream} in progress: {counted.records} records, {counted.requests} requests "
                f"({counted.requests / elapsed:.1f}/s), {counted.retries} retries, {counted.rate_limited} "
                f"waits for rate limits, {in_flight} slices being read (of {level} at most now), "
                f"{elapsed:.0f} s so far."
            )


def log_message(text: str, level: Level = Level.INFO) -> AirbyteMessage:
    """A log line for the user, as a message put on the output among the others."""
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=text))
