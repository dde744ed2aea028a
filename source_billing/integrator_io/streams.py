"""The integrator.io streams; names carry the `integrator_io_` prefix.

References: connectors, licenses and install base https://docs.celigo.com/hc/en-us/articles/7707985934107;
integrations, flows and jobs https://github.com/celigo/integrator-api-docs (integration.md, flow.md, job.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_billing.http.pages import Records
from source_billing.incremental.cursors import DEFAULT_PARTITION
from source_billing.integrator_io.base import CursoredStream, IntegratorIoApi, IntegratorIoStream
from source_billing.integrator_io.jobs import JobsStream


class ClientFilteredStream(CursoredStream):
    """A list the API cannot filter by modification time: every sync reads it all and emits what changed.

    Connectors carry `lastModified` but the endpoint has no filter for it, so the cost of a sync stays a full
    read; what incremental saves is the destination's work. Records modified at the saved cursor itself are
    emitted again (>=), since two changes can share a timestamp.
    """

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        since = self._cursor.value(DEFAULT_PARTITION) if sync_mode == SyncMode.incremental else None
        yield {"since": since}

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        since = stream_slice.get("since")
        newest = since
        for record in super().read_slice(stream_slice):
            value = record.get(self.cursor_field) if isinstance(record, Mapping) else None
            if since is not None and (value is None or value < since):
                continue
            if value is not None and (newest is None or value > newest):
                newest = value
            yield record
        self.reached.put(stream_slice, newest)


class ConnectorChildStream(IntegratorIoStream):
    """A list under each connector (`/connectors/{_id}/...`); there is no top-level list to read instead.

    Each connector is one slice, so the framework reads the connectors' lists on concurrent workers. These
    objects have no last-modified field and change after creation (expiry, opts, install), so they are read
    in full every sync. Each record names its connector, taken from the parent when the API omits it.
    """

    def __init__(
        self, *, connectors: IntegratorIoStream, api: IntegratorIoApi, name: str, child_path: str
    ) -> None:
        self._connectors = connectors
        self._child_path = child_path
        super().__init__(api=api, name=name, path=f"connectors/{{connector_id}}/{child_path}")

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        # Every connector, always: the catalog's connectors stream may filter by `lastModified`, which must
        # never hide a connector's children. Read as a plain list: the CDK's `read_only_records` would wrap
        # it in a checkpoint reader that expects a resumable-full-refresh cursor.
        for record in self._connectors.read_records(SyncMode.full_refresh):
            if isinstance(record, Mapping):
                yield {"parent": {"_id": record["_id"]}}

    def path(self, *, stream_slice: Mapping[str, Any] | None = None, **_: Any) -> str:
        connector_id = quote((stream_slice or {})["parent"]["_id"], safe="")
        return f"connectors/{connector_id}/{self._child_path}"

    def page_records(self, records: Records, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        connector_id = stream_slice["parent"]["_id"]
        for record in records:
            if not record.get("_connectorId"):
                record["_connectorId"] = connector_id
            yield record


def build_streams(api: IntegratorIoApi) -> list[IntegratorIoStream]:
    """Every integrator.io stream, sharing one API context (credentials and rate budget)."""
    connectors = "integrator_io_connectors"

    def all_connectors() -> IntegratorIoStream:
        # Each child lists the connectors itself, unfiltered, on its own thread.
        return IntegratorIoStream(api=api, name=connectors, path="connectors")

    return [
        # GET /v1/connectors: the ISV's published integration apps.
        ClientFilteredStream(api=api, name=connectors, path="connectors", cursor_field="lastModified"),
        # GET /v1/connectors/{_id}/licenses: what the ISV provisioned to each customer.
        ConnectorChildStream(
            connectors=all_connectors(), api=api, name="integrator_io_licenses", child_path="licenses"
        ),
        # GET /v1/connectors/{_id}/installBase: where each connector is installed.
        ConnectorChildStream(
            connectors=all_connectors(), api=api, name="integrator_io_install_base", child_path="installBase"
        ),
        # GET /v1/integrations and /v1/flows: small lists read in full, so deletions leave the destination.
        IntegratorIoStream(api=api, name="integrator_io_integrations", path="integrations"),
        IntegratorIoStream(api=api, name="integrator_io_flows", path="flows"),
        # GET /v1/jobs: flow runs, incremental on `createdAt`.
        JobsStream(api=api, name="integrator_io_jobs"),
    ]
