"""Builders for the integrator.io unit tests: config, streams, records, and a read that closes slices as the
concurrent framework does."""

from __future__ import annotations

from typing import Any

from airbyte_cdk.models import SyncMode

from source_billing.config import BillingConfig, IntegratorIoConfig
from source_billing.integrator_io import streams as integrator_io_streams
from source_billing.integrator_io.base import IntegratorIoStream

BASE = "https://api.integrator.io"
EU_BASE = "https://api.eu.integrator.io"
TOKEN = "SENTINEL0integrator0token"


def config(**section: Any) -> IntegratorIoConfig:
    parsed = BillingConfig.parse({"integrator_io": {"api_token": TOKEN, **section}})
    assert parsed.integrator_io is not None
    return parsed.integrator_io


def stream(name: str, **section: Any) -> IntegratorIoStream:
    return next(s for s in integrator_io_streams(config(**section)) if s.name == f"integrator_io_{name}")


def read(
    target: IntegratorIoStream, sync_mode: SyncMode = SyncMode.full_refresh, *, close: bool = True
) -> list[dict[str, Any]]:
    """Every record of every slice; like the framework, `read_records` always gets full_refresh and each
    slice is closed after its last record."""
    records: list[dict[str, Any]] = []
    for stream_slice in target.stream_slices(sync_mode=sync_mode):
        records.extend(
            dict(record)
            for record in target.read_records(SyncMode.full_refresh, stream_slice=stream_slice)
            if isinstance(record, dict)
        )
        if close and stream_slice is not None:
            target.close_slice(stream_slice)
    return records


def connector(n: int, last_modified: str = "2024-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {"_id": f"c{n:023d}", "name": f"Connector {n}", "lastModified": last_modified}


def job(n: int, created: str, **fields: Any) -> dict[str, Any]:
    return {"_id": f"j{n:023d}", "type": "flow", "createdAt": created, "endedAt": created, **fields}


def link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="next"'}
