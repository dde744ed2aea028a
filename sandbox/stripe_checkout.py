"""Factories for Stripe's remaining objects: files and file links, Checkout sessions, top-ups.

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty) and fills what the
sandbox models.
"""

from __future__ import annotations

from sandbox.seed import DAY
from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext, list_object, price_summary
from sandbox.stripe_objects import stripe_object


def file(ctx: SeedContext, index: int) -> JsonObject:
    """An uploaded file (dispute evidence, logos...)."""
    file_id = ctx.new_id("file", 24)
    kind = ctx.choice(("pdf", "png"))
    return {
        **stripe_object("file"),
        "id": file_id,
        "created": ctx.created(),
        "filename": f"document_{index}.{kind}",
        "links": list_object([], f"/v1/file_links?file={file_id}", False),
        "purpose": ctx.choice(("dispute_evidence", "business_logo", "identity_document")),
        "size": ctx.rng.randint(2000, 900000),
        "type": kind,
        "url": f"https://files.stripe.com/v1/files/{file_id}/contents",
    }


def file_link(ctx: SeedContext, index: int) -> JsonObject:
    """A public link to an existing file."""
    fil = ctx.pick("files")
    expired = ctx.chance(0.2)
    created = ctx.after(fil)
    return {
        **stripe_object("file_link"),
        "id": ctx.new_id("link", 24),
        "created": created,
        "expired": expired,
        "expires_at": created + DAY if expired else None,
        "file": None if fil is None else fil["id"],
        "url": f"https://files.stripe.com/links/sandbox{index}",
    }


def checkout_session(ctx: SeedContext, index: int) -> JsonObject:
    """A Checkout session; amounts are filled from its line items."""
    cust = ctx.pick("customers")
    created = ctx.after(cust)
    status = ctx.choice(("complete", "complete", "expired", "open"))
    return {
        **stripe_object("checkout.session"),
        "id": ctx.new_id("cs_test", 40),
        "amount_subtotal": 0,
        "amount_total": 0,
        "cancel_url": "https://example.com/cancel",
        "created": created,
        "currency": "usd",
        "customer": None if cust is None else cust["id"],
        "customer_details": {
            "email": cust and cust["email"],
            "name": cust and cust["name"],
            "tax_exempt": "none",
        },
        "expires_at": created + DAY,
        "metadata": {},
        "mode": ctx.choice(("payment", "subscription")),
        "payment_method_collection": "always",
        "payment_method_types": ["card"],
        "payment_status": "paid" if status == "complete" else "unpaid",
        "status": status,
        "success_url": "https://example.com/success",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    }


def checkout_line_item(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A line item of a Checkout session (``item`` object)."""
    prc = ctx.pick("prices")
    quantity = ctx.rng.randint(1, 3)
    amount = quantity * (int(prc["unit_amount"]) if prc else 1000)
    return {
        **stripe_object("item"),
        "id": ctx.new_id("li", 24),
        "amount_subtotal": amount,
        "amount_total": amount,
        "currency": parent["currency"],
        "description": prc["nickname"] if prc else "Item",
        "price": price_summary(prc),
        "quantity": quantity,
    }


def fill_checkout_session(ctx: SeedContext, session: JsonObject, items: list[JsonObject]) -> None:
    """Compute a session's totals from its line items."""
    total = sum(int(item["amount_total"]) for item in items)
    session.update(amount_subtotal=total, amount_total=total)


def topup(ctx: SeedContext, index: int) -> JsonObject:
    """A top-up of the account balance."""
    created = ctx.created()
    return {
        **stripe_object("topup"),
        "id": ctx.new_id("tu", 24),
        "amount": ctx.amount(10000, 500000),
        "created": created,
        "currency": "usd",
        "description": f"Top-up {index}",
        "expected_availability_date": created + 5 * DAY,
        "status": ctx.choice(("succeeded", "succeeded", "pending", "failed", "canceled")),
    }
