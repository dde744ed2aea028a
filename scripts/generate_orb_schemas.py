"""Generate the Orb stream schemas from the official Orb SDK's pydantic types.

Run from the repository root, in the dev environment (it needs the ``orb-billing`` package)::

    .venv/bin/python -m scripts.generate_orb_schemas [--output-dir DIR]

``DIR`` defaults to ``source_billing/orb/schemas``. Each stream's record type is an SDK type (``STREAMS``
below); its pydantic JSON Schema (``TypeAdapter(...).json_schema()``) is normalized to the project's rules:
``$defs`` inlined down to ``schema_tools.MAX_DEPTH``, every field nullable, every object open. Types are the
SDK's, i.e. the wire's: money amounts are decimal strings, timestamps ISO-8601 strings, credit ledger
amounts numbers.
The output depends on the SDK version, pinned in ``ORB_BILLING_VERSION``: bump both together.
``orb_subscription_usage`` is the connector's own record shape (one row per subscription x billable metric x
group x day), declared by hand in ``SUBSCRIPTION_USAGE_FIELDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orb
from orb.types import Coupon, CreditNote, Customer, Invoice, Item, Plan, Subscription
from orb.types.billable_metric import BillableMetric
from orb.types.customers.balance_transaction_list_response import BalanceTransactionListResponse
from orb.types.customers.credit_list_response import CreditListResponse
from orb.types.customers.credits.ledger_list_response import LedgerListResponse
from orb.types.license_list_response import LicenseListResponse
from orb.types.license_type_list_response import LicenseTypeListResponse
from orb.types.shared.price import Price
from orb.types.subscription_fetch_schedule_response import SubscriptionFetchScheduleResponse
from pydantic import TypeAdapter

from scripts.schema_tools import (
    REPO_ROOT,
    JsonSchema,
    SchemaNormalizer,
    UnionFields,
    nullable,
    stream_schema,
    with_added_properties,
    write_schemas,
)

ORB_BILLING_VERSION = "4.90.0"
OUTPUT_DIR = REPO_ROOT / "source_billing" / "orb" / "schemas"
_DEFS_REF_PREFIX = "#/$defs/"


@dataclass(frozen=True)
class OrbStreamSchema:
    """One stream: its SDK record type and the fields the connector relies on.

    Attributes:
        name: stream name.
        sdk_type: the SDK type of one record (a pydantic model, or a union of models); None for a record
            shape of the connector's own, given in ``fields``.
        cursor_field: the record's creation-time field the connector filters on, None if the list has no
            such filter.
        union_fields: for a union type, keep the fields "common" to every variant or "all" of them.
        added_fields: fields the connector adds to every record.
        fields: the record's fields when there is no SDK type.
    """

    name: str
    sdk_type: Any
    cursor_field: str | None
    union_fields: UnionFields = "common"
    added_fields: Mapping[str, JsonSchema] | None = None
    fields: Mapping[str, JsonSchema] | None = None

    @property
    def primary_key(self) -> str:
        return "id"

    @property
    def parent_fields(self) -> tuple[str, ...]:
        return ()


_TIMESTAMP = nullable("string", format="date-time")

# One record per subscription x billable metric x [group] x day of `GET /subscriptions/{id}/usage`.
SUBSCRIPTION_USAGE_FIELDS: Mapping[str, JsonSchema] = {
    # Stable composite key of subscription, metric, grouping value and timeframe start.
    "id": nullable("string"),
    "subscription_id": nullable("string"),
    "customer_id": nullable("string"),
    "billable_metric_id": nullable("string"),
    "billable_metric_name": nullable("string"),
    "timeframe_start": _TIMESTAMP,
    "timeframe_end": _TIMESTAMP,
    "quantity": nullable("number"),
    "grouping_key": nullable("string"),
    "grouping_value": nullable("string"),
}

STREAMS: tuple[OrbStreamSchema, ...] = (
    OrbStreamSchema("orb_coupons", Coupon, cursor_field=None),  # Coupon has no created_at.
    OrbStreamSchema("orb_credit_notes", CreditNote, cursor_field="created_at"),
    # Each ledger entry type has its own fields (void_reason, new_block_expiry_date, ...): keep them all.
    OrbStreamSchema(
        "orb_credits_ledger_entries",
        LedgerListResponse,
        cursor_field="created_at",
        union_fields="all",
        added_fields={"customer_id": nullable("string")},
    ),
    OrbStreamSchema("orb_customers", Customer, cursor_field="created_at"),
    OrbStreamSchema("orb_invoices", Invoice, cursor_field="invoice_date"),
    # Items and prices carry `created_at`, but their lists cannot filter on it: read in full every sync.
    OrbStreamSchema("orb_items", Item, cursor_field=None),
    OrbStreamSchema("orb_plans", Plan, cursor_field="created_at"),
    # Price is a union of ~30 price models: their common fields (created_at among them) describe it.
    OrbStreamSchema("orb_prices", Price, cursor_field=None),
    OrbStreamSchema(
        "orb_subscription_usage", None, cursor_field="timeframe_start", fields=SUBSCRIPTION_USAGE_FIELDS
    ),
    OrbStreamSchema("orb_subscriptions", Subscription, cursor_field="created_at"),
    # Metrics carry no created_at; license types no time at all: both read in full every sync.
    OrbStreamSchema("orb_billable_metrics", BillableMetric, cursor_field=None),
    OrbStreamSchema("orb_license_types", LicenseTypeListResponse, cursor_field=None),
    # Licenses are incremental by re-reading open subscriptions' lists; `start_date` is the cursor field.
    OrbStreamSchema("orb_licenses", LicenseListResponse, cursor_field="start_date"),
    # Read per customer (and ledger currency, for blocks, which do not name theirs): the connector adds both.
    OrbStreamSchema(
        "orb_credit_blocks",
        CreditListResponse,
        cursor_field=None,
        added_fields={"customer_id": nullable("string"), "currency": nullable("string")},
    ),
    OrbStreamSchema(
        "orb_customer_balance_transactions",
        BalanceTransactionListResponse,
        cursor_field=None,
        added_fields={"customer_id": nullable("string")},
    ),
    # Schedule entries have no id: the connector builds one from the subscription and the start date.
    OrbStreamSchema(
        "orb_subscription_schedules",
        SubscriptionFetchScheduleResponse,
        cursor_field=None,
        added_fields={"id": nullable("string"), "subscription_id": nullable("string")},
    ),
)


def sdk_record_schema(sdk_type: Any, union_fields: UnionFields = "common") -> JsonSchema:
    """The normalized stream schema of one SDK type."""
    vendor = TypeAdapter(sdk_type).json_schema(mode="validation")
    definitions: Mapping[str, Any] = vendor.get("$defs", {})

    def resolve(ref: str) -> Mapping[str, Any]:
        if not ref.startswith(_DEFS_REF_PREFIX):
            raise ValueError(f"unexpected $ref {ref!r}")
        definition: Mapping[str, Any] = definitions[ref.removeprefix(_DEFS_REF_PREFIX)]
        return definition

    normalizer = SchemaNormalizer(resolve=resolve)
    return normalizer.record({key: value for key, value in vendor.items() if key != "$defs"}, union_fields)


def build_schemas(streams: Sequence[OrbStreamSchema] = STREAMS) -> dict[str, JsonSchema]:
    """The schema of every stream in ``streams``, keyed by stream name."""
    if orb.__version__ != ORB_BILLING_VERSION:
        raise RuntimeError(
            f"orb-billing {orb.__version__} is installed but the schemas are generated from "
            f"{ORB_BILLING_VERSION}: install that version, or bump ORB_BILLING_VERSION and the dev dependency"
        )
    schemas = {}
    for stream in streams:
        if stream.sdk_type is None:
            record = stream_schema(stream.fields or {})
        else:
            record = sdk_record_schema(stream.sdk_type, stream.union_fields)
        schemas[stream.name] = with_added_properties(record, stream.added_fields or {})
    return schemas


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the Orb stream schemas from the orb-billing SDK.")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where to write <stream>.json")
    args = parser.parse_args(argv)
    written = write_schemas(build_schemas(), args.output_dir)
    print(f"wrote {len(written)} Orb schemas to {args.output_dir}")


if __name__ == "__main__":
    main()
