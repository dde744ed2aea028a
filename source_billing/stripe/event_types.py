"""The Stripe event types the streams follow, where several streams share them.

Reference: https://docs.stripe.com/api/events/types (the names of the pinned version's `stripe.Event.type`).
"""

from __future__ import annotations


def events_of(prefix: str, *actions: str) -> tuple[str, ...]:
    """`prefix.action` for each action: the event types of one object."""
    return tuple(f"{prefix}.{action}" for action in actions)


INVOICE_EVENTS = events_of(
    "invoice",
    "created",
    "deleted",
    "finalization_failed",
    "finalized",
    "marked_uncollectible",
    "paid",
    "payment_action_required",
    "payment_failed",
    "payment_succeeded",
    "sent",
    "updated",
    "voided",
)
SUBSCRIPTION_EVENTS = events_of(
    "customer.subscription",
    "created",
    "deleted",
    "paused",
    "pending_update_applied",
    "pending_update_expired",
    "resumed",
    "trial_will_end",
    "updated",
)
CREDIT_NOTE_EVENTS = events_of("credit_note", "created", "updated", "voided")
CHECKOUT_EVENTS = events_of(
    "checkout.session", "async_payment_failed", "async_payment_succeeded", "completed", "expired"
)
PAYOUT_EVENTS = events_of(
    "payout", "canceled", "created", "failed", "paid", "reconciliation_completed", "updated"
)
SETUP_INTENT_EVENTS = events_of(
    "setup_intent", "canceled", "created", "requires_action", "setup_failed", "succeeded"
)
TRANSFER_EVENTS = events_of("transfer", "created", "reversed", "updated")
APPLICATION_FEE_EVENTS = events_of("application_fee", "created", "refunded")
SOURCE_EVENTS = events_of("customer.source", "created", "deleted", "updated")
METER_EVENTS = events_of("billing.meter", "created", "deactivated", "reactivated", "updated")
CREDIT_GRANT_EVENTS = events_of("billing.credit_grant", "created", "updated")
