"""Factories for Stripe's billing objects (customers, subscriptions, invoices, credit notes, quotes).

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty) and fills what the
sandbox models with small realistic values, plus the 2023-08-16 fields later versions moved
(``stripe_versions`` renders them by version). Ids that objects point at exist in the same account
(invoice lines not from a subscription name an invoice item id of their own, as basil's
``parent.invoice_item_details.invoice_item`` needs one).
"""

from __future__ import annotations

from sandbox.seed import DAY, EmailPool
from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext, first_page, price_summary
from sandbox.stripe_objects import stripe_object


def customer(ctx: SeedContext, index: int) -> JsonObject:
    """A customer; e-mails come from the shared pool so joins with Orb and licenses find matches."""
    return {
        **stripe_object("customer"),
        "id": ctx.new_id("cus"),
        "balance": 0 if ctx.chance(0.9) else -ctx.amount(100, 5000),
        "created": ctx.created(),
        "currency": ctx.currency(),
        "delinquent": ctx.chance(0.05),
        "email": EmailPool.email(ctx.slot * 1_000_000 + index),
        "invoice_prefix": ctx.new_id("x", 9)[3:].upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
        "metadata": ctx.metadata(),
        "name": f"User {index}",
        "next_invoice_sequence": ctx.rng.randint(1, 40),
        "preferred_locales": [],
        "tax_exempt": "none",
    }


SUBSCRIPTION_STATUSES = (
    "active",
    "active",
    "active",
    "active",
    "trialing",
    "past_due",
    "canceled",
    "canceled",
)


def subscription(ctx: SeedContext, index: int) -> JsonObject:
    """A subscription of an existing customer; ``items`` is filled after its items exist.

    The first subscription belongs to the first customer and is active, so an active subscription
    whose e-mail holds no license always exists (licenses never use the first customer's e-mail).
    """
    customers = ctx.generated.get("customers") or []
    cust = customers[0] if index == 0 and customers else ctx.pick("customers")
    status = "active" if index == 0 else ctx.choice(SUBSCRIPTION_STATUSES)
    created = ctx.after(cust)
    period_start = max(created, ctx.now - ctx.rng.randint(0, 29) * DAY)
    canceled_at = ctx.after({"created": created}) if status == "canceled" else None
    return {
        **stripe_object("subscription"),
        "id": ctx.new_id("sub"),
        "billing_cycle_anchor": created,
        "canceled_at": canceled_at,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "created": created,
        "currency": "usd" if cust is None else cust["currency"],
        "current_period_end": period_start + 30 * DAY,
        "current_period_start": period_start,
        "customer": None if cust is None else cust["id"],
        "default_tax_rates": [],
        "discount": None,
        "ended_at": canceled_at,
        "items": None,
        "metadata": ctx.metadata(),
        "start_date": created,
        "status": status,
    }


def subscription_item(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """One item of a subscription (Stripe embeds the price; metered items have no quantity)."""
    price = price_summary(_item_price(ctx, index, parent))
    quantity = ctx.rng.randint(1, 5)
    metered = price is not None and (price["recurring"] or {}).get("usage_type") == "metered"
    return {
        **stripe_object("subscription_item"),
        "id": ctx.new_id("si"),
        "created": int(parent["created"]) + 1,
        # Since 2025-03-31.basil the billing period is the item's (older versions leave it out).
        "current_period_end": parent["current_period_end"],
        "current_period_start": parent["current_period_start"],
        "price": price,
        "quantity": None if metered else quantity,
        "subscription": parent["id"],
        "tax_rates": [],
    }


def _item_price(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject | None:
    """A random price; the second and third subscriptions' first items are on the seeded meter-based and
    legacy metered prices (``catalogue.price`` index 1 and 2), so both kinds exist at any scale."""
    subscriptions = ctx.generated.get("subscriptions", [])
    prices = ctx.generated.get("prices", [])
    for position in (1, 2):
        chosen = len(subscriptions) > position and parent is subscriptions[position]
        if index == 0 and chosen and len(prices) > position:
            return prices[position]
    return ctx.pick("prices")


def fill_subscription(ctx: SeedContext, sub: JsonObject, items: list[JsonObject]) -> None:
    """Embed the first page of items in their subscription."""
    sub["items"] = first_page(items, f"/v1/subscription_items?subscription={sub['id']}")


INVOICE_STATUSES = ("paid", "paid", "paid", "paid", "open", "draft", "void", "uncollectible")


def invoice(ctx: SeedContext, index: int) -> JsonObject:
    """An invoice; amounts and ``lines`` are filled after its lines exist."""
    sub = ctx.pick("subscriptions") if ctx.chance(0.8) else None
    cust_id = sub["customer"] if sub is not None else ctx.pick_id("customers")
    cust = ctx.collections["customers"].get(cust_id) if cust_id else None
    created = ctx.after(sub, cust)
    status = ctx.choice(INVOICE_STATUSES)
    finalized = None if status == "draft" else created + 3600
    return {
        **stripe_object("invoice"),
        "id": ctx.new_id("in"),
        "account_country": "US",
        "account_name": "Sandbox Inc.",
        "attempt_count": 0 if status == "draft" else 1,
        "attempted": status != "draft",
        "auto_advance": status in ("draft", "open"),
        "billing_reason": "subscription_cycle" if sub is not None else "manual",
        "charge": None,
        "collection_method": "charge_automatically" if ctx.chance(0.8) else "send_invoice",
        "created": created,
        "currency": "usd" if cust is None else cust["currency"],
        "customer": cust_id,
        "customer_email": None if cust is None else cust["email"],
        "customer_name": None if cust is None else cust["name"],
        "discount": None,
        "effective_at": finalized,
        "ending_balance": None if status == "draft" else 0,
        "lines": None,
        "metadata": ctx.metadata(),
        "number": None if status == "draft" else f"SBX-{index:06d}",
        "paid": status == "paid",
        "paid_out_of_band": False,
        "payment_intent": None,
        "period_end": created,
        "period_start": created - 30 * DAY,
        "status": status,
        "status_transitions": {
            "finalized_at": finalized,
            "marked_uncollectible_at": created + 7 * DAY if status == "uncollectible" else None,
            "paid_at": created + 7200 if status == "paid" else None,
            "voided_at": created + 7200 if status == "void" else None,
        },
        "subscription": None if sub is None else sub["id"],
        "subscription_details": None if sub is None else {"metadata": dict(sub["metadata"])},
        "tax": None,
        "total_tax_amounts": [],
        "webhooks_delivered_at": finalized,
    }


def invoice_lines_count(ctx: SeedContext, parent: JsonObject) -> int:
    """Lines per invoice: mostly 1-4, but 15% have 10-30 so embedded ``lines`` has ``has_more``."""
    return ctx.rng.randint(10, 30) if ctx.chance(0.15) else ctx.rng.randint(1, 4)


def invoice_line(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A line of an invoice (``line_item``); lines have no ``created`` and keep insertion order."""
    prc = ctx.pick("prices")
    quantity = ctx.rng.randint(1, 3)
    unit = int(prc["unit_amount"]) if prc else ctx.amount(900, 9900)
    item = None
    if parent["subscription"]:
        items = ctx.collections["subscription_items"].children(str(parent["subscription"]))
        item = items[index % len(items)][1] if items else None
    return {
        **stripe_object("line_item"),
        "id": ctx.new_id("il"),
        "amount": unit * quantity,
        "amount_excluding_tax": unit * quantity,
        "currency": parent["currency"],
        "description": f"{quantity} x {prc['nickname'] if prc else 'Service'}",
        "discount_amounts": [],
        "discountable": True,
        "invoice": parent["id"],
        "invoice_item": None if parent["subscription"] else ctx.new_id("ii"),
        "period": {"end": parent["period_end"], "start": parent["period_start"]},
        "plan": None,
        "price": price_summary(prc),
        "proration": False,
        "proration_details": {"credited_items": None},
        "quantity": quantity,
        "subscription": parent["subscription"],
        "subscription_item": item,
        "tax_amounts": [],
        "tax_rates": [],
        "type": "subscription" if parent["subscription"] else "invoiceitem",
        "unit_amount_excluding_tax": str(unit),
    }


def fill_invoice(ctx: SeedContext, inv: JsonObject, lines: list[JsonObject]) -> None:
    """Compute an invoice's totals from all its lines and embed the first ten."""
    total = sum(int(line["amount"]) for line in lines)
    paid = inv["status"] == "paid"
    inv.update(subtotal=total, total=total, amount_due=0 if inv["status"] == "draft" else total)
    inv.update(amount_paid=total if paid else 0, amount_remaining=0 if paid else inv["amount_due"])
    inv["lines"] = first_page(lines, f"/v1/invoices/{inv['id']}/lines")


def invoiceitem(ctx: SeedContext, index: int) -> JsonObject:
    """A pending or invoiced invoice item."""
    inv = ctx.pick("invoices") if ctx.chance(0.6) else None
    cust_id = inv["customer"] if inv is not None else ctx.pick_id("customers")
    amount = ctx.amount(500, 20000)
    date = ctx.after(inv)
    return {
        **stripe_object("invoiceitem"),
        "id": ctx.new_id("ii"),
        "amount": amount,
        "currency": "usd",
        "customer": cust_id,
        "date": date,
        "description": f"One-off charge {index}",
        "discountable": True,
        "discounts": [],
        "invoice": None if inv is None else inv["id"],
        "metadata": ctx.metadata(),
        "period": {"end": date, "start": date},
        "price": None,
        "quantity": 1,
        "subscription": None,
        "tax_rates": [],
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def credit_note(ctx: SeedContext, index: int) -> JsonObject:
    """A credit note against an existing invoice; ``lines`` and amounts are filled afterwards."""
    inv = ctx.pick("invoices")
    created = ctx.after(inv)
    status = "void" if ctx.chance(0.1) else "issued"
    return {
        **stripe_object("credit_note"),
        "id": ctx.new_id("cn"),
        "created": created,
        "currency": "usd" if inv is None else inv["currency"],
        "customer": None if inv is None else inv["customer"],
        "effective_at": created,
        "invoice": None if inv is None else inv["id"],
        "lines": None,
        "metadata": ctx.metadata(),
        "number": f"SBX-CN-{index:05d}",
        "pdf": f"https://pay.stripe.com/credit_notes/sandbox/{index}/pdf",
        "reason": ctx.choice(("duplicate", "order_change", "product_unsatisfactory", None)),
        "refund": None,
        "status": status,
        "subtotal_excluding_tax": 0,
        "tax_amounts": [],
        "total_excluding_tax": 0,
        "type": ctx.choice(("pre_payment", "post_payment")),
        "voided_at": created + 3600 if status == "void" else None,
    }


def credit_note_line(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A line of a credit note."""
    amount = ctx.amount(100, 10000)
    return {
        **stripe_object("credit_note_line_item"),
        "id": ctx.new_id("cnli"),
        "amount": amount,
        "amount_excluding_tax": amount,
        "description": "Credit for unused time",
        "quantity": 1,
        "tax_amounts": [],
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
        "unit_amount_excluding_tax": str(amount),
    }


def fill_credit_note(ctx: SeedContext, note: JsonObject, lines: list[JsonObject]) -> None:
    """Compute a credit note's amounts from its lines and embed the first ten."""
    total = sum(int(line["amount"]) for line in lines)
    note.update(
        amount=total, subtotal=total, subtotal_excluding_tax=total, total=total, total_excluding_tax=total
    )
    note["lines"] = first_page(lines, f"/v1/credit_notes/{note['id']}/lines")


def quote(ctx: SeedContext, index: int) -> JsonObject:
    """A quote for an existing customer."""
    cust = ctx.pick("customers")
    created = ctx.after(cust)
    total = ctx.amount(5000, 500000)
    status = ctx.choice(("draft", "open", "accepted", "canceled"))
    totals = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
    return {
        **stripe_object("quote"),
        "id": ctx.new_id("qt"),
        "amount_subtotal": total,
        "amount_total": total,
        "computed": {
            "recurring": None,
            "upfront": {"amount_subtotal": total, "amount_total": total, "total_details": totals},
        },
        "created": created,
        "currency": "usd",
        "customer": None if cust is None else cust["id"],
        "expires_at": created + 30 * DAY,
        "metadata": ctx.metadata(),
        "number": None if status == "draft" else f"QT-SBX-{index:05d}",
        "status": status,
        "status_transitions": {
            "accepted_at": created + DAY if status == "accepted" else None,
            "canceled_at": created + DAY if status == "canceled" else None,
            "finalized_at": None if status == "draft" else created + 600,
        },
        "total_details": totals,
    }


def subscription_schedule(ctx: SeedContext, index: int) -> JsonObject:
    """A subscription schedule with two phases."""
    cust = ctx.pick("customers")
    created = ctx.after(cust)
    prc = ctx.pick("prices")
    status = ctx.choice(("not_started", "active", "completed", "released", "canceled"))
    middle = created + 30 * DAY
    phases = [
        {
            "start_date": start,
            "end_date": start + 30 * DAY,
            "items": [{"price": prc and prc["id"], "quantity": 1}],
        }
        for start in (created, middle)
    ]
    return {
        **stripe_object("subscription_schedule"),
        "id": ctx.new_id("sub_sched"),
        "canceled_at": created + DAY if status == "canceled" else None,
        "completed_at": middle + 30 * DAY if status == "completed" else None,
        "created": created,
        "current_phase": {"end_date": middle, "start_date": created} if status == "active" else None,
        "customer": None if cust is None else cust["id"],
        "default_settings": {
            "billing_cycle_anchor": "automatic",
            "collection_method": "charge_automatically",
        },
        "end_behavior": "release",
        "metadata": ctx.metadata(),
        "phases": phases,
        "released_at": created + DAY if status == "released" else None,
        "status": status,
    }
