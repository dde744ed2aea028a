"""The rows of the Stripe resource table for what Stripe added since 2024 (``stripe_resources`` appends
them last; billing meters sit above prices, which point at them).

Entitlement features and customers' active entitlements, credit grants and credit balance transactions,
invoice payments (2025-03-31.basil). Filters and event types follow the ``stripe`` package (16.x):
its ``*ListParams`` and the ``stripe.Event.type`` literals.
"""

from __future__ import annotations

from sandbox import stripe_entitlements as entitlements
from sandbox import stripe_metering as metering
from sandbox import stripe_payments as payments
from sandbox.stripe_row import StripeResource, events, on_status

R = StripeResource
SUMMARY_UPDATED = "entitlements.active_entitlement_summary.updated"

BILLING_SINCE_2024: tuple[StripeResource, ...] = (
    R(
        "entitlements_features",
        "/v1/entitlements/features",
        "entitlements.feature",
        entitlements.feature,
        filters=("archived", "lookup_key"),
        most=8,
    ),
    R(
        "active_entitlements",
        "/v1/entitlements/active_entitlements",
        "entitlements.active_entitlement",
        entitlements.active_entitlement,
        parent="customers",
        parent_param="customer",
        per_parent=entitlements.entitlements_count,
        retrievable=True,
        # A change of a customer's entitlements is one event carrying all of them.
        events=(SUMMARY_UPDATED, SUMMARY_UPDATED, SUMMARY_UPDATED),
        summary=entitlements.summary,
    ),
    R(
        "billing_credit_grants",
        "/v1/billing/credit_grants",
        "billing.credit_grant",
        metering.credit_grant,
        filters=("customer",),
        retrievable=True,
        events=events("billing.credit_grant"),
    ),
    R(
        "billing_credit_balance_transactions",
        "/v1/billing/credit_balance_transactions",
        "billing.credit_balance_transaction",
        metering.credit_balance_transaction,
        filters=("credit_grant",),
        parent="customers",
        parent_param="customer",
        per_parent=metering.credit_transactions_count,
        newest_first=True,
        retrievable=True,
        events=("billing.credit_balance_transaction.created", None, None),
    ),
    R(
        "invoice_payments",
        "/v1/invoice_payments",
        "invoice_payment",
        payments.invoice_payment,
        True,
        ("invoice", "status", "payment[type]", "payment[payment_intent]", "payment[payment_record]"),
        transitions=on_status("invoice_payment", paid="paid"),
    ),
)
