"""The Stripe streams, one declaration row each.

Names follow Airbyte's source-stripe so its users keep their tables. Each row links its API reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from source_billing.stripe.base import StripeApi, StripeStream


@dataclass(frozen=True)
class StripeObject:
    """One Stripe list endpoint read as a stream."""

    name: str
    path: str
    cursor_field: str
    reference: str


STREAMS: tuple[StripeObject, ...] = (
    StripeObject("customers", "customers", "updated", "https://docs.stripe.com/api/customers/list"),
)


def build_streams(api: StripeApi) -> list[StripeStream]:
    """Every declared Stripe stream, sharing one API context."""
    return [
        StripeStream(api=api, name=row.name, path=row.path, cursor_field=row.cursor_field) for row in STREAMS
    ]
