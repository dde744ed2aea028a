"""The Orb streams, one declaration row each; names carry the `orb_` prefix."""

from __future__ import annotations

from dataclasses import dataclass

from source_billing.orb.base import OrbApi, OrbStream


@dataclass(frozen=True)
class OrbObject:
    """One Orb list endpoint read as a stream."""

    name: str
    path: str
    cursor_field: str
    reference: str


STREAMS: tuple[OrbObject, ...] = (
    OrbObject(
        "orb_customers",
        "customers",
        "created_at",
        "https://docs.withorb.com/api-reference/customer/list-customers",
    ),
)


def build_streams(api: OrbApi) -> list[OrbStream]:
    """Every declared Orb stream, sharing one API context."""
    return [
        OrbStream(api=api, name=row.name, path=row.path, cursor_field=row.cursor_field) for row in STREAMS
    ]
