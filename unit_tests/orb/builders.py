"""Builders for offline Orb tests: configuration, streams, Orb-shaped pages and objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.models import AirbyteMessage, SyncMode

from source_billing.config import BillingConfig
from source_billing.orb import streams as orb_streams
from source_billing.orb.base import OrbStream

BASE = "https://api.orb.test"
V1 = f"{BASE}/v1"
API_KEY = "orb_SENTINEL_KEY"


def orb_config(**orb: Any) -> dict[str, Any]:
    """A raw configuration with only an Orb section."""
    return {"orb": {"api_key": API_KEY, "api_base_url": BASE, **orb}}


def stream(name: str, **orb: Any) -> OrbStream:
    """One Orb stream of a configuration."""
    parsed = BillingConfig.parse(orb_config(**orb))
    assert parsed.orb is not None
    return next(s for s in orb_streams(parsed.orb) if s.name == name)


def page(items: list[dict[str, Any]], next_cursor: str | None = None) -> dict[str, Any]:
    """One page of an Orb list."""
    return {
        "data": items,
        "pagination_metadata": {"has_more": next_cursor is not None, "next_cursor": next_cursor},
    }


def customer(n: int, created_at: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"id": f"cus_{n}", "created_at": created_at, "email": f"user{n}@example.com"}


def invoice(n: int, status: str, invoice_date: str = "2024-06-01T00:00:00Z") -> dict[str, Any]:
    return {"id": f"inv_{n}", "status": status, "invoice_date": invoice_date, "total": "10.00"}


def entry(
    n: int,
    created_at: str = "2024-06-01T00:00:00Z",
    event_id: str | None = None,
    entry_status: str = "committed",
    entry_type: str = "decrement",
) -> dict[str, Any]:
    """A credit ledger entry."""
    return {
        "id": f"le_{n}",
        "created_at": created_at,
        "entry_type": entry_type,
        "entry_status": entry_status,
        "amount": -1.0,
        "event_id": event_id,
    }


def read_slices(
    target: OrbStream, sync_mode: SyncMode = SyncMode.incremental
) -> tuple[list[dict[str, Any]], list[AirbyteMessage]]:
    """Read every slice as the concurrent framework does (records, then close), returning records and the
    other messages."""
    records: list[dict[str, Any]] = []
    messages: list[AirbyteMessage] = []
    for stream_slice in list(target.stream_slices(sync_mode=sync_mode)):
        assert stream_slice is not None
        for item in target.read_records(SyncMode.full_refresh, stream_slice=stream_slice):
            if isinstance(item, Mapping):
                records.append(dict(item))
            else:
                assert isinstance(item, AirbyteMessage)
                messages.append(item)
        if sync_mode == SyncMode.incremental:
            target.close_slice(stream_slice)
    return records, messages


def ids(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(record["id"]) for record in records]
