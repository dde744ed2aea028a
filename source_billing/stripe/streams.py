"""The Stripe streams, one declaration row each.

Names follow Airbyte's source-stripe 5.14.1 so its users keep their tables. Event types are those Stripe
emits for each object (https://docs.stripe.com/api/events/types); a stream whose objects change without
any event is read in full every sync (cursor None), on a slower cadence (`refreshed`) or, if append-only,
by creation time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from source_billing.stripe.declarations import Parent, Skip, StripeObject, Via
from source_billing.stripe.event_types import (
    APPLICATION_FEE_EVENTS,
    CHECKOUT_EVENTS,
    CREDIT_GRANT_EVENTS,
    CREDIT_NOTE_EVENTS,
    INVOICE_EVENTS,
    METER_EVENTS,
    PAYOUT_EVENTS,
    SETUP_INTENT_EVENTS,
    SOURCE_EVENTS,
    SUBSCRIPTION_EVENTS,
    TRANSFER_EVENTS,
    events_of,
)

DOCS = "https://docs.stripe.com/api"

# The last version with legacy usage records: 2025-03-31.basil removed them (usage is in meters now).
LEGACY_USAGE_VERSION = "2025-02-24.acacia"
SUBSCRIPTIONS = Parent(
    "subscriptions",
    "subscription_id",
    "subscription_items",
    child_params={"subscription": "{id}"},
    embedded="items",
    params={"status": "all"},
    events=SUBSCRIPTION_EVENTS,
)


def meter_of(item: Mapping[str, Any]) -> str | None:
    """The billing meter a subscription item is billed through (its price's `recurring.meter`), if any."""
    price = item.get("price")
    recurring = price.get("recurring") if isinstance(price, Mapping) else None
    meter = recurring.get("meter") if isinstance(recurring, Mapping) else None
    return meter if isinstance(meter, str) else None


def on_meter(item: Mapping[str, Any]) -> bool:
    """Whether a subscription item is on meter-based billing."""
    return meter_of(item) is not None


STREAMS: tuple[StripeObject, ...] = (
    # Changes to a connected account are recorded in that account's own events, not the platform's.
    StripeObject("accounts", f"{DOCS}/accounts/list", path="accounts", cursor=None, platform_only=True),
    # Which features each customer may use now; the summary event names the customer whose set changed.
    StripeObject(
        "active_entitlements",
        f"{DOCS}/entitlements/active-entitlement/list",
        parent=Parent(
            "customers",
            "customer_id",
            "entitlements/active_entitlements",
            child_params={"customer": "{id}"},
            events=("entitlements.active_entitlement_summary.updated",),
            event_key="customer",
        ),
    ),
    StripeObject(
        "application_fees",
        f"{DOCS}/application_fees/list",
        path="application_fees",
        events=APPLICATION_FEE_EVENTS,
    ),
    StripeObject(
        "application_fees_refunds",
        f"{DOCS}/fee_refunds/list",
        parent=Parent(
            "application_fees",
            "application_fee_id",
            "application_fees/{id}/refunds",
            embedded="refunds",
            events=APPLICATION_FEE_EVENTS,
        ),
    ),
    StripeObject(
        "authorizations",
        f"{DOCS}/issuing/authorizations/list",
        path="issuing/authorizations",
        events=events_of("issuing_authorization", "created", "updated"),
    ),
    StripeObject(
        "balance_transactions",
        f"{DOCS}/balance_transactions/list",
        path="balance_transactions",
        cursor="created",
    ),
    StripeObject(
        "bank_accounts",
        f"{DOCS}/customer_bank_accounts/list",
        events=SOURCE_EVENTS,
        object_type="bank_account",
        parent_field="customer",
        retrieve="customers/{customer}/sources/{id}",
        parent=Parent(
            "customers",
            "customer_id",
            "customers/{id}/sources",
            child_params={"object": "bank_account"},
            embedded="sources",
            params={"expand[]": "data.sources"},
        ),
    ),
    # A transaction names its credit grant, and the grant its customer.
    StripeObject(
        "billing_credit_balance_transactions",
        f"{DOCS}/billing/credit-balance-transaction/list",
        events=("billing.credit_balance_transaction.created",),
        parent_field="customer",
        via=Via("credit_grant", "billing/credit_grants/{id}"),
        retrieve="billing/credit_balance_transactions/{id}",
        parent=Parent(
            "customers",
            "customer_id",
            "billing/credit_balance_transactions",
            child_params={"customer": "{id}"},
        ),
    ),
    StripeObject(
        "billing_credit_grants",
        f"{DOCS}/billing/credit-grant/list",
        path="billing/credit_grants",
        created_filter=False,
        events=CREDIT_GRANT_EVENTS,
    ),
    StripeObject(
        "billing_meters",
        f"{DOCS}/billing/meter/list",
        path="billing/meters",
        created_filter=False,
        events=METER_EVENTS,
    ),
    StripeObject(
        "cardholders",
        f"{DOCS}/issuing/cardholders/list",
        path="issuing/cardholders",
        events=events_of("issuing_cardholder", "created", "updated"),
    ),
    StripeObject(
        "cards",
        f"{DOCS}/issuing/cards/list",
        path="issuing/cards",
        events=events_of("issuing_card", "created", "updated"),
    ),
    StripeObject(
        "charges",
        f"{DOCS}/charges/list",
        path="charges",
        events=events_of(
            "charge", "captured", "expired", "failed", "pending", "refunded", "succeeded", "updated"
        ),
    ),
    # Stripe sends no event when a session is created: new open sessions come from the list.
    StripeObject(
        "checkout_sessions",
        f"{DOCS}/checkout/sessions/list",
        path="checkout/sessions",
        events=CHECKOUT_EVENTS,
        lists_new=True,
    ),
    StripeObject(
        "checkout_sessions_line_items",
        f"{DOCS}/checkout/sessions/line_items",
        parent=Parent(
            "checkout/sessions",
            "checkout_session_id",
            "checkout/sessions/{id}/line_items",
            embedded="line_items",
            params={"expand[]": "data.line_items"},
            events=CHECKOUT_EVENTS,
        ),
    ),
    StripeObject(
        "coupons",
        f"{DOCS}/coupons/list",
        path="coupons",
        events=events_of("coupon", "created", "deleted", "updated"),
    ),
    StripeObject(
        "credit_notes",
        f"{DOCS}/credit_notes/list",
        path="credit_notes",
        created_filter=False,
        events=CREDIT_NOTE_EVENTS,
    ),
    StripeObject(
        "credit_note_line_items",
        f"{DOCS}/credit_notes/lines",
        parent=Parent(
            "credit_notes",
            "credit_note_id",
            "credit_notes/{id}/lines",
            embedded="lines",
            created_filter=False,
            events=CREDIT_NOTE_EVENTS,
        ),
    ),
    # A new transaction changes its customer's `balance` (customer.updated): its list is read again.
    StripeObject(
        "customer_balance_transactions",
        f"{DOCS}/customer_balance_transactions/list",
        parent=Parent(
            "customers",
            "customer_id",
            "customers/{id}/balance_transactions",
            events=events_of("customer", "created", "updated"),
        ),
    ),
    StripeObject(
        "customers",
        f"{DOCS}/customers/list",
        path="customers",
        events=events_of("customer", "created", "deleted", "updated"),
    ),
    StripeObject(
        "disputes",
        f"{DOCS}/disputes/list",
        path="disputes",
        events=events_of(
            "charge.dispute", "closed", "created", "funds_reinstated", "funds_withdrawn", "updated"
        ),
    ),
    StripeObject(
        "early_fraud_warnings",
        f"{DOCS}/radar/early_fraud_warnings/list",
        path="radar/early_fraud_warnings",
        created_filter=False,
        events=events_of("radar.early_fraud_warning", "created", "updated"),
    ),
    # Features have no events: read in full every sync.
    StripeObject(
        "entitlements_features",
        f"{DOCS}/entitlements/feature/list",
        path="entitlements/features",
        cursor=None,
        created_filter=False,
    ),
    StripeObject("events", f"{DOCS}/events/list", path="events", cursor="created"),
    # External accounts of the account being read (the key's own, or each Connect account), as source-stripe.
    StripeObject(
        "external_account_bank_accounts",
        f"{DOCS}/external_account_bank_accounts/list",
        cursor=None,
        object_type="bank_account",
        parent=Parent(
            "account",
            "account_id",
            "accounts/{id}/external_accounts",
            child_params={"object": "bank_account"},
            embedded="external_accounts",
            created_filter=False,
            single=True,
            forbidden_skips=True,
        ),
    ),
    StripeObject(
        "external_account_cards",
        f"{DOCS}/external_account_cards/list",
        cursor=None,
        object_type="card",
        parent=Parent(
            "account",
            "account_id",
            "accounts/{id}/external_accounts",
            child_params={"object": "card"},
            embedded="external_accounts",
            created_filter=False,
            single=True,
            forbidden_skips=True,
        ),
    ),
    StripeObject("file_links", f"{DOCS}/file_links/list", path="file_links", cursor="created"),
    StripeObject("files", f"{DOCS}/files/list", path="files", cursor="created"),
    StripeObject(
        "invoice_items",
        f"{DOCS}/invoiceitems/list",
        path="invoiceitems",
        events=events_of("invoiceitem", "created", "deleted"),
    ),
    StripeObject(
        "invoice_line_items",
        f"{DOCS}/invoices/invoice_lines",
        parent=Parent(
            "invoices", "invoice_id", "invoices/{id}/lines", embedded="lines", events=INVOICE_EVENTS
        ),
    ),
    StripeObject(
        "invoice_payments",
        f"{DOCS}/invoice-payment/list",
        path="invoice_payments",
        events=("invoice_payment.paid",),
    ),
    StripeObject("invoices", f"{DOCS}/invoices/list", path="invoices", events=INVOICE_EVENTS),
    StripeObject(
        "payment_intents",
        f"{DOCS}/payment_intents/list",
        path="payment_intents",
        events=events_of(
            "payment_intent",
            "amount_capturable_updated",
            "canceled",
            "created",
            "partially_funded",
            "payment_failed",
            "processing",
            "requires_action",
            "succeeded",
        ),
    ),
    StripeObject(
        "payment_methods",
        f"{DOCS}/payment_methods/customer_list",
        events=events_of("payment_method", "attached", "automatically_updated", "detached", "updated"),
        parent_field="customer",
        retrieve="payment_methods/{id}",
        parent=Parent("customers", "customer_id", "customers/{id}/payment_methods"),
    ),
    StripeObject(
        "payout_balance_transactions",
        f"{DOCS}/balance_transactions/list",
        parent=Parent(
            "payouts",
            "payout_id",
            "balance_transactions",
            child_params={"payout": "{id}"},
            events=PAYOUT_EVENTS,
        ),
    ),
    StripeObject("payouts", f"{DOCS}/payouts/list", path="payouts", events=PAYOUT_EVENTS),
    StripeObject(
        "persons",
        f"{DOCS}/persons/list",
        refreshed=True,
        parent=Parent("accounts", "account_id", "accounts/{id}/persons", forbidden_skips=True),
        platform_only=True,
    ),
    StripeObject(
        "plans", f"{DOCS}/plans/list", path="plans", events=events_of("plan", "created", "deleted", "updated")
    ),
    StripeObject(
        "prices",
        f"{DOCS}/prices/list",
        path="prices",
        events=events_of("price", "created", "deleted", "updated"),
    ),
    StripeObject(
        "products",
        f"{DOCS}/products/list",
        path="products",
        events=events_of("product", "created", "deleted", "updated"),
    ),
    StripeObject(
        "promotion_codes",
        f"{DOCS}/promotion_codes/list",
        path="promotion_codes",
        events=events_of("promotion_code", "created", "updated"),
    ),
    StripeObject(
        "quotes",
        f"{DOCS}/quotes/list",
        path="quotes",
        created_filter=False,
        events=events_of("quote", "accepted", "canceled", "created", "finalized"),
    ),
    StripeObject(
        "refunds",
        f"{DOCS}/refunds/list",
        path="refunds",
        events=("charge.refund.updated", "refund.created", "refund.updated"),
    ),
    StripeObject(
        "reviews",
        f"{DOCS}/radar/reviews/list",
        path="reviews",
        events=events_of("review", "closed", "opened"),
    ),
    StripeObject(
        "setup_attempts",
        f"{DOCS}/setup_attempts/list",
        parent=Parent(
            "setup_intents",
            "setup_intent_id",
            "setup_attempts",
            child_params={"setup_intent": "{id}"},
            events=SETUP_INTENT_EVENTS,
        ),
    ),
    StripeObject(
        "setup_intents", f"{DOCS}/setup_intents/list", path="setup_intents", events=SETUP_INTENT_EVENTS
    ),
    StripeObject("shipping_rates", f"{DOCS}/shipping_rates/list", path="shipping_rates", cursor="created"),
    StripeObject("subscription_items", f"{DOCS}/subscription_items/list", parent=SUBSCRIPTIONS),
    StripeObject(
        "subscription_schedule",
        f"{DOCS}/subscription_schedules/list",
        path="subscription_schedules",
        events=events_of(
            "subscription_schedule",
            "aborted",
            "canceled",
            "completed",
            "created",
            "expiring",
            "released",
            "updated",
        ),
    ),
    StripeObject(
        "subscriptions",
        f"{DOCS}/subscriptions/list",
        path="subscriptions",
        params={"status": "all"},
        events=SUBSCRIPTION_EVENTS,
    ),
    StripeObject(
        "tax_ids",
        f"{DOCS}/customer_tax_ids/list",
        events=events_of("customer.tax_id", "created", "deleted", "updated"),
        parent_field="customer",
        retrieve="customers/{customer}/tax_ids/{id}",
        parent=Parent(
            "customers",
            "customer_id",
            "customers/{id}/tax_ids",
            embedded="tax_ids",
            params={"expand[]": "data.tax_ids"},
        ),
    ),
    StripeObject(
        "tax_rates",
        f"{DOCS}/tax_rates/list",
        path="tax_rates",
        events=events_of("tax_rate", "created", "updated"),
    ),
    StripeObject(
        "top_ups",
        f"{DOCS}/topups/list",
        path="topups",
        events=events_of("topup", "canceled", "created", "failed", "reversed", "succeeded"),
    ),
    StripeObject(
        "transactions",
        f"{DOCS}/issuing/transactions/list",
        path="issuing/transactions",
        events=events_of("issuing_transaction", "created", "updated"),
    ),
    StripeObject(
        "transfer_reversals",
        f"{DOCS}/transfer_reversals/list",
        parent=Parent(
            "transfers",
            "transfer_id",
            "transfers/{id}/reversals",
            embedded="reversals",
            events=TRANSFER_EVENTS,
        ),
    ),
    StripeObject("transfers", f"{DOCS}/transfers/list", path="transfers", events=TRANSFER_EVENTS),
    # Usage accrues without any event: summaries are read in full (`refreshed`). Legacy usage records exist
    # only up to LEGACY_USAGE_VERSION; items on meter-based billing have none (billing_meter_event_summaries).
    StripeObject(
        "usage_records",
        f"{DOCS}/usage_records/subscription_item_summary_list",
        refreshed=True,
        parent=Parent(
            "subscription_items",
            "subscription_item_id",
            "subscription_items/{id}/usage_record_summaries",
            through=SUBSCRIPTIONS,
            child_version=LEGACY_USAGE_VERSION,
            skip=Skip(
                on_meter,
                "subscription items on meter-based billing skipped (see billing_meter_event_summaries)",
            ),
        ),
    ),
)
