"""The one way a slice's read hands what it found to the slice's close."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import orjson


class SliceResults:
    """What the read of each slice found, held until the framework closes the slice.

    `read_records` runs on a worker and may not touch state; `close_slice` runs later, once every record of
    the slice is out. Several slices may be read at once, so results are kept per slice, under a lock.
    The framework hands `read_records` a deep copy of the slice it later closes: slices are told apart by
    content.
    """

    def __init__(self) -> None:
        self._values: dict[bytes, Any] = {}
        self._lock = threading.Lock()

    def put(self, stream_slice: Mapping[str, Any] | None, value: Any) -> None:
        """Keep the slice's result (replacing an earlier one)."""
        with self._lock:
            self._values[_key(stream_slice)] = value

    def pop(self, stream_slice: Mapping[str, Any] | None) -> Any:
        """The slice's result, or None when its read did not finish; forgotten once taken."""
        with self._lock:
            return self._values.pop(_key(stream_slice), None)


def _key(stream_slice: Mapping[str, Any] | None) -> bytes:
    return orjson.dumps(dict(stream_slice or {}), option=orjson.OPT_SORT_KEYS)
