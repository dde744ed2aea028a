"""Incremental machinery shared by every API: creation-time windows and per-partition cursors.

A stream's records are read in slices: one partition (a Connect account, an Orb customer, or the whole
stream) times one window of creation time. The APIs list newest first, so nothing inside a window says
how far a read has come; a partition's cursor therefore moves only when a window completes, and only over
windows that all completed, so a state message never covers data that was not emitted, even when windows
finish out of order on concurrent workers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

DEFAULT_PARTITION = "default"


@dataclass(frozen=True)
class Window:
    """A half-open interval of creation time, [start, end), in UTC."""

    start: pendulum.DateTime
    end: pendulum.DateTime


def windows(start: pendulum.DateTime, end: pendulum.DateTime, size: pendulum.Duration) -> Iterator[Window]:
    """Consecutive windows covering [start, end), oldest first; none when start >= end."""
    cursor = start
    while cursor < end:
        upper = min(cursor + size, end)
        yield Window(cursor, upper)
        cursor = upper


class PartitionedCursor:
    """Cursor values per partition, advanced only over contiguous completed windows. Thread-safe.

    The serialised state is `{partition: {cursor_field: value}}`; values are whatever the stream's cursor
    serialiser produces (unix seconds for Stripe, ISO-8601 strings for Orb and integrator.io).
    """

    def __init__(self, cursor_field: str, state: Mapping[str, Any] | None = None) -> None:
        self.cursor_field = cursor_field
        self._values: dict[str, Any] = {}
        self._pending: dict[str, deque[Any]] = {}
        self._done: dict[str, set[Any]] = {}
        self._lock = threading.Lock()
        self.set_state(state or {})

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Adopt a saved state; entries that are not `{cursor_field: value}` objects are ignored."""
        with self._lock:
            self._values = {
                str(partition): entry[self.cursor_field]
                for partition, entry in state.items()
                if isinstance(entry, Mapping) and entry.get(self.cursor_field) is not None
            }

    def value(self, partition: str) -> Any:
        """The saved cursor of a partition, or None when it was never synced."""
        with self._lock:
            return self._values.get(partition)

    def open(self, partition: str, end: Any) -> None:
        """Announce a window of a partition, in ascending order of `end`, before it is read."""
        with self._lock:
            self._pending.setdefault(partition, deque()).append(end)

    def close(self, partition: str, end: Any) -> None:
        """Mark a window read in full; advance the partition over every completed window before it."""
        with self._lock:
            pending = self._pending.get(partition)
            if not pending:
                return
            done = self._done.setdefault(partition, set())
            done.add(end)
            while pending and pending[0] in done:
                reached = pending.popleft()
                done.discard(reached)
                current = self._values.get(partition)
                if current is None or reached > current:
                    self._values[partition] = reached

    def set(self, partition: str, value: Any) -> None:
        """Set where the next sync of a partition starts, even backwards (a slice read in one go whose
        end is held back, such as at an entry still pending)."""
        with self._lock:
            self._values[partition] = value

    def observe(self, partition: str, value: Any) -> None:
        """Move a partition's cursor to a value already emitted, for streams read in one slice."""
        with self._lock:
            current = self._values.get(partition)
            if value is not None and (current is None or value > current):
                self._values[partition] = value

    @property
    def state(self) -> dict[str, Any]:
        """The state to save: every partition's cursor."""
        with self._lock:
            return {
                partition: {self.cursor_field: value} for partition, value in sorted(self._values.items())
            }
