"""Changes after creation, for Orb objects that have no `updated_at`: invoices and subscriptions.

A creation-time cursor never sees an invoice paid or voided, or a subscription ended, after it was first
read. Such objects change only while they are in an open status (a draft, issued or synced invoice; an
active or upcoming subscription), so an incremental sync also re-reads the open population:

1. one extra slice lists every object in an open status (Orb's `status[]` filter, all dates) and emits
   those the creation-time windows of this sync do not cover;
2. the same slice fetches by id each object the previous sync left open that is not open any more (it was
   paid, voided or ended since), and emits it unless a window covers it;
3. the ids of the objects seen open become the state's `open_ids`, read by the next sync.

The cost per sync is a listing of the open population plus one request per object that left it. Objects in
a final status (paid or void invoices, ended subscriptions) are not read again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

import pendulum
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction

from source_billing.incremental.cursors import parse_iso_timestamp
from source_billing.incremental.slice_results import SliceResults
from source_billing.orb.base import OrbApi, OrbWindowedStream, orb_error_mapping, orb_timestamp, warning

OPEN_IDS = "open_ids"
STATUS_FILTER = "status[]"
REFRESH = "refresh"


class ChangeTrackingStream(OrbWindowedStream):
    """An Orb list read by creation-time windows whose open objects are also re-read every incremental sync.

    The state is the windows' cursor plus `open_ids`, the objects that were in an open status when last read.
    """

    def __init__(
        self,
        *,
        api: OrbApi,
        name: str,
        path: str,
        open_statuses: tuple[str, ...],
        cursor_field: str = "created_at",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self._open_statuses = frozenset(open_statuses)
        self._lock = threading.Lock()
        self._saved_open: frozenset[str] = frozenset()
        self._relisted_open: frozenset[str] | None = None
        self._window_open: set[str] = set()
        # Open ids seen by each slice, set by `read_records` and committed by `close_slice`.
        self._seen = SliceResults()
        super().__init__(api=api, name=name, path=path, cursor_field=cursor_field, params=params)
        # An id from the previous sync may be gone: Orb deletes draft invoices it regenerates.
        gone = ErrorResolution(
            ResponseAction.IGNORE,
            None,
            f"Orb answered 404 for an object of {name} that the previous sync saw open: it was "
            "deleted since (Orb deletes the drafts it regenerates).",
        )
        self._lookups = self.side_client(f"{name} lookups", {**orb_error_mapping(), 404: gone})

    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            open_ids = (
                self._saved_open if self._relisted_open is None else self._relisted_open
            ) | self._window_open
        return {**self._cursor.state, OPEN_IDS: sorted(open_ids)}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        value = value or {}
        self._cursor.set_state(value)  # ignores `open_ids`, which is not a partition's cursor
        saved = value.get(OPEN_IDS)
        with self._lock:
            self._saved_open = frozenset(str(i) for i in saved) if isinstance(saved, list) else frozenset()
            self._relisted_open = None
            self._window_open = set()

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        windows = [window for window in super().stream_slices(sync_mode=sync_mode) if window is not None]
        if sync_mode == SyncMode.incremental:
            # What the windows cover, [first start, last end), is theirs to emit; the refresh slice emits
            # the open objects outside it (older, or dated in the future like Orb's upcoming drafts).
            now = orb_timestamp(pendulum.now("UTC"))
            yield {
                REFRESH: True,
                "tracked": sorted(self._saved_open),
                "covered_from": windows[0]["start"] if windows else now,
                "covered_to": windows[-1]["checkpoint"] if windows else now,
            }
        yield from windows

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        if not stream_slice.get(REFRESH):
            return super().params(stream_slice)
        params = super().params({})
        params[STATUS_FILTER] = sorted(self._open_statuses)
        if self._start_date is not None:
            params[f"{self.cursor_field}[gte]"] = orb_timestamp(self._start_date)
        return params

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        if stream_slice.get(REFRESH):
            yield from self._refresh(stream_slice)
            return
        seen: set[str] = set()
        for record in super().read_slice(stream_slice):
            if isinstance(record, Mapping) and record.get("status") in self._open_statuses:
                seen.add(record["id"])
            yield record
        self._seen.put(stream_slice, seen)

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        seen = self._seen.pop(stream_slice) or set()
        with self._lock:
            if stream_slice.get(REFRESH):
                self._relisted_open = frozenset(seen)
            else:
                self._window_open |= seen
        if not stream_slice.get(REFRESH):
            super().close_slice(stream_slice)

    def _refresh(self, stream_slice: Mapping[str, Any]) -> Iterable[StreamData]:
        covered_from = parse_iso_timestamp(stream_slice["covered_from"])
        covered_to = parse_iso_timestamp(stream_slice["covered_to"])

        def uncovered(record: Mapping[str, Any]) -> bool:
            value = record.get(self.cursor_field)
            return value is None or not covered_from <= parse_iso_timestamp(value) < covered_to

        seen: set[str] = set()
        for record in super().read_slice(stream_slice):
            if not isinstance(record, Mapping):
                yield record
                continue
            seen.add(record["id"])
            if uncovered(record):
                yield record
        left = [object_id for object_id in stream_slice["tracked"] if object_id not in seen]
        for object_id in left:
            found = self.fetch(f"{self.url_base}{self.path()}/{quote(object_id, safe='')}", self._lookups)
            if found is None:
                yield warning(
                    f"Orb no longer has {self.name} object {object_id}, which the previous sync saw open: "
                    "it is no longer tracked, and its last synced version stays in the destination until "
                    "a full refresh."
                )
                continue
            if found.get("status") in self._open_statuses:
                seen.add(object_id)
            if uncovered(found):
                yield found
        self._seen.put(stream_slice, seen)
