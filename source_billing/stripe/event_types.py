"""The Stripe event types the streams follow, where several streams share them.

Reference: https://docs.stripe.com/api/events/types (the names of the pinned version's `stripe.Event.type`).
"""

from __future__ import annotations

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
METER_EVENTS = (
    "billing.meter.created",
    "billing.meter.deactivated",
    "billing.meter.reactivated",
    "billing.meter.updated",
)
CREDIT_GRANT_EVENTS = ("billing.credit_grant.created", "billing.credit_grant.updated")


def events_of(prefix: str, *actions: str) -> tuple[str, ...]:
    """`prefix.action` for each action: the event types of one object."""
    return tuple(f"{prefix}.{action}" for action in actions)
