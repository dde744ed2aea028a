"""Factories for Stripe's payment objects (payment methods and intents, charges, refunds, payouts...,
and the invoice payments that link invoices to payment intents since 2025-03-31.basil).

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty). Where two
objects describe one money movement (a charge and its payment intent, a refund and its charge) the
factory keeps both sides consistent.
"""

from __future__ import annotations

import bisect

from sandbox.seed import DAY
from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext, list_object
from sandbox.stripe_objects import stripe_object

BRANDS = ("visa", "mastercard", "amex")


def _card(ctx: SeedContext) -> JsonObject:
    return {
        "brand": ctx.choice(BRANDS),
        "country": "US",
        "exp_month": ctx.rng.randint(1, 12),
        "exp_year": ctx.rng.randint(2026, 2031),
        "funding": "credit",
        "last4": f"{ctx.rng.randint(0, 9999):04d}",
    }


def payment_method(ctx: SeedContext, index: int) -> JsonObject:
    """A card attached to an existing customer."""
    cust = ctx.pick("customers")
    card = _card(ctx)
    card.update(
        checks={"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        fingerprint=ctx.new_id("fp", 16)[3:],
        networks={"available": [card["brand"]], "preferred": None},
        three_d_secure_usage={"supported": True},
        wallet=None,
    )
    return {
        **stripe_object("payment_method"),
        "id": ctx.new_id("pm"),
        "billing_details": {
            "address": None,
            "email": None if cust is None else cust["email"],
            "name": None if cust is None else cust["name"],
            "phone": None,
        },
        "card": card,
        "created": ctx.after(cust),
        "customer": None if cust is None else cust["id"],
        "metadata": {},
        "type": "card",
    }


def payment_intent(ctx: SeedContext, index: int) -> JsonObject:
    """A payment intent of an existing customer; ``latest_charge`` is set by its charge."""
    cust = ctx.pick("customers")
    amount = ctx.amount()
    status = ctx.choice(("succeeded", "succeeded", "succeeded", "requires_payment_method", "canceled"))
    pi_id = ctx.new_id("pi", 24)
    return {
        **stripe_object("payment_intent"),
        "id": pi_id,
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "cancellation_reason": "abandoned" if status == "canceled" else None,
        "client_secret": f"{pi_id}_secret_sandbox",
        "created": ctx.after(cust),
        "currency": "usd" if cust is None else cust["currency"],
        "customer": None if cust is None else cust["id"],
        "description": f"Payment {index}",
        "invoice": None,
        "metadata": ctx.metadata(),
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "receipt_email": None if cust is None else cust["email"],
        "status": status,
    }


def charge(ctx: SeedContext, index: int) -> JsonObject:
    """A charge; the index-th charge belongs to the index-th payment intent when there is one."""
    intents = ctx.generated.get("payment_intents", [])
    intent = intents[index] if index < len(intents) else None
    cust_id = intent["customer"] if intent is not None else ctx.pick_id("customers")
    cust = ctx.collections["customers"].get(cust_id) if cust_id else None
    amount = int(intent["amount"]) if intent is not None else ctx.amount()
    status = "succeeded" if intent is None or intent["status"] == "succeeded" else "failed"
    charge_id = ctx.new_id("ch", 24)
    if intent is not None:
        intent["latest_charge"] = charge_id
    return {
        **stripe_object("charge"),
        "id": charge_id,
        "amount": amount,
        "amount_captured": amount if status == "succeeded" else 0,
        "billing_details": {"address": None, "email": cust and cust["email"], "name": cust and cust["name"]},
        "calculated_statement_descriptor": "SANDBOX",
        "captured": status == "succeeded",
        "created": ctx.after(intent, cust),
        "currency": "usd" if cust is None else cust["currency"],
        "customer": cust_id,
        "description": None if intent is None else intent["description"],
        "failure_code": None if status == "succeeded" else "card_declined",
        "failure_message": None if status == "succeeded" else "Your card was declined.",
        "fraud_details": {},
        "invoice": None,
        "metadata": ctx.metadata(),
        "outcome": {
            "network_status": "approved_by_network" if status == "succeeded" else "declined_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": ctx.rng.randint(0, 60),
            "seller_message": "Payment complete."
            if status == "succeeded"
            else "The bank did not return any further details.",
            "type": "authorized" if status == "succeeded" else "issuer_declined",
        },
        "paid": status == "succeeded",
        "payment_intent": None if intent is None else intent["id"],
        "payment_method": ctx.new_id("pm"),
        "payment_method_details": {"card": _card(ctx), "type": "card"},
        "receipt_email": None if cust is None else cust["email"],
        "status": status,
    }


def refund(ctx: SeedContext, index: int) -> JsonObject:
    """A refund of part or all of a succeeded charge (the charge's refunded amount follows)."""
    chg = ctx.pick("charges")
    full = ctx.chance(0.5)
    amount = 0 if chg is None else (int(chg["amount"]) if full else max(1, int(chg["amount"]) // 3))
    if chg is not None:
        chg["amount_refunded"] = min(int(chg["amount"]), int(chg["amount_refunded"]) + amount)
        chg["refunded"] = chg["amount_refunded"] == chg["amount"]
    return {
        **stripe_object("refund"),
        "id": ctx.new_id("re", 24),
        "amount": amount,
        "charge": None if chg is None else chg["id"],
        "created": ctx.after(chg),
        "currency": "usd" if chg is None else chg["currency"],
        "metadata": {},
        "payment_intent": None if chg is None else chg["payment_intent"],
        "reason": ctx.choice(("requested_by_customer", "duplicate", None)),
        "status": "succeeded",
    }


def dispute(ctx: SeedContext, index: int) -> JsonObject:
    """A dispute of an existing charge (which becomes ``disputed``)."""
    chg = ctx.pick("charges")
    if chg is not None:
        chg["disputed"] = True
    created = ctx.after(chg)
    return {
        **stripe_object("dispute"),
        "id": ctx.new_id("dp", 24),
        "amount": 0 if chg is None else chg["amount"],
        "charge": None if chg is None else chg["id"],
        "created": created,
        "currency": "usd" if chg is None else chg["currency"],
        "evidence_details": {
            "due_by": created + 7 * DAY,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "payment_intent": None if chg is None else chg["payment_intent"],
        "reason": ctx.choice(("fraudulent", "product_not_received", "duplicate", "subscription_canceled")),
        "status": ctx.choice(("needs_response", "under_review", "won", "lost")),
    }


def payout(ctx: SeedContext, index: int) -> JsonObject:
    """A payout to the account's bank account."""
    created = ctx.created()
    return {
        **stripe_object("payout"),
        "id": ctx.new_id("po", 24),
        "amount": ctx.amount(10000, 2000000),
        "arrival_date": created + 2 * DAY,
        "automatic": True,
        "created": created,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": "ba_sandbox",
        "metadata": {},
        "method": "standard",
        "source_type": "card",
        "status": ctx.choice(("paid", "paid", "paid", "in_transit", "pending", "failed")),
    }


def balance_transaction(ctx: SeedContext, index: int) -> JsonObject:
    """A balance transaction for the index-th charge, refund or payout (its source points back)."""
    sources = [("charges", "charge", 1), ("refunds", "refund", -1), ("payouts", "payout", -1)]
    position = index
    source: JsonObject | None = None
    kind, sign = "adjustment", 1
    for resource, source_kind, source_sign in sources:
        generated = ctx.generated.get(resource, [])
        if position < len(generated):
            source = generated[position]
            kind, sign = source_kind, source_sign
            break
        position -= len(generated)
    txn_id = ctx.new_id("txn", 24)
    amount = sign * (int(source["amount"]) if source is not None else ctx.amount())
    fee = int(abs(amount) * 0.029) + 30 if kind == "charge" else 0
    if source is not None:
        source["balance_transaction"] = txn_id
    created = int(source["created"]) if source is not None else ctx.created()
    return {
        **stripe_object("balance_transaction"),
        "id": txn_id,
        "amount": amount,
        "available_on": created + 2 * DAY,
        "created": created,
        "currency": "usd" if source is None else source["currency"],
        "fee": fee,
        "fee_details": [
            {
                "amount": fee,
                "application": None,
                "currency": "usd",
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else [],
        "net": amount - fee,
        "reporting_category": kind,
        "source": None if source is None else source["id"],
        "status": "available" if created < ctx.now - 2 * DAY else "pending",
        "type": kind,
    }


def transfer(ctx: SeedContext, index: int) -> JsonObject:
    """A transfer to a connected account."""
    transfer_id = ctx.new_id("tr", 24)
    return {
        **stripe_object("transfer"),
        "id": transfer_id,
        "amount": ctx.amount(1000, 200000),
        "created": ctx.created(),
        "currency": "usd",
        "destination": ctx.choice(("acct_sandbox_a", "acct_sandbox_b")),
        "destination_payment": ctx.new_id("py", 24),
        "reversals": list_object([], f"/v1/transfers/{transfer_id}/reversals", False, 0),
        "source_type": "card",
    }


def application_fee(ctx: SeedContext, index: int) -> JsonObject:
    """An application fee collected on a charge of a connected account."""
    chg = ctx.pick("charges")
    fee_id = ctx.new_id("fee", 24)
    return {
        **stripe_object("application_fee"),
        "id": fee_id,
        "account": ctx.choice(("acct_sandbox_a", "acct_sandbox_b")),
        "amount": 0 if chg is None else max(1, int(chg["amount"]) // 10),
        "application": "ca_sandbox",
        "charge": None if chg is None else chg["id"],
        "created": ctx.after(chg),
        "currency": "usd" if chg is None else chg["currency"],
        "refunds": list_object([], f"/v1/application_fees/{fee_id}/refunds", False, 0),
    }


def setup_intent(ctx: SeedContext, index: int) -> JsonObject:
    """A setup intent that saved (or tried to save) a card for a customer."""
    cust = ctx.pick("customers")
    seti_id = ctx.new_id("seti", 24)
    return {
        **stripe_object("setup_intent"),
        "id": seti_id,
        "client_secret": f"{seti_id}_secret_sandbox",
        "created": ctx.after(cust),
        "customer": None if cust is None else cust["id"],
        "metadata": {},
        "payment_method": ctx.pick_id("payment_methods"),
        "payment_method_options": {
            "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "status": ctx.choice(("succeeded", "succeeded", "requires_payment_method", "canceled")),
        "usage": "off_session",
    }


def payout_of(ctx: SeedContext, txn: JsonObject) -> str | None:
    """The automatic payout that paid a balance transaction out (for ``balance_transactions?payout=``).

    A payout's own transaction belongs to it; any other available transaction belongs to the first
    payout (not failed or canceled) created once its funds were available; newer ones await a payout.
    """
    if txn["type"] == "payout":
        return str(txn["source"])
    payouts = ctx.generated.get("payouts", [])
    key = ("payout_times", len(payouts))
    times = ctx.memo.get(key)
    if times is None:
        paying = [p for p in payouts if p["automatic"] and p["status"] not in ("failed", "canceled")]
        times = sorted((int(p["created"]), str(p["id"])) for p in paying)
        ctx.memo[key] = times
    position = bisect.bisect_left(times, (int(txn["available_on"]), ""))
    return times[position][1] if position < len(times) else None


def early_fraud_warning(ctx: SeedContext, index: int) -> JsonObject:
    """A card network's fraud report on an existing charge."""
    chg = ctx.pick("charges")
    return {
        **stripe_object("radar.early_fraud_warning"),
        "id": ctx.new_id("issfr", 24),
        "actionable": ctx.chance(0.7),
        "charge": None if chg is None else chg["id"],
        "created": ctx.after(chg),
        "fraud_type": ctx.choice(("made_with_stolen_card", "unauthorized_use_of_card", "misc")),
        "payment_intent": None if chg is None else chg["payment_intent"],
    }


def review(ctx: SeedContext, index: int) -> JsonObject:
    """A Radar review of an existing charge (which points back at it); most are closed."""
    chg = ctx.pick("charges")
    review_id = ctx.new_id("prv", 24)
    if chg is not None:
        chg["review"] = review_id
    opened_reason = ctx.choice(("rule", "manual"))
    closed_reason = None if ctx.chance(0.3) else ctx.choice(("approved", "refunded", "refunded_as_fraud"))
    return {
        **stripe_object("review"),
        "id": review_id,
        "billing_zip": "94103",
        "charge": None if chg is None else chg["id"],
        "closed_reason": closed_reason,
        "created": ctx.after(chg),
        "ip_address": "192.0.2.10",
        "ip_address_location": {
            "city": "San Francisco",
            "country": "US",
            "latitude": 37.77,
            "longitude": -122.42,
            "region": "CA",
        },
        "open": closed_reason is None,
        "opened_reason": opened_reason,
        "payment_intent": None if chg is None else chg["payment_intent"],
        "reason": closed_reason or opened_reason,
    }


def invoice_payment(ctx: SeedContext, index: int) -> JsonObject:
    """A payment of a finalized invoice (``/v1/invoice_payments``, 2025-03-31.basil).

    The index-th one pays the index-th finalized invoice (its default payment); further ones are
    canceled earlier attempts. A paid invoice's payment is the payment intent of the same index, which
    (with its charge) names the invoice in versions before basil.
    """
    finalized = ctx.memo.get("finalized_invoices")
    if finalized is None:
        finalized = [inv for inv in ctx.generated.get("invoices", []) if inv["status"] != "draft"]
        ctx.memo["finalized_invoices"] = finalized
    inv = finalized[index % len(finalized)] if finalized else None
    default = index < len(finalized)
    status = (
        {"paid": "paid", "void": "canceled"}.get(inv["status"], "open") if inv and default else "canceled"
    )
    intents = ctx.generated.get("payment_intents", [])
    intent = intents[index] if index < len(intents) else ctx.pick("payment_intents")
    created = int(inv["status_transitions"]["finalized_at"] or inv["created"]) if inv else ctx.created()
    if inv is not None and intent is not None and status == "paid":
        inv["payment_intent"] = intent["id"]
        inv["charge"] = intent["latest_charge"]
        intent["invoice"] = inv["id"]
        for charge in ctx.generated.get("charges", [])[index : index + 1]:
            if charge["payment_intent"] == intent["id"]:
                charge["invoice"] = inv["id"]
    requested = 0 if inv is None else int(inv["amount_due"])
    return {
        **stripe_object("invoice_payment"),
        "id": ctx.new_id("inpay", 24),
        "amount_paid": requested if status == "paid" else None,
        "amount_requested": requested,
        "created": created,
        "currency": "usd" if inv is None else inv["currency"],
        "invoice": None if inv is None else inv["id"],
        "is_default": default,
        "payment": {
            "charge": None,
            "payment_intent": None if intent is None else intent["id"],
            "payment_record": None,
            "type": "payment_intent",
        },
        "status": status,
        "status_transitions": {
            "canceled_at": created + 3600 if status == "canceled" else None,
            "paid_at": inv["status_transitions"]["paid_at"] if inv and status == "paid" else None,
        },
    }
