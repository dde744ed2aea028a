"""Factories for Stripe's catalogue objects (products, prices, plans, coupons, rates, promotion codes).

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty) and fills what the
sandbox models.
"""

from __future__ import annotations

from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext
from sandbox.stripe_objects import stripe_object

PRODUCT_NAMES = ("Connector", "Sync", "Bridge", "Flow", "Gateway", "Hub", "Link", "Relay")
EDITIONS = ("Starter", "Standard", "Premium", "Enterprise")


def product(ctx: SeedContext, index: int) -> JsonObject:
    """A product of the vendor's catalogue (integration apps and add-ons)."""
    created = ctx.created()
    return {
        **stripe_object("product"),
        "id": ctx.new_id("prod"),
        "active": ctx.chance(0.9),
        "created": created,
        "description": "Integration app subscription",
        "features": [],
        "metadata": ctx.metadata(),
        "name": f"{ctx.choice(PRODUCT_NAMES)} {ctx.choice(EDITIONS)} {index}",
        "type": "service",
        "updated": ctx.after({"created": created}),
    }


def price(ctx: SeedContext, index: int) -> JsonObject:
    """A price of an existing product; most are monthly or yearly recurring."""
    prod = ctx.pick("products")
    recurring = ctx.chance(0.8)
    amount = ctx.amount(900, 99900)
    # Some recurring prices bill usage: legacy metered prices (their items have usage record summaries)
    # or prices on a billing meter (their usage is the meter's event summaries). Price 1 is on a meter,
    # price 2 legacy metered, so both kinds exist at any scale.
    metered = index in (1, 2) or (recurring and ctx.chance(0.15))
    recurring = recurring or metered
    on_meter = index == 1 or (index != 2 and metered and ctx.chance(0.5))
    meter = ctx.pick_id("billing_meters") if on_meter else None
    return {
        **stripe_object("price"),
        "id": ctx.new_id("price"),
        "active": index in (1, 2) or ctx.chance(0.9),
        "created": ctx.after(prod),
        "currency": ctx.currency(),
        "metadata": ctx.metadata(),
        "nickname": f"Price {index}",
        "product": None if prod is None else prod["id"],
        "recurring": {
            "aggregate_usage": "sum" if metered and meter is None else None,
            "interval": ctx.choice(("month", "month", "year")),
            "interval_count": 1,
            "meter": meter,
            "trial_period_days": None,
            "usage_type": "metered" if metered else "licensed",
        }
        if recurring
        else None,
        "tax_behavior": "unspecified",
        "type": "recurring" if recurring else "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def plan(ctx: SeedContext, index: int) -> JsonObject:
    """A legacy plan of an existing product."""
    prod = ctx.pick("products")
    amount = ctx.amount(900, 99900)
    return {
        **stripe_object("plan"),
        "id": ctx.new_id("plan"),
        "active": ctx.chance(0.85),
        "aggregate_usage": None,
        "amount": amount,
        "amount_decimal": str(amount),
        "created": ctx.after(prod),
        "currency": ctx.currency(),
        "interval": ctx.choice(("month", "year")),
        "interval_count": 1,
        "metadata": ctx.metadata(),
        "nickname": f"Plan {index}",
        "product": None if prod is None else prod["id"],
    }


def coupon(ctx: SeedContext, index: int) -> JsonObject:
    """A coupon (percent or amount off)."""
    percent = ctx.chance(0.7)
    duration = ctx.choice(("once", "repeating", "forever"))
    return {
        **stripe_object("coupon"),
        "id": ctx.new_id("co", 10)[3:].upper(),
        "amount_off": None if percent else ctx.amount(500, 5000),
        "created": ctx.created(),
        "currency": None if percent else "usd",
        "duration": duration,
        "duration_in_months": 3 if duration == "repeating" else None,
        "metadata": ctx.metadata(),
        "name": f"Coupon {index}",
        "percent_off": float(ctx.choice((5, 10, 15, 20, 25))) if percent else None,
        "times_redeemed": ctx.rng.randint(0, 50),
        "valid": ctx.chance(0.9),
    }


def tax_rate(ctx: SeedContext, index: int) -> JsonObject:
    """A sales tax rate."""
    return {
        **stripe_object("tax_rate"),
        "id": ctx.new_id("txr"),
        "active": ctx.chance(0.9),
        "country": "US",
        "created": ctx.created(),
        "description": f"Sales tax {index}",
        "display_name": "Sales Tax",
        "inclusive": ctx.chance(0.2),
        "jurisdiction": ctx.choice(("CA", "NY", "TX", "WA")),
        "metadata": ctx.metadata(),
        "percentage": ctx.choice((4.0, 6.25, 7.25, 8.875)),
        "state": ctx.choice(("CA", "NY", "TX", "WA")),
        "tax_type": "sales_tax",
    }


def shipping_rate(ctx: SeedContext, index: int) -> JsonObject:
    """A fixed-amount shipping rate."""
    return {
        **stripe_object("shipping_rate"),
        "id": ctx.new_id("shr"),
        "active": ctx.chance(0.9),
        "created": ctx.created(),
        "display_name": f"Shipping {index}",
        "fixed_amount": {"amount": ctx.amount(0, 3000), "currency": "usd"},
        "metadata": ctx.metadata(),
        "tax_behavior": "unspecified",
    }


def promotion_code(ctx: SeedContext, index: int) -> JsonObject:
    """A promotion code; Stripe embeds the whole coupon."""
    cpn = ctx.pick("coupons")
    return {
        **stripe_object("promotion_code"),
        "id": ctx.new_id("promo"),
        "active": ctx.chance(0.8),
        "code": f"SAVE{index:04d}",
        "coupon": cpn,
        "created": ctx.after(cpn),
        "customer": ctx.pick_id("customers") if ctx.chance(0.2) else None,
        "metadata": ctx.metadata(),
        "restrictions": {
            "first_time_transaction": False,
            "minimum_amount": None,
            "minimum_amount_currency": None,
        },
        "times_redeemed": ctx.rng.randint(0, 20),
    }
