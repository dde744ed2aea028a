"""Generate the Stripe stream schemas from Stripe's OpenAPI spec.

Run from the repository root::

    .venv/bin/python -m scripts.generate_stripe_schemas [SPEC_PATH] [--output-dir DIR]

``SPEC_PATH`` defaults to ``../shared/stripe/spec3.yaml`` (relative to the repository root) and ``DIR`` to
``source_billing/stripe/schemas``. Each stream's record type is the ``components.schemas`` entry its list
endpoint returns (``GET /v1/...`` -> ``data.items``); ``STREAMS`` below is the table. Expandable fields stay
``string | object`` without inlining the expansion, nested objects are cut at ``schema_tools.MAX_DEPTH``,
and every schema gets the connector-added fields of ``CONNECTOR_FIELDS`` plus, for child streams, the
parent's id.
``unit_tests/test_schemas.py`` fails when the committed files differ from what this script writes.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.schema_tools import (
    REPO_ROOT,
    JsonSchema,
    SchemaNormalizer,
    nullable,
    render,
    with_added_properties,
    write_schemas,
)

DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "stripe" / "spec3.yaml"
OUTPUT_DIR = REPO_ROOT / "source_billing" / "stripe" / "schemas"
ENDPOINTS_FILE = REPO_ROOT / "source_billing" / "stripe" / "endpoints.json"
_COMPONENT_REF_PREFIX = "#/components/schemas/"


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
    """One stream: its record type in the spec and the fields the connector relies on.

    Attributes:
        name: stream name (Airbyte source-stripe's).
        component: ``components.schemas`` key of the list endpoint's ``data`` items.
        cursor: created for append-only objects, updated otherwise.
        parent_field: for child streams, the field the connector fills with the parent object's id.
    """

    name: str
    component: str
    cursor: Cursor
    parent_field: str | None = None

    @property
    def primary_key(self) -> str:
        return "id"

    @property
    def cursor_field(self) -> str:
        return self.cursor.value


_C, _U = Cursor.CREATED, Cursor.UPDATED

STREAMS: tuple[StripeStreamSchema, ...] = (
    StripeStreamSchema("accounts", "account", _U),
    StripeStreamSchema("application_fees", "application_fee", _U),
    StripeStreamSchema("application_fees_refunds", "fee_refund", _U, parent_field="application_fee_id"),
    StripeStreamSchema("authorizations", "issuing.authorization", _U),
    StripeStreamSchema("balance_transactions", "balance_transaction", _C),
    StripeStreamSchema("bank_accounts", "bank_account", _U, parent_field="customer_id"),
    StripeStreamSchema("cardholders", "issuing.cardholder", _U),
    StripeStreamSchema("cards", "issuing.card", _U),
    StripeStreamSchema("charges", "charge", _U),
    StripeStreamSchema("checkout_sessions", "checkout.session", _U),
    StripeStreamSchema("checkout_sessions_line_items", "item", _U, parent_field="checkout_session_id"),
    StripeStreamSchema("coupons", "coupon", _U),
    StripeStreamSchema("credit_note_line_items", "credit_note_line_item", _U, parent_field="credit_note_id"),
    StripeStreamSchema("credit_notes", "credit_note", _U),
    StripeStreamSchema(
        "customer_balance_transactions", "customer_balance_transaction", _C, parent_field="customer_id"
    ),
    StripeStreamSchema("customers", "customer", _U),
    StripeStreamSchema("disputes", "dispute", _U),
    StripeStreamSchema("early_fraud_warnings", "radar.early_fraud_warning", _U),
    StripeStreamSchema("events", "event", _C),
    StripeStreamSchema("external_account_bank_accounts", "bank_account", _U, parent_field="account_id"),
    StripeStreamSchema("external_account_cards", "card", _U, parent_field="account_id"),
    StripeStreamSchema("file_links", "file_link", _C),
    StripeStreamSchema("files", "file", _C),
    StripeStreamSchema("invoice_items", "invoiceitem", _U),
    StripeStreamSchema("invoice_line_items", "line_item", _U, parent_field="invoice_id"),
    StripeStreamSchema("invoices", "invoice", _U),
    StripeStreamSchema("payment_intents", "payment_intent", _U),
    StripeStreamSchema("payment_methods", "payment_method", _U, parent_field="customer_id"),
    StripeStreamSchema("payout_balance_transactions", "balance_transaction", _C, parent_field="payout_id"),
    StripeStreamSchema("payouts", "payout", _U),
    StripeStreamSchema("persons", "person", _U, parent_field="account_id"),
    StripeStreamSchema("plans", "plan", _U),
    StripeStreamSchema("prices", "price", _U),
    StripeStreamSchema("products", "product", _U),
    StripeStreamSchema("promotion_codes", "promotion_code", _U),
    StripeStreamSchema("quotes", "quote", _U),
    StripeStreamSchema("refunds", "refund", _U),
    StripeStreamSchema("reviews", "review", _U),
    StripeStreamSchema("setup_attempts", "setup_attempt", _C, parent_field="setup_intent_id"),
    StripeStreamSchema("setup_intents", "setup_intent", _U),
    StripeStreamSchema("shipping_rates", "shipping_rate", _C),
    StripeStreamSchema("subscription_items", "subscription_item", _U, parent_field="subscription_id"),
    StripeStreamSchema("subscription_schedule", "subscription_schedule", _U),
    StripeStreamSchema("subscriptions", "subscription", _U),
    StripeStreamSchema("tax_ids", "tax_id", _U, parent_field="customer_id"),
    StripeStreamSchema("tax_rates", "tax_rate", _U),
    StripeStreamSchema("top_ups", "topup", _U),
    StripeStreamSchema("transactions", "issuing.transaction", _U),
    StripeStreamSchema("transfer_reversals", "transfer_reversal", _C, parent_field="transfer_id"),
    StripeStreamSchema("transfers", "transfer", _U),
    StripeStreamSchema("usage_records", "usage_record_summary", _U, parent_field="subscription_item_id"),
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


def load_spec(path: Path) -> Mapping[str, Any]:
    """Parse the OpenAPI document (with libyaml's safe loader when available: the spec is 4 MB)."""
    text = path.read_text(encoding="utf-8")
    spec: Mapping[str, Any] = (
        yaml.load(text, Loader=yaml.CSafeLoader) if yaml.__with_libyaml__ else yaml.safe_load(text)
    )
    return spec


def build_schemas(
    spec: Mapping[str, Any], streams: Sequence[StripeStreamSchema] = STREAMS
) -> dict[str, JsonSchema]:
    """The schema of every stream in ``streams``, keyed by stream name."""
    components: Mapping[str, Any] = spec["components"]["schemas"]

    def resolve(ref: str) -> Mapping[str, Any]:
        if not ref.startswith(_COMPONENT_REF_PREFIX):
            raise ValueError(f"unexpected $ref {ref!r}")
        component: Mapping[str, Any] = components[ref.removeprefix(_COMPONENT_REF_PREFIX)]
        return component

    normalizer = SchemaNormalizer(resolve=resolve, collapse_expandable=True)
    schemas = {}
    for stream in streams:
        added = dict(CONNECTOR_FIELDS)
        if stream.parent_field:
            added[stream.parent_field] = nullable("string")
        record = normalizer.record({"$ref": _COMPONENT_REF_PREFIX + stream.component})
        schemas[stream.name] = with_added_properties(record, added)
    return schemas


def build_endpoints(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every list endpoint without path parameters, for custom streams: which stream schema its items share
    (null when none of ours does) and whether it accepts `created` filters."""
    by_component: dict[str, str] = {}
    for stream in STREAMS:
        by_component.setdefault(stream.component, stream.name)
    endpoints = {}
    for path, operations in sorted(spec["paths"].items()):
        get = operations.get("get")
        if not get or "{" in path:
            continue
        body = (
            get["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        )
        properties = body.get("properties", {})
        if properties.get("object", {}).get("enum") != ["list"] or "data" not in properties:
            continue
        item_ref = properties["data"].get("items", {}).get("$ref", "")
        component = item_ref.removeprefix(_COMPONENT_REF_PREFIX) if item_ref else None
        query = {parameter["name"] for parameter in get.get("parameters", []) if parameter["in"] == "query"}
        endpoints[path] = {"schema": by_component.get(component or ""), "created": "created" in query}
    return endpoints


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the Stripe stream schemas from spec3.yaml.")
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC, help="Stripe's spec3.yaml")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where to write <stream>.json")
    parser.add_argument(
        "--endpoints-file", type=Path, default=ENDPOINTS_FILE, help="the list endpoints index"
    )
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    written = write_schemas(build_schemas(spec), args.output_dir)
    args.endpoints_file.write_text(render(build_endpoints(spec)), encoding="utf-8")
    print(
        f"wrote {len(written)} Stripe schemas to {args.output_dir} and the endpoints to {args.endpoints_file}"
    )


if __name__ == "__main__":
    main()
