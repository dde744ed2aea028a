"""Orb streams read in one slice per partition per sync (a subscription's usage), whose next cursor comes
from what the slice read: usage holds its cursor back at its last, still growing, day."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from source_billing.incremental.cursors import PartitionedCursor, parse_iso_timestamp
from source_billing.incremental.slice_results import SliceResults
from source_billing.orb.base import OrbStream


class PartitionedOrbStream(OrbStream):
    """An Orb stream with a slice per partition (`stream_slice["partition"]`) and a cursor per partition.

    `read_records` reports what it saw with `observe`; `close_slice`, once the slice's records are out, turns
    that into the partition's cursor (`cursor_after`).
    """

    _cursor: PartitionedCursor

    def __init__(self, *, name: str, cursor_field: str, **kwargs: Any) -> None:
        self._cursor = PartitionedCursor(name, cursor_field, parse_iso_timestamp)
        self._observed = SliceResults()
        super().__init__(name=name, **kwargs)

    @property
    def cursor_field(self) -> str:
        return self._cursor.cursor_field

    def observe(self, stream_slice: Mapping[str, Any], value: Any) -> None:
        """What a slice's read saw that decides its partition's cursor (kept until the slice closes)."""
        self._observed.put(stream_slice, value)

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        value = self.cursor_after(stream_slice, self._observed.pop(stream_slice))
        if value is not None:
            self._cursor.set(stream_slice["partition"], value)

    @abstractmethod
    def cursor_after(self, stream_slice: Mapping[str, Any], observed: Any) -> Any:
        """The partition's cursor once the slice is read, from what `read_records` observed (None if it
        observed nothing); None keeps the saved cursor."""
