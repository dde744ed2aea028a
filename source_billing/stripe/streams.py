"""The Stripe streams, one declaration row each.

Names follow Airbyte's source-stripe 5.14.1 so its users keep their tables. Event types are those Stripe
emits for each object (https://docs.stripe.com/api/events/types); a stream whose objects change without
any event is read in full every sync (cursor None) or, if append-only, by creation time.
"""

from __future__ import annotations

from source_billing.stripe.declarations import Parent, StripeObject

DOCS = "https://docs.stripe.com/api"

INVOICE_EVENTS = (
    "invoice.created",
    "invoice.deleted",
    "invoice.finalization_failed",
    "invoice.finalized",
    "invoice.marked_uncollectible",
    "invoice.paid",
    "invoice.payment_action_required",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.sent",
    "invoice.updated",
    "invoice.voided",
)
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "customer.subscription.updated",
)
CREDIT_NOTE_EVENTS = ("credit_note.created", "credit_note.updated", "credit_note.voided")
CHECKOUT_EVENTS = (
    "checkout.session.async_payment_failed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.completed",
    "checkout.session.expired",
)
PAYOUT_EVENTS = (
    "payout.canceled",
    "payout.created",
    "payout.failed",
    "payout.paid",
    "payout.reconciliation_completed",
    "payout.updated",
)
SETUP_INTENT_EVENTS = (
    "setup_intent.canceled",
    "setup_intent.created",
    "setup_intent.requires_action",
    "setup_intent.setup_failed",
    "setup_intent.succeeded",
)
TRANSFER_EVENTS = ("transfer.created", "transfer.reversed", "transfer.updated")
APPLICATION_FEE_EVENTS = ("application_fee.created", "application_fee.refunded")
SOURCE_EVENTS = ("customer.source.created", "customer.source.deleted", "customer.source.updated")
SUBSCRIPTIONS = Parent(
    "subscriptions",
    "subscription_id",
    "subscription_items",
    child_params={"subscription": "{id}"},
    embedded="items",
    params={"status": "all"},
    events=SUBSCRIPTION_EVENTS,
)


def _events(prefix: str, *actions: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{action}" for action in actions)


STREAMS: tuple[StripeObject, ...] = (
    # Changes to a connected account are recorded in that account's own events, not the platform's.
    StripeObject("accounts", f"{DOCS}/accounts/list", path="accounts", cursor=None, platform_only=True),
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
        events=_events("issuing_authorization", "created", "updated"),
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
        parent=Parent(
            "customers",
            "customer_id",
            "customers/{id}/sources",
            child_params={"object": "bank_account"},
            embedded="sources",
            params={"expand[]": "data.sources"},
        ),
    ),
    StripeObject(
        "cardholders",
        f"{DOCS}/issuing/cardholders/list",
        path="issuing/cardholders",
        events=_events("issuing_cardholder", "created", "updated"),
    ),
    StripeObject(
        "cards",
        f"{DOCS}/issuing/cards/list",
        path="issuing/cards",
        events=_events("issuing_card", "created", "updated"),
    ),
    StripeObject(
        "charges",
        f"{DOCS}/charges/list",
        path="charges",
        events=_events(
            "charge", "captured", "expired", "failed", "pending", "refunded", "succeeded", "updated"
        ),
    ),
    StripeObject(
        "checkout_sessions",
        f"{DOCS}/checkout/sessions/list",
        path="checkout/sessions",
        created_filter=False,
        events=CHECKOUT_EVENTS,
    ),
    StripeObject(
        "checkout_sessions_line_items",
        f"{DOCS}/checkout/sessions/line_items",
        parent=Parent(
            "checkout/sessions",
            "checkout_session_id",
            "checkout/sessions/{id}/line_items",
            embedded="line_items",
            created_filter=False,
            params={"expand[]": "data.line_items"},
            events=CHECKOUT_EVENTS,
        ),
    ),
    StripeObject(
        "coupons",
        f"{DOCS}/coupons/list",
        path="coupons",
        events=_events("coupon", "created", "deleted", "updated"),
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
    StripeObject(
        "customer_balance_transactions",
        f"{DOCS}/customer_balance_transactions/list",
        cursor=None,
        parent=Parent("customers", "customer_id", "customers/{id}/balance_transactions"),
    ),
    StripeObject(
        "customers",
        f"{DOCS}/customers/list",
        path="customers",
        events=_events("customer", "created", "deleted", "updated"),
    ),
    StripeObject(
        "disputes",
        f"{DOCS}/disputes/list",
        path="disputes",
        events=_events(
            "charge.dispute", "closed", "created", "funds_reinstated", "funds_withdrawn", "updated"
        ),
    ),
    StripeObject(
        "early_fraud_warnings",
        f"{DOCS}/radar/early_fraud_warnings/list",
        path="radar/early_fraud_warnings",
        created_filter=False,
        events=_events("radar.early_fraud_warning", "created", "updated"),
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
        ),
    ),
    StripeObject("file_links", f"{DOCS}/file_links/list", path="file_links", cursor="created"),
    StripeObject("files", f"{DOCS}/files/list", path="files", cursor="created"),
    StripeObject(
        "invoice_items",
        f"{DOCS}/invoiceitems/list",
        path="invoiceitems",
        events=_events("invoiceitem", "created", "deleted"),
    ),
    StripeObject(
        "invoice_line_items",
        f"{DOCS}/invoices/invoice_lines",
        parent=Parent(
            "invoices", "invoice_id", "invoices/{id}/lines", embedded="lines", events=INVOICE_EVENTS
        ),
    ),
    StripeObject("invoices", f"{DOCS}/invoices/list", path="invoices", events=INVOICE_EVENTS),
    StripeObject(
        "payment_intents",
        f"{DOCS}/payment_intents/list",
        path="payment_intents",
        events=_events(
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
        events=_events("payment_method", "attached", "automatically_updated", "detached", "updated"),
        parent_field="customer",
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
        cursor=None,
        parent=Parent("accounts", "account_id", "accounts/{id}/persons"),
        platform_only=True,
    ),
    StripeObject(
        "plans", f"{DOCS}/plans/list", path="plans", events=_events("plan", "created", "deleted", "updated")
    ),
    StripeObject(
        "prices",
        f"{DOCS}/prices/list",
        path="prices",
        events=_events("price", "created", "deleted", "updated"),
    ),
    StripeObject(
        "products",
        f"{DOCS}/products/list",
        path="products",
        events=_events("product", "created", "deleted", "updated"),
    ),
    StripeObject(
        "promotion_codes",
        f"{DOCS}/promotion_codes/list",
        path="promotion_codes",
        events=_events("promotion_code", "created", "updated"),
    ),
    StripeObject(
        "quotes",
        f"{DOCS}/quotes/list",
        path="quotes",
        created_filter=False,
        events=_events("quote", "accepted", "canceled", "created", "finalized"),
    ),
    StripeObject(
        "refunds",
        f"{DOCS}/refunds/list",
        path="refunds",
        events=("charge.refund.updated", "refund.created", "refund.updated"),
    ),
    StripeObject(
        "reviews", f"{DOCS}/radar/reviews/list", path="reviews", events=_events("review", "closed", "opened")
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
        events=_events(
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
        events=_events("customer.tax_id", "created", "deleted", "updated"),
        parent_field="customer",
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
        events=_events("tax_rate", "created", "updated"),
    ),
    StripeObject(
        "top_ups",
        f"{DOCS}/topups/list",
        path="topups",
        events=_events("topup", "canceled", "created", "failed", "reversed", "succeeded"),
    ),
    StripeObject(
        "transactions",
        f"{DOCS}/issuing/transactions/list",
        path="issuing/transactions",
        events=_events("issuing_transaction", "created", "updated"),
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
    # Usage accrues without any event: summaries are read in full every sync.
    StripeObject(
        "usage_records",
        f"{DOCS}/usage_records/subscription_item_summary_list",
        cursor=None,
        parent=Parent(
            "subscription_items",
            "subscription_item_id",
            "subscription_items/{id}/usage_record_summaries",
            through=SUBSCRIPTIONS,
        ),
    ),
)
