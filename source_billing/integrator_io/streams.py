"""The integrator.io streams; names carry the `integrator_io_` prefix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpSubStream

from source_billing.incremental import DEFAULT_PARTITION, PartitionedCursor
from source_billing.integrator_io.base import IntegratorIoApi, IntegratorIoStream


class ClientFilteredStream(IntegratorIoStream):
    """A list the API cannot filter by modification time: every sync reads it all and emits what changed.

    Connectors carry `lastModified` but the endpoint has no filter for it, so the cost of a sync stays a full
    read; what incremental saves is the destination's work. Records modified at the saved cursor itself are
    emitted again (>=), since two changes can share a timestamp.
    """

    def __init__(self, *, api: IntegratorIoApi, name: str, path: str, cursor_field: str) -> None:
        self._cursor_field = cursor_field
        self._cursor = PartitionedCursor(cursor_field)
        self._newest_read: Any = None
        super().__init__(api=api, name=name, path=path)

    @property
    def cursor_field(self) -> str:
        return self._cursor_field

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursor.state

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor.set_state(value or {})

    def stream_slices(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        since = self._cursor.value(DEFAULT_PARTITION) if sync_mode == SyncMode.incremental else None
        yield {"since": since}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[StreamData]:
        since = (stream_slice or {}).get("since")
        newest = since
        for record in super().read_records(sync_mode, cursor_field, stream_slice, stream_state):
            value = record.get(self._cursor_field) if isinstance(record, Mapping) else None
            if since is not None and (value is None or value < since):
                continue
            if value is not None and (newest is None or value > newest):
                newest = value
            yield record
        # Committed by close_slice once every record is out; a read that breaks off commits nothing.
        self._newest_read = newest

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        self._cursor.observe(DEFAULT_PARTITION, self._newest_read)


class ConnectorChildStream(HttpSubStream, IntegratorIoStream):
    """A list under each connector (`/connectors/{_id}/...`); there is no top-level list to read instead.

    These objects have no last-modified field and change after creation (expiry, opts, install), so they are
    read in full every sync. Each record names its connector, taken from the parent when the API omits it.
    """

    def __init__(
        self, *, parent: IntegratorIoStream, api: IntegratorIoApi, name: str, child_path: str
    ) -> None:
        self._child_path = child_path
        super().__init__(parent=parent, api=api, name=name, path=child_path)

    def stream_slices(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        # Every connector, always: a parent's incremental filter must never hide a connector's children.
        # Read as a plain list: `read_only_records` would wrap it in the CDK's resumable-full-refresh
        # reader, which calls it again and again until a cursor it expects says the read is complete.
        for record in self.parent.read_records(SyncMode.full_refresh):
            if isinstance(record, Mapping):
                yield {"parent": {"_id": record["_id"]}}

    def path(
        self,
        *,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> str:
        if next_page_token:
            return str(next_page_token["next_url"])
        connector_id = quote((stream_slice or {})["parent"]["_id"], safe="")
        return f"connectors/{connector_id}/{self._child_path}"

    def parse_response(
        self,
        response: requests.Response,
        *,
        stream_state: Mapping[str, Any],
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[MutableMapping[str, Any]]:
        connector_id = (stream_slice or {})["parent"]["_id"]
        for record in super().parse_response(response, stream_state=stream_state, stream_slice=stream_slice):
            if not record.get("_connectorId"):
                record["_connectorId"] = connector_id
            yield record


def build_streams(api: IntegratorIoApi) -> list[IntegratorIoStream]:
    """Every integrator.io stream, sharing one API context."""
    # https://docs.celigo.com/hc/en-us/articles/7707985934107 (GET /v1/connectors and its children)
    name = "integrator_io_connectors"

    def all_connectors() -> IntegratorIoStream:
        # Each child reads its own unfiltered copy of the list: a stream instance remembers that it has
        # completed a full read, and the catalog's connectors stream filters by `lastModified`.
        return IntegratorIoStream(api=api, name=name, path="connectors")

    return [
        ClientFilteredStream(api=api, name=name, path="connectors", cursor_field="lastModified"),
        ConnectorChildStream(
            parent=all_connectors(), api=api, name="integrator_io_licenses", child_path="licenses"
        ),
        ConnectorChildStream(
            parent=all_connectors(), api=api, name="integrator_io_install_base", child_path="installBase"
        ),
    ]
