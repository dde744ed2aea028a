"""The Orb streams: one declaration row per list endpoint, names prefixed `orb_`, and one per list under
each customer or subscription (`children.py`); the credit ledger and subscription usage are classes of their
own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from source_billing.orb.base import OrbApi, OrbStream, OrbWindowedStream
from source_billing.orb.changes import ChangeTrackingStream
from source_billing.orb.children import OrbChildObject, OrbChildStream
from source_billing.orb.ledger import CreditsLedgerEntriesStream
from source_billing.orb.parent_tracking import ParentTrackingStream
from source_billing.orb.usage import SubscriptionUsageStream

DOCS = "https://docs.withorb.com/api-reference"
INVOICE_STATUSES = ("draft", "issued", "paid", "synced", "void")


@dataclass(frozen=True)
class OrbObject:
    """One Orb list endpoint read as a stream.

    Attributes:
        name: the stream name.
        path: the list path below `/v1/`.
        reference: the endpoint's documentation.
        cursor_field: the creation-time field Orb filters on (`[gte]`, `[lt]`); None when the endpoint has no
            such filter, and the stream is read in full every sync.
        params: query parameters sent with every request.
        open_statuses: statuses in which objects still change; those objects are re-read every incremental
            sync (see `changes.py`).
    """

    name: str
    path: str
    reference: str
    cursor_field: str | None = "created_at"
    params: tuple[tuple[str, Any], ...] = ()
    open_statuses: tuple[str, ...] = ()


STREAMS: tuple[OrbObject, ...] = (
    OrbObject("orb_customers", "customers", f"{DOCS}/customer/list-customers"),
    OrbObject(
        "orb_subscriptions",
        "subscriptions",
        f"{DOCS}/subscription/list-subscriptions",
        open_statuses=("active", "upcoming"),
    ),
    OrbObject("orb_plans", "plans", f"{DOCS}/plan/list-plans"),
    OrbObject(
        "orb_invoices",
        "invoices",
        f"{DOCS}/invoice/list-invoices",
        # Orb's invoices filter on their date, not their creation; without `status[]` Orb omits drafts and
        # voids. Only paid and void are final: Orb marks issued and synced (external invoicing) ones paid.
        cursor_field="invoice_date",
        params=(("status[]", INVOICE_STATUSES),),
        open_statuses=("draft", "issued", "synced"),
    ),
    OrbObject("orb_credit_notes", "credit_notes", f"{DOCS}/credit-note/list-credit-notes"),
    # Coupons, items and prices have no creation-time filter; archived coupons are hidden by default.
    OrbObject(
        "orb_coupons",
        "coupons",
        f"{DOCS}/coupon/list-coupons",
        cursor_field=None,
        params=(("show_archived", "true"),),
    ),
    OrbObject("orb_items", "items", f"{DOCS}/item/list-items", cursor_field=None),
    OrbObject("orb_prices", "prices", f"{DOCS}/price/list-prices", cursor_field=None),
    # Metrics change after creation (archived, renamed) and carry no `created_at` for a cursor, though the
    # list filters on it: a short list, read in full. License types have no time filter at all.
    OrbObject("orb_billable_metrics", "metrics", f"{DOCS}/metric/list-metrics", cursor_field=None),
    OrbObject(
        "orb_license_types", "license_types", f"{DOCS}/license-type/list-license-types", cursor_field=None
    ),
)

# Lists under each customer or subscription.
CHILD_STREAMS: tuple[OrbChildObject, ...] = (
    # Licenses change while their subscription is open (deactivated, ended): see `parent_tracking.py`.
    OrbChildObject(
        "orb_licenses",
        "subscriptions",
        "licenses",
        f"{DOCS}/license/list-licenses",
        parent_param="subscription_id",
        open_parent_statuses=("active", "upcoming"),
    ),
    # Every block, expired and depleted ones included, in each ledger currency the customer may use.
    OrbChildObject(
        "orb_credit_blocks",
        "customers",
        "customers/{parent_id}/credits",
        f"{DOCS}/credit/fetch-customer-credit-balance-by-customer-id",
        params=(("include_all_blocks", "true"),),
        per_currency=True,
    ),
    OrbChildObject(
        "orb_customer_balance_transactions",
        "customers",
        "customers/{parent_id}/balance_transactions",
        f"{DOCS}/customer/list-balance-transactions",
    ),
    # A subscription's plans over time, scheduled changes included; entries have no id of their own.
    OrbChildObject(
        "orb_subscription_schedules",
        "subscriptions",
        "subscriptions/{parent_id}/schedule",
        f"{DOCS}/subscription/fetch-subscription-schedule",
        id_fields=("start_date",),
    ),
)


def build_stream(api: OrbApi, row: OrbObject) -> OrbStream:
    """The stream of one declaration row."""
    params = dict(row.params)
    if row.cursor_field is None:
        return OrbStream(api=api, name=row.name, path=row.path, params=params)
    if row.open_statuses:
        return ChangeTrackingStream(
            api=api,
            name=row.name,
            path=row.path,
            cursor_field=row.cursor_field,
            params=params,
            open_statuses=row.open_statuses,
        )
    return OrbWindowedStream(
        api=api, name=row.name, path=row.path, cursor_field=row.cursor_field, params=params
    )


def build_streams(api: OrbApi) -> list[OrbStream]:
    """Every Orb stream, sharing one API context (and so one rate budget)."""
    streams = [build_stream(api, row) for row in STREAMS]
    streams.append(CreditsLedgerEntriesStream(api=api))
    streams.append(SubscriptionUsageStream(api=api))
    for child in CHILD_STREAMS:
        if child.open_parent_statuses:
            streams.append(ParentTrackingStream(api=api, row=child))
        else:
            streams.append(OrbChildStream(api=api, row=child))
    return streams
