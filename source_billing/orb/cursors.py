"""Orb streams read in one slice per partition per sync (a customer's ledger, a subscription's usage), whose
next cursor comes from what the slice read: the ledger holds its cursor back at its oldest pending entry,
usage at its last, still growing, day."""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping, MutableMapping
from typing import Any

from source_billing.orb.base import OrbStream


class PartitionCursors:
    """One cursor value per partition. Thread-safe.

    The serialised state is `{partition: {cursor_field: value}}`, like the windowed streams'.
    """

    def __init__(self, cursor_field: str) -> None:
        self.cursor_field = cursor_field
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

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

    def set(self, partition: str, value: Any) -> None:
        """Record where the next sync of a partition starts (before its lookback)."""
        with self._lock:
            self._values[partition] = value

    @property
    def state(self) -> dict[str, Any]:
        """The state to save: every partition's cursor."""
        with self._lock:
            return {
                partition: {self.cursor_field: value} for partition, value in sorted(self._values.items())
            }


class PartitionedOrbStream(OrbStream):
    """An Orb stream with a slice per partition (`stream_slice["partition"]`) and a cursor per partition.

    `read_records` reports what it saw with `observe`; `close_slice`, once the slice's records are out, turns
    that into the partition's cursor (`cursor_after`).
    """

    def __init__(self, *, cursor_field: str, **kwargs: Any) -> None:
        self._cursors = PartitionCursors(cursor_field)
        self._observed: dict[str, Any] = {}
        self._observed_lock = threading.Lock()
        super().__init__(**kwargs)

    @property
    def cursor_field(self) -> str:
        return self._cursors.cursor_field

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursors.state

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursors.set_state(value or {})

    def observe(self, partition: str, value: Any) -> None:
        """What a slice's read saw that decides its partition's cursor (kept until the slice closes)."""
        with self._observed_lock:
            self._observed[partition] = value

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        partition = stream_slice["partition"]
        with self._observed_lock:
            observed = self._observed.pop(partition, None)
        value = self.cursor_after(stream_slice, observed)
        if value is not None:
            self._cursors.set(partition, value)

    @abstractmethod
    def cursor_after(self, stream_slice: Mapping[str, Any], observed: Any) -> Any:
        """The partition's cursor once the slice is read, from what `read_records` observed (None if it
        observed nothing); None keeps the saved cursor."""
