"""Incremental machinery shared by every API: creation-time windows and per-partition cursors.

A stream's records are read in slices: one partition (a Connect account, an Orb customer, or the whole
stream) times one window of creation time. The APIs list newest first, so nothing inside a window says
how far a read has come; a partition's cursor therefore moves only when a window completes, and only over
windows that all completed, so a state message never covers data that was not emitted, even when windows
finish out of order on concurrent workers.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

DEFAULT_PARTITION = "default"
LOGGER = logging.getLogger("airbyte")
# How much of a rejected saved value a warning shows: a state may hold anything, of any size.
SHOWN_CHARS = 80

CursorParser = Callable[[Any], pendulum.DateTime]
"""Reads a saved cursor value back as a moment; raises ValueError or TypeError for a value that is not one."""


def this_second() -> pendulum.DateTime:
    """The start of the current second, UTC: where a sync's windows end (the APIs filter creation times to
    the second, so an object created later in this second is the next sync's)."""
    return pendulum.now("UTC").replace(microsecond=0)


def parse_unix_seconds(value: Any) -> pendulum.DateTime:
    """A cursor saved as whole seconds since the epoch (Stripe's `created`).

    Raises:
        TypeError: the value is not a whole number.
        ValueError: the value is no moment pendulum can represent.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not a whole number of seconds: {type(value).__name__}")
    try:
        return pendulum.from_timestamp(value)
    except (OverflowError, OSError) as error:
        raise ValueError(f"out of range: {error}") from None


def parse_iso_timestamp(value: Any) -> pendulum.DateTime:
    """A cursor saved as an ISO 8601 date-time string (Orb, integrator.io), in UTC.

    Raises:
        TypeError: the value is not a string.
        ValueError: the string is not a date and time.
    """
    if not isinstance(value, str):
        raise TypeError(f"not a date-time string: {type(value).__name__}")
    parsed = pendulum.parse(value)
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError("not a date and time")
    return parsed.in_tz("UTC")


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


def window_params(field: str, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
    """A slice's window as the APIs' filters on `field`: `field[gte]` its start, `field[lt]` its end (each
    left out when the window is open on that side)."""
    bounds = (("gte", stream_slice.get("start")), ("lt", stream_slice.get("end")))
    return {f"{field}[{side}]": value for side, value in bounds if value is not None}


class PartitionedCursor:
    """Cursor values per partition, advanced only over contiguous completed windows. Thread-safe.

    The serialised state is `{partition: {cursor_field: value}}`; values are whatever the stream's cursor
    serialiser produces (unix seconds for Stripe, ISO-8601 strings for Orb and integrator.io), and `parse`
    reads them back.

    Args:
        stream: the stream's name, for the warning about a saved value that does not parse.
        cursor_field: the key of each partition's value in the state.
        parse: reads a saved value; one it refuses is dropped, so the partition is read from its start.
        state: a saved state to adopt.
    """

    def __init__(
        self, stream: str, cursor_field: str, parse: CursorParser, state: Mapping[str, Any] | None = None
    ) -> None:
        self.stream = stream
        self.cursor_field = cursor_field
        self._parse = parse
        self._values: dict[str, Any] = {}
        self._pending: dict[str, deque[Any]] = {}
        self._done: dict[str, set[Any]] = {}
        self._lock = threading.Lock()
        self.set_state(state or {})

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Adopt a saved state. Entries that are not `{cursor_field: value}` objects are ignored; a value
        `parse` refuses (a state edited by hand, or written by another connector) is dropped with one
        warning, and its partition is read from its start date, as if it had never been synced."""
        values: dict[str, Any] = {}
        rejected: dict[str, Any] = {}
        for partition, entry in state.items():
            if not isinstance(entry, Mapping) or entry.get(self.cursor_field) is None:
                continue
            value = entry[self.cursor_field]
            try:
                self._parse(value)
            except (TypeError, ValueError, OverflowError):
                rejected[str(partition)] = value
                continue
            values[str(partition)] = value
        with self._lock:
            self._values = values
        if rejected:
            self._warn_rejected(rejected)

    def _warn_rejected(self, rejected: Mapping[str, Any]) -> None:
        partitions = sorted(rejected)
        shown = repr(rejected[partitions[0]])
        if len(shown) > SHOWN_CHARS:
            shown = shown[:SHOWN_CHARS] + "..."
        if partitions == [DEFAULT_PARTITION]:
            problem, outcome = f"({shown}) is", "the stream is read again from its start date"
        else:
            more = f" and {len(partitions) - 5} more" if len(partitions) > 5 else ""
            problem = f"of {', '.join(partitions[:5])}{more} (such as {shown}) is"
            outcome = "those partitions are read again from their start date"
        LOGGER.warning(
            f"Stream {self.stream}: the saved `{self.cursor_field}` {problem} not a valid cursor: it is "
            f"ignored, and {outcome}."
        )

    def value(self, partition: str) -> Any:
        """The saved cursor of a partition, or None when it was never synced."""
        with self._lock:
            return self._values.get(partition)

    def open(self, partition: str, end: Any) -> None:
        """Announce a window of a partition before it is read (a window split while it is read announces
        its parts then, before the window's own end)."""
        with self._lock:
            bisect.insort(self._pending.setdefault(partition, deque()), end)

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
