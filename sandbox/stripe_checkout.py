"""Factories for Stripe's remaining objects: files and file links, Checkout sessions, top-ups.

Each factory returns one object with the fields the 2023-08-16 OpenAPI spec defines for it.
"""

from __future__ import annotations

from sandbox.seed import DAY
from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext, list_object, price_summary


def file(ctx: SeedContext, index: int) -> JsonObject:
    """An uploaded file (dispute evidence, logos...)."""
    file_id = ctx.new_id("file", 24)
    kind = ctx.choice(("pdf", "png"))
    return {
        "id": file_id,
        "object": "file",
        "created": ctx.created(),
        "expires_at": None,
        "filename": f"document_{index}.{kind}",
        "links": list_object([], f"/v1/file_links?file={file_id}", False),
        "purpose": ctx.choice(("dispute_evidence", "business_logo", "identity_document")),
        "size": ctx.rng.randint(2000, 900000),
        "title": None,
        "type": kind,
        "url": f"https://files.stripe.com/v1/files/{file_id}/contents",
    }


def file_link(ctx: SeedContext, index: int) -> JsonObject:
    """A public link to an existing file."""
    fil = ctx.pick("files")
    expired = ctx.chance(0.2)
    created = ctx.after(fil)
    return {
        "id": ctx.new_id("link", 24),
        "object": "file_link",
        "created": created,
        "expired": expired,
        "expires_at": created + DAY if expired else None,
        "file": None if fil is None else fil["id"],
        "livemode": False,
        "metadata": {},
        "url": f"https://files.stripe.com/links/sandbox{index}",
    }


def checkout_session(ctx: SeedContext, index: int) -> JsonObject:
    """A Checkout session; amounts are filled from its line items."""
    cust = ctx.pick("customers")
    created = ctx.after(cust)
    status = ctx.choice(("complete", "complete", "expired", "open"))
    return {
        "id": ctx.new_id("cs_test", 40),
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": 0,
        "amount_total": 0,
        "automatic_tax": {"enabled": False, "status": None},
        "billing_address_collection": None,
        "cancel_url": "https://example.com/cancel",
        "client_reference_id": None,
        "created": created,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {"shipping_address": None, "submit": None},
        "customer": None if cust is None else cust["id"],
        "customer_details": {
            "email": cust and cust["email"],
            "name": cust and cust["name"],
            "tax_exempt": "none",
        },
        "customer_email": None,
        "expires_at": created + DAY,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "metadata": {},
        "mode": ctx.choice(("payment", "subscription")),
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_types": ["card"],
        "payment_status": "paid" if status == "complete" else "unpaid",
        "shipping_options": [],
        "status": status,
        "subscription": None,
        "success_url": "https://example.com/success",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
    }


def checkout_line_item(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A line item of a Checkout session (``item`` object)."""
    prc = ctx.pick("prices")
    quantity = ctx.rng.randint(1, 3)
    amount = quantity * (int(prc["unit_amount"]) if prc else 1000)
    return {
        "id": ctx.new_id("li", 24),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
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
        "id": ctx.new_id("tu", 24),
        "object": "topup",
        "amount": ctx.amount(10000, 500000),
        "balance_transaction": None,
        "created": created,
        "currency": "usd",
        "description": f"Top-up {index}",
        "expected_availability_date": created + 5 * DAY,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "source": None,
        "statement_descriptor": None,
        "status": ctx.choice(("succeeded", "succeeded", "pending", "failed", "canceled")),
        "transfer_group": None,
    }
