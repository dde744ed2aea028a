"""Factories for Stripe Issuing objects: cardholders, cards, authorizations and transactions.

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty). As in
Stripe, a card embeds its whole cardholder and an authorization its whole card (they are not
expandable references), while a transaction names its card, cardholder and authorization by id.
"""

from __future__ import annotations

from sandbox.store import JsonObject
from sandbox.stripe_connect import FIRST_NAMES, LAST_NAMES
from sandbox.stripe_context import SeedContext
from sandbox.stripe_objects import stripe_object

MERCHANTS = (
    ("software_services", "7372", "Cloud Hosting Inc"),
    ("computer_network_services", "4816", "Network Tools"),
    ("airlines_air_carriers", "4511", "Sky Airways"),
    ("eating_places_restaurants", "5812", "Corner Bistro"),
)


def _controls() -> JsonObject:
    return {
        "allowed_categories": None,
        "blocked_categories": None,
        "spending_limits": [],
        "spending_limits_currency": None,
    }


def _merchant(ctx: SeedContext) -> JsonObject:
    category, code, name = ctx.choice(MERCHANTS)
    return {
        "category": category,
        "category_code": code,
        "city": "San Francisco",
        "country": "US",
        "name": name,
        "network_id": f"{ctx.rng.randint(10**8, 10**9 - 1)}",
        "postal_code": "94103",
        "state": "CA",
        "terminal_id": None,
    }


def cardholder(ctx: SeedContext, index: int) -> JsonObject:
    """A cardholder: an employee (individual) or the company itself."""
    individual = ctx.chance(0.8)
    first, last = ctx.choice(FIRST_NAMES), ctx.choice(LAST_NAMES)
    name = f"{first} {last}" if individual else f"Sandbox Team {index}"
    return {
        **stripe_object("issuing.cardholder"),
        "id": ctx.new_id("ich", 24),
        "billing": {
            "address": {
                "city": "San Francisco",
                "country": "US",
                "line1": f"{ctx.rng.randint(1, 999)} Mission St",
                "line2": None,
                "postal_code": "94105",
                "state": "CA",
            }
        },
        "company": None if individual else {"tax_id_provided": True},
        "created": ctx.created(),
        "email": f"cardholder{index}@example.com",
        "individual": {
            "card_issuing": None,
            "dob": None,
            "first_name": first,
            "last_name": last,
            "verification": None,
        }
        if individual
        else None,
        "metadata": ctx.metadata(),
        "name": name,
        "preferred_locales": ["en"],
        "requirements": {"disabled_reason": None, "past_due": []},
        "spending_controls": _controls(),
        "status": ctx.choice(("active", "active", "active", "inactive", "blocked")),
        "type": "individual" if individual else "company",
    }


def card(ctx: SeedContext, index: int) -> JsonObject:
    """A virtual or physical card of an existing cardholder (embedded whole, as Stripe does)."""
    holder = ctx.pick("issuing_cardholders")
    status = ctx.choice(("active", "active", "active", "inactive", "canceled"))
    return {
        **stripe_object("issuing.card"),
        "id": ctx.new_id("ic", 24),
        "brand": "Visa",
        "cancellation_reason": "lost" if status == "canceled" else None,
        "cardholder": holder,
        "created": ctx.after(holder),
        "currency": "usd",
        "exp_month": ctx.rng.randint(1, 12),
        "exp_year": ctx.rng.randint(2026, 2031),
        "last4": f"{ctx.rng.randint(0, 9999):04d}",
        "metadata": ctx.metadata(),
        "spending_controls": _controls(),
        "status": status,
        "type": ctx.choice(("virtual", "virtual", "physical")),
        "wallets": {
            "apple_pay": {"eligible": True, "ineligible_reason": None},
            "google_pay": {"eligible": True, "ineligible_reason": None},
            "primary_account_identifier": None,
        },
    }


def authorization(ctx: SeedContext, index: int) -> JsonObject:
    """An authorization on an existing card (the card is embedded whole)."""
    crd = ctx.pick("issuing_cards")
    amount = ctx.amount(100, 50000)
    approved = ctx.chance(0.9)
    created = ctx.after(crd)
    status = ctx.choice(("closed", "closed", "pending", "reversed")) if approved else "closed"
    holder = None if crd is None else crd["cardholder"]
    return {
        **stripe_object("issuing.authorization"),
        "id": ctx.new_id("iauth", 24),
        "amount": amount if approved else 0,
        "amount_details": {"atm_fee": None, "cashback_amount": None},
        "approved": approved,
        "authorization_method": ctx.choice(("online", "online", "chip", "contactless")),
        "card": crd,
        "cardholder": None if holder is None else holder["id"],
        "created": created,
        "currency": "usd",
        "merchant_amount": amount,
        "merchant_currency": "usd",
        "merchant_data": _merchant(ctx),
        "network_data": {"acquiring_institution_id": None},
        "request_history": [
            {
                "amount": amount,
                "amount_details": {"atm_fee": None, "cashback_amount": None},
                "approved": approved,
                "created": created,
                "currency": "usd",
                "merchant_amount": amount,
                "merchant_currency": "usd",
                "reason": "webhook_approved" if approved else "webhook_declined",
                "reason_message": None,
            }
        ],
        "status": status,
        "verification_data": {
            "address_line1_check": "not_provided",
            "address_postal_code_check": "match",
            "cvc_check": "match",
            "expiry_check": "match",
        },
    }


def transaction(ctx: SeedContext, index: int) -> JsonObject:
    """A capture (or, sometimes, a refund) of an approved authorization."""
    auths = [auth for auth in ctx.generated.get("issuing_authorizations", []) if auth["approved"]]
    auth = ctx.choice(auths) if auths else None
    refund = ctx.chance(0.1)
    amount = int(auth["amount"]) if auth is not None else ctx.amount(100, 50000)
    crd = None if auth is None else auth["card"]
    return {
        **stripe_object("issuing.transaction"),
        "id": ctx.new_id("ipi", 24),
        # Captures take money from the balance (negative); refunds give it back.
        "amount": amount if refund else -amount,
        "amount_details": {"atm_fee": None},
        "authorization": None if auth is None else auth["id"],
        "card": None if crd is None else crd["id"],
        "cardholder": None if auth is None else auth["cardholder"],
        "created": ctx.after(auth),
        "currency": "usd",
        "merchant_amount": amount if refund else -amount,
        "merchant_currency": "usd",
        "merchant_data": auth["merchant_data"] if auth is not None else _merchant(ctx),
        "type": "refund" if refund else "capture",
    }
