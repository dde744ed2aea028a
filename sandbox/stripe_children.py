"""Factories for child objects of customers, setup intents and subscription items: customer sources,
tax ids and balance transactions, setup attempts and usage record summaries.

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty); the
``fill_*`` functions keep the parent consistent with all its children (given in list order).
"""

from __future__ import annotations

from sandbox.seed import DAY
from sandbox.store import JsonObject
from sandbox.stripe_connect import bank_account, card
from sandbox.stripe_context import SeedContext
from sandbox.stripe_objects import stripe_object

TAX_ID_TYPES = (
    ("eu_vat", "DE", "DE{n:09d}"),
    ("us_ein", "US", "{n:02d}-1234567"),
    ("gb_vat", "GB", "GB{n:09d}"),
)


def customer_source(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A bank account (ACH) or legacy card source attached to a customer."""
    if ctx.chance(0.5):
        return bank_account(ctx, "customer", str(parent["id"]), "usd")
    return card(ctx, "customer", str(parent["id"]), None)


def tax_id(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A customer's tax id (VAT, EIN...)."""
    kind, country, pattern = ctx.choice(TAX_ID_TYPES)
    return {
        **stripe_object("tax_id"),
        "id": ctx.new_id("txi", 24),
        "country": country,
        "created": ctx.after(parent),
        "customer": parent["id"],
        "type": kind,
        "value": pattern.format(n=ctx.rng.randint(0, 99 if kind == "us_ein" else 10**9 - 1)),
        "verification": {
            "status": ctx.choice(("verified", "pending", "unavailable"))
            if kind != "us_ein"
            else "unavailable",
            "verified_address": None,
            "verified_name": None,
        },
    }


def customer_balance_transaction(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A change of a customer's credit balance (negative = credit); ``ending_balance`` is filled later."""
    kind = ctx.choice(("adjustment", "adjustment", "applied_to_invoice", "credit_note"))
    amount = ctx.amount(100, 5000)
    return {
        **stripe_object("customer_balance_transaction"),
        "id": ctx.new_id("cbtxn", 24),
        "amount": amount if kind == "applied_to_invoice" else -amount,
        "created": ctx.after(parent),
        "currency": parent["currency"],
        "customer": parent["id"],
        "description": "Goodwill credit" if kind == "adjustment" else None,
        "invoice": ctx.pick_id("invoices") if kind == "applied_to_invoice" else None,
        "metadata": {},
        "type": kind,
    }


def fill_customer_balance(ctx: SeedContext, customer: JsonObject, transactions: list[JsonObject]) -> None:
    """Running balances, oldest first; the customer's balance is the newest one's ending balance.

    Existing transactions keep their values when a newer one is added, so rewriting them is a no-op.
    """
    balance = 0
    for txn in reversed(transactions):
        balance += int(txn["amount"])
        txn["ending_balance"] = balance
    customer["balance"] = balance


def setup_attempt(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """One attempt to confirm a setup intent; a failed one carries its ``setup_error``."""
    failed = parent["status"] != "succeeded" and ctx.chance(0.5)
    return {
        **stripe_object("setup_attempt"),
        "id": ctx.new_id("setatt", 24),
        "attach_to_self": False,
        "created": ctx.after(parent),
        "customer": parent["customer"],
        "payment_method": parent["payment_method"] or ctx.new_id("pm"),
        "payment_method_details": {
            "card": {
                "brand": ctx.choice(("visa", "mastercard")),
                "checks": None,
                "country": "US",
                "exp_month": ctx.rng.randint(1, 12),
                "exp_year": ctx.rng.randint(2026, 2031),
                "fingerprint": None,
                "funding": "credit",
                "last4": f"{ctx.rng.randint(0, 9999):04d}",
                "network": None,
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "setup_error": {"code": "card_declined", "message": "Your card was declined.", "type": "card_error"}
        if failed
        else None,
        "setup_intent": parent["id"],
        "status": "failed" if failed else ("succeeded" if parent["status"] == "succeeded" else "abandoned"),
        "usage": parent["usage"],
    }


def fill_setup_intent(ctx: SeedContext, intent: JsonObject, attempts: list[JsonObject]) -> None:
    """A setup intent's ``latest_attempt`` is its newest attempt."""
    intent["latest_attempt"] = attempts[0]["id"] if attempts else None


def usage_periods(ctx: SeedContext, item: JsonObject) -> int:
    """Usage summaries exist for legacy metered prices only: one per billing period so far (up to four);
    items on a billing meter have none (Stripe refuses the list for them)."""
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    legacy = recurring.get("usage_type") == "metered" and not recurring.get("meter")
    return ctx.rng.randint(1, 4) if legacy else 0


def usage_record_summary(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """The usage of one billing period of a metered item; index 0 is the current period."""
    sub = ctx.collections["subscriptions"].get(str(parent["subscription"]))
    end = int(sub["current_period_end"]) if sub else ctx.now
    end -= index * 30 * DAY
    return {
        "id": ctx.new_id("sis", 24),
        "object": "usage_record_summary",
        "invoice": None,
        "livemode": False,
        "period": {"end": end, "start": end - 30 * DAY},
        "subscription_item": parent["id"],
        "total_usage": ctx.rng.randint(0, 100000),
    }
