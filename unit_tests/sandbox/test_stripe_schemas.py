"""Every Stripe object the sandbox serves is valid against the connector's schema of the matching stream,
and every event type it emits is one of the event types of the pinned API version (the `stripe` SDK's)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from sandbox.app import Sandbox, SandboxOptions
from sandbox.stripe_accounts import LINK_VIEWS
from sandbox.stripe_resources import STRIPE_RESOURCES
from scripts.stripe_sdk import API_VERSION, event_types

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "source_billing" / "stripe" / "schemas"

# Sandbox resource (control API name) -> the connector stream whose records are its objects; resources
# that mix two object kinds map each ``object`` value.
STREAM_OF: dict[str, str | dict[str, str]] = {
    "products": "products",
    "prices": "prices",
    "plans": "plans",
    "coupons": "coupons",
    "tax_rates": "tax_rates",
    "shipping_rates": "shipping_rates",
    "customers": "customers",
    "payment_methods": "payment_methods",
    "promotion_codes": "promotion_codes",
    "subscriptions": "subscriptions",
    "subscription_items": "subscription_items",
    "invoices": "invoices",
    "invoice_line_items": "invoice_line_items",
    "invoiceitems": "invoice_items",
    "credit_notes": "credit_notes",
    "credit_note_line_items": "credit_note_line_items",
    "payment_intents": "payment_intents",
    "charges": "charges",
    "refunds": "refunds",
    "disputes": "disputes",
    "payouts": "payouts",
    "balance_transactions": "balance_transactions",
    "payout_balance_transactions": "payout_balance_transactions",
    "transfers": "transfers",
    "application_fees": "application_fees",
    "setup_intents": "setup_intents",
    "files": "files",
    "file_links": "file_links",
    "checkout_sessions": "checkout_sessions",
    "checkout_session_line_items": "checkout_sessions_line_items",
    "subscription_schedules": "subscription_schedule",
    "topups": "top_ups",
    "quotes": "quotes",
    "customer_sources": {"bank_account": "bank_accounts", "card": "external_account_cards"},
    "tax_ids": "tax_ids",
    "customer_balance_transactions": "customer_balance_transactions",
    "usage_record_summaries": "usage_records",
    "setup_attempts": "setup_attempts",
    "early_fraud_warnings": "early_fraud_warnings",
    "reviews": "reviews",
    "transfer_reversals": "transfer_reversals",
    "application_fee_refunds": "application_fees_refunds",
    "issuing_cardholders": "cardholders",
    "issuing_cards": "cards",
    "issuing_authorizations": "authorizations",
    "issuing_transactions": "transactions",
    "accounts": "accounts",
    "external_accounts": {"bank_account": "external_account_bank_accounts", "card": "external_account_cards"},
    "persons": "persons",
    "billing_meters": "billing_meters",
    "entitlements_features": "entitlements_features",
    "active_entitlements": "active_entitlements",
    "billing_credit_grants": "billing_credit_grants",
    "billing_credit_balance_transactions": "billing_credit_balance_transactions",
    "invoice_payments": "invoice_payments",
    "events": "events",
}


@cache
def _validator(stream: str) -> Draft7Validator:
    return Draft7Validator(json.loads((SCHEMAS / f"{stream}.json").read_text(encoding="utf-8")))


def _errors(resource: str, obj: dict[str, Any]) -> list[str]:
    target = STREAM_OF[resource]
    stream = target if isinstance(target, str) else target[obj["object"]]
    record = {key: value for key, value in obj.items() if key != "_parent"}
    return [
        f"{resource} {obj['id']} {list(e.path)}: {e.message}" for e in _validator(stream).iter_errors(record)
    ]


def test_given_every_resource_when_seeded_then_objects_are_valid_for_the_connector_schemas() -> None:
    api = Sandbox(SandboxOptions(scale=40, now=1_790_000_000)).apis["stripe"]
    names = [row.name for row in STRIPE_RESOURCES] + list(LINK_VIEWS) + ["events"]
    assert set(names) == set(STREAM_OF), "every resource maps to a connector stream"
    errors: list[str] = []
    for resource in names:
        objects = api.control_objects(resource, None)
        assert objects, f"{resource} is seeded"
        for obj in objects:
            errors += _errors(resource, obj)
    assert errors == []


def test_given_every_row_when_reading_its_event_types_then_stripe_has_them_in_the_pinned_version() -> None:
    listed = event_types()
    emitted = set()
    for row in STRIPE_RESOURCES:
        emitted |= {kind for kind in (*row.events, *(row.parent_events or ())) if kind}
        emitted |= {kind for _, _, kind in row.transitions}
    assert emitted - listed == set(), f"not event types of {API_VERSION}"
    assert {"account.updated", "person.created", "issuing_card.updated", "review.closed"} <= emitted
