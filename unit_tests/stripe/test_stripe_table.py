"""The Stripe declaration table is consistent: every stream has a schema with its key, cursor and parent
field, incremental streams have a way to see changes, and every name is Airbyte source-stripe's."""

from __future__ import annotations

import pytest

from source_billing.config import BillingConfig
from source_billing.schemas import load_schema
from source_billing.stripe import endpoints, streams
from source_billing.stripe.declarations import StripeObject
from source_billing.stripe.meters import METER_EVENT_SUMMARIES
from source_billing.stripe.streams import STREAMS

ROWS = (*STREAMS, METER_EVENT_SUMMARIES)
# Stripe objects source-stripe does not read: today's billing (meters, credits), entitlements, invoice
# payments, and four older ones.
NEW_STREAMS = {
    "active_entitlements",
    "billing_credit_balance_transactions",
    "billing_credit_grants",
    "billing_meter_event_summaries",
    "billing_meters",
    "credit_note_line_items",
    "entitlements_features",
    "invoice_payments",
    "quotes",
    "tax_ids",
    "tax_rates",
}

SOURCE_STRIPE_STREAMS = set(
    [
        "accounts",
        "application_fees",
        "application_fees_refunds",
        "authorizations",
        "balance_transactions",
        "bank_accounts",
        "cardholders",
        "cards",
        "charges",
        "checkout_sessions",
        "checkout_sessions_line_items",
        "coupons",
        "credit_notes",
        "customer_balance_transactions",
        "customers",
        "disputes",
        "early_fraud_warnings",
        "events",
        "external_account_bank_accounts",
        "external_account_cards",
        "file_links",
        "files",
        "invoice_items",
        "invoice_line_items",
        "invoices",
        "payment_intents",
        "payment_methods",
        "payout_balance_transactions",
        "payouts",
        "persons",
        "plans",
        "prices",
        "products",
        "promotion_codes",
        "refunds",
        "reviews",
        "setup_attempts",
        "setup_intents",
        "shipping_rates",
        "subscription_items",
        "subscription_schedule",
        "subscriptions",
        "top_ups",
        "transactions",
        "transfer_reversals",
        "transfers",
        "usage_records",
    ]
)


def test_given_the_table_then_it_has_every_source_stripe_stream_and_todays_objects() -> None:
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names))
    assert set(names) == SOURCE_STRIPE_STREAMS | NEW_STREAMS


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_given_a_row_then_its_schema_declares_key_cursor_and_parent(row: StripeObject) -> None:
    properties = load_schema("source_billing.stripe", row.name)["properties"]
    key = (row.primary_key,) if isinstance(row.primary_key, str) else row.primary_key
    assert set(key) <= set(properties)
    assert {"updated", "is_deleted", "stripe_account_id"} <= set(properties)
    if row.cursor:
        assert row.cursor in properties
    if row.parent:
        assert row.parent.key in properties


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_given_a_row_then_its_incremental_mode_can_see_what_changed(row: StripeObject) -> None:
    if row.follows_events:
        assert row.event_types, "changes are only visible through events"
    if row.refreshed:
        assert row.cursor == "updated", "its cursor is the time of its last full read"
        assert not row.event_types, "read in full on a cadence, not from events"
    if row.cursor == "created":
        assert row.parent is None, "creation windows need the stream's own list"
        assert row.created_filter, "creation windows need the list's created filter"
    assert (row.path is None) == (row.parent is not None)


def test_given_the_streams_then_every_endpoint_they_call_is_a_stripe_endpoint() -> None:
    known = {f"{path}" for path in endpoints()}
    assert "/v1/events" in known
    assert "/v1/invoices/{id}/lines" in known


def test_given_a_stripe_config_then_streams_are_built_with_one_shared_budget() -> None:
    config = BillingConfig.parse({"stripe": {"client_secret": "sk_live_x1"}}).stripe
    assert config is not None
    built = streams(config)
    assert len({id(stream.api.budget) for stream in built}) == 1
