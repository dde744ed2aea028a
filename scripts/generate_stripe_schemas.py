"""Generate the Stripe stream schemas and the list endpoints index from Stripe's official Python SDK.

Run from the repository root, in the dev environment (it needs the pinned ``stripe`` package)::

    .venv/bin/python -m scripts.generate_stripe_schemas [--output-dir DIR] [--endpoints-file FILE]

``DIR`` defaults to ``source_billing/stripe/schemas``. Each stream's record type is an SDK object class
(``STREAMS`` below), read through its type hints for the SDK's API version (``stripe_sdk.API_VERSION``):
expandable fields are ids (the connector never expands them), free-form maps (``metadata``) open objects,
nested objects cut at ``schema_tools.MAX_DEPTH``; every schema gets the connector-added fields of
``CONNECTOR_FIELDS`` plus, for child streams, the parents' ids.
``FILE`` (``source_billing/stripe/endpoints.json``) records that API version, which the connector pins by
default, and every list endpoint without path parameters, for custom streams: which stream schema its items
share (null when none of ours does) and whether it accepts ``created`` filters.
``unit_tests/test_schemas.py`` fails when the committed files differ from what this script writes.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stripe
from stripe import billing, checkout, entitlements, issuing, radar
from stripe._stripe_object import StripeObject

from scripts.schema_tools import (
    REPO_ROOT,
    JsonSchema,
    SchemaNormalizer,
    nullable,
    open_object,
    render,
    stream_schema,
    with_added_properties,
    write_schemas,
)
from scripts.stripe_sdk import API_VERSION, SdkTypes, check_version, list_endpoints

OUTPUT_DIR = REPO_ROOT / "source_billing" / "stripe" / "schemas"
ENDPOINTS_FILE = REPO_ROOT / "source_billing" / "stripe" / "endpoints.json"


class Cursor(enum.Enum):
    """Which field orders a stream's records.

    CREATED: the object never changes after creation (Stripe sends no update event for it), so its own
        ``created`` timestamp is a sufficient cursor.
    UPDATED: the object changes (or has no ``created`` field); the connector fills ``updated`` with the time
        of the event a record came from, or ``created`` (else the parent's ``updated``) on list reads.
    """

    CREATED = "created"
    UPDATED = "updated"


@dataclass(frozen=True)
class StripeStreamSchema:
    """One stream: its record type in the SDK and the fields the connector relies on.

    Attributes:
        name: stream name (Airbyte source-stripe's).
        sdk_type: the SDK class of one record; None for an object the SDK no longer has, given in ``fields``.
        cursor: created for append-only objects, updated otherwise.
        parent_fields: for child streams, the fields the connector fills with the parent objects' ids.
        fields: the record's fields when there is no SDK class.
        primary_key: the field, or fields, identifying a record.
    """

    name: str
    sdk_type: type[StripeObject] | None
    cursor: Cursor
    parent_fields: tuple[str, ...] = ()
    fields: Mapping[str, JsonSchema] | None = None
    primary_key: str | tuple[str, ...] = "id"

    @property
    def cursor_field(self) -> str:
        return self.cursor.value


_C, _U = Cursor.CREATED, Cursor.UPDATED
_ID = nullable("string")

# Legacy usage record summaries (`GET /v1/subscription_items/{id}/usage_record_summaries`): 2025-03-31.basil
# removed them, so the SDK has no class; the connector reads them in the last version that has them. Their
# fields as Stripe's API reference of 2025-02-24.acacia documents them.
USAGE_RECORD_SUMMARY_FIELDS: Mapping[str, JsonSchema] = {
    "id": _ID,
    "invoice": _ID,
    "livemode": nullable("boolean"),
    "object": nullable("string"),
    "period": open_object({"end": nullable("integer"), "start": nullable("integer")}),
    "subscription_item": _ID,
    "total_usage": nullable("integer"),
}

STREAMS: tuple[StripeStreamSchema, ...] = (
    StripeStreamSchema("accounts", stripe.Account, _U),
    StripeStreamSchema("active_entitlements", entitlements.ActiveEntitlement, _U, ("customer_id",)),
    StripeStreamSchema("application_fees", stripe.ApplicationFee, _U),
    StripeStreamSchema("application_fees_refunds", stripe.ApplicationFeeRefund, _U, ("application_fee_id",)),
    StripeStreamSchema("authorizations", issuing.Authorization, _U),
    StripeStreamSchema("balance_transactions", stripe.BalanceTransaction, _C),
    StripeStreamSchema("bank_accounts", stripe.BankAccount, _U, ("customer_id",)),
    StripeStreamSchema(
        "billing_credit_balance_transactions", billing.CreditBalanceTransaction, _U, ("customer_id",)
    ),
    StripeStreamSchema("billing_credit_grants", billing.CreditGrant, _U),
    # Keyed as the connector declares it: one summary per meter, customer and period start.
    StripeStreamSchema(
        "billing_meter_event_summaries",
        billing.MeterEventSummary,
        _U,
        ("customer_id",),
        primary_key=("meter", "customer_id", "start_time"),
    ),
    StripeStreamSchema("billing_meters", billing.Meter, _U),
    StripeStreamSchema("cardholders", issuing.Cardholder, _U),
    StripeStreamSchema("cards", issuing.Card, _U),
    StripeStreamSchema("charges", stripe.Charge, _U),
    StripeStreamSchema("checkout_sessions", checkout.Session, _U),
    StripeStreamSchema("checkout_sessions_line_items", stripe.LineItem, _U, ("checkout_session_id",)),
    StripeStreamSchema("coupons", stripe.Coupon, _U),
    StripeStreamSchema("credit_note_line_items", stripe.CreditNoteLineItem, _U, ("credit_note_id",)),
    StripeStreamSchema("credit_notes", stripe.CreditNote, _U),
    StripeStreamSchema(
        "customer_balance_transactions", stripe.CustomerBalanceTransaction, _C, ("customer_id",)
    ),
    StripeStreamSchema("customers", stripe.Customer, _U),
    StripeStreamSchema("disputes", stripe.Dispute, _U),
    StripeStreamSchema("early_fraud_warnings", radar.EarlyFraudWarning, _U),
    StripeStreamSchema("entitlements_features", entitlements.Feature, _U),
    StripeStreamSchema("events", stripe.Event, _C),
    StripeStreamSchema("external_account_bank_accounts", stripe.BankAccount, _U, ("account_id",)),
    StripeStreamSchema("external_account_cards", stripe.Card, _U, ("account_id",)),
    StripeStreamSchema("file_links", stripe.FileLink, _C),
    StripeStreamSchema("files", stripe.File, _C),
    StripeStreamSchema("invoice_items", stripe.InvoiceItem, _U),
    StripeStreamSchema("invoice_line_items", stripe.InvoiceLineItem, _U, ("invoice_id",)),
    StripeStreamSchema("invoice_payments", stripe.InvoicePayment, _U),
    StripeStreamSchema("invoices", stripe.Invoice, _U),
    StripeStreamSchema("payment_intents", stripe.PaymentIntent, _U),
    StripeStreamSchema("payment_methods", stripe.PaymentMethod, _U, ("customer_id",)),
    StripeStreamSchema("payout_balance_transactions", stripe.BalanceTransaction, _C, ("payout_id",)),
    StripeStreamSchema("payouts", stripe.Payout, _U),
    StripeStreamSchema("persons", stripe.Person, _U, ("account_id",)),
    StripeStreamSchema("plans", stripe.Plan, _U),
    StripeStreamSchema("prices", stripe.Price, _U),
    StripeStreamSchema("products", stripe.Product, _U),
    StripeStreamSchema("promotion_codes", stripe.PromotionCode, _U),
    StripeStreamSchema("quotes", stripe.Quote, _U),
    StripeStreamSchema("refunds", stripe.Refund, _U),
    StripeStreamSchema("reviews", stripe.Review, _U),
    StripeStreamSchema("setup_attempts", stripe.SetupAttempt, _C, ("setup_intent_id",)),
    StripeStreamSchema("setup_intents", stripe.SetupIntent, _U),
    StripeStreamSchema("shipping_rates", stripe.ShippingRate, _C),
    StripeStreamSchema("subscription_items", stripe.SubscriptionItem, _U, ("subscription_id",)),
    StripeStreamSchema("subscription_schedule", stripe.SubscriptionSchedule, _U),
    StripeStreamSchema("subscriptions", stripe.Subscription, _U),
    StripeStreamSchema("tax_ids", stripe.TaxId, _U, ("customer_id",)),
    StripeStreamSchema("tax_rates", stripe.TaxRate, _U),
    StripeStreamSchema("top_ups", stripe.Topup, _U),
    StripeStreamSchema("transactions", issuing.Transaction, _U),
    StripeStreamSchema("transfer_reversals", stripe.TransferReversal, _C, ("transfer_id",)),
    StripeStreamSchema("transfers", stripe.Transfer, _U),
    StripeStreamSchema(
        "usage_records", None, _U, ("subscription_item_id",), fields=USAGE_RECORD_SUMMARY_FIELDS
    ),
)

# Fields the connector adds to every Stripe record (one shared fragment).
CONNECTOR_FIELDS: Mapping[str, JsonSchema] = {
    # Unix time of the event the record came from; `created` (or the parent's `updated`) on list reads.
    "updated": nullable("integer"),
    # True when the record comes from a `*.deleted` event.
    "is_deleted": nullable("boolean"),
    # The Connect account the record was read from (the `Stripe-Account` header; null for the platform).
    "stripe_account_id": nullable("string"),
}


def build_schemas(streams: Sequence[StripeStreamSchema] = STREAMS) -> dict[str, JsonSchema]:
    """The schema of every stream in ``streams``, keyed by stream name."""
    check_version()
    types = SdkTypes()
    normalizer = SchemaNormalizer(resolve=types.resolve)
    schemas = {}
    for stream in streams:
        if stream.sdk_type is None:
            record = stream_schema(stream.fields or {})
        else:
            record = normalizer.record(types.ref(stream.sdk_type))
        added = {**CONNECTOR_FIELDS, **{name: nullable("string") for name in stream.parent_fields}}
        schemas[stream.name] = with_added_properties(record, added)
    return schemas


def build_endpoints() -> dict[str, Any]:
    """The API version and every list endpoint of it without path parameters (see the module docstring)."""
    check_version()
    stream_of: dict[type[StripeObject], str] = {}
    for stream in STREAMS:
        if stream.sdk_type is not None:
            stream_of.setdefault(stream.sdk_type, stream.name)
    endpoints = {
        path: {
            "created": endpoint.created,
            "schema": stream_of.get(endpoint.items[0]) if len(endpoint.items) == 1 else None,
        }
        for path, endpoint in list_endpoints().items()
    }
    return {"api_version": API_VERSION, "endpoints": endpoints}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the Stripe stream schemas from the stripe SDK.")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where to write <stream>.json")
    parser.add_argument(
        "--endpoints-file", type=Path, default=ENDPOINTS_FILE, help="the API version and list endpoints"
    )
    args = parser.parse_args(argv)
    written = write_schemas(build_schemas(), args.output_dir)
    args.endpoints_file.write_text(render(build_endpoints()), encoding="utf-8")
    print(
        f"wrote {len(written)} Stripe schemas ({API_VERSION}) to {args.output_dir} and the endpoints to "
        f"{args.endpoints_file}"
    )


if __name__ == "__main__":
    main()
