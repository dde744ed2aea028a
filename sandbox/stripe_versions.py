"""Stripe API versions: each account's version history, and the ONE renderer of objects by version.

Objects are stored in one canonical shape: today's fields (``stripe_objects``) less those basil derives
from older ones, plus the 2023-08-16 fields basil removed. The fields basil added that no older field
holds (a subscription item's own billing period) are left out of older versions; every other field is in
every version, as a field Stripe adds without a breaking change is. ``render`` turns a stored
object into the shape of a version: since ``2025-03-31.basil`` an invoice names its subscription under
``parent``, a subscription's billing period sits on its items, invoice lines and invoice items carry
``pricing`` and ``parent`` instead of ``price``/``type``/``subscription``/``proration``, and charges and
payment intents lose ``invoice`` (``/v1/invoice_payments`` links them); a product's ``features`` are its
``marketing_features`` (a 2024-04-10 rename, on basil's side of the two shapes). Field names follow the
official ``stripe`` package's typed resources (16.x, ``2026-10-28.endive``).

An account's default version applies to requests without ``Stripe-Version``; an event keeps the version
that was the account's default when it was created, with ``data.object`` rendered in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.seed import DAY
from sandbox.store import JsonObject

LEGACY = "2023-08-16"
BASIL = "2025-03-31.basil"
CURRENT = "2026-10-28.endive"
"""The version of the official ``stripe`` package the connector's schemas are generated from."""


def shape_of(version: str) -> str:
    """``basil`` for versions from 2025-03-31 on (their date prefix sorts), else ``legacy``."""
    return "basil" if version[:10] >= BASIL[:10] else "legacy"


@dataclass(frozen=True)
class VersionHistory:
    """An account's default API version over time.

    Attributes:
        initial: The default version the account started with.
        upgrades: ``(epoch seconds, version)``: the default from that time on, oldest first.
    """

    initial: str
    upgrades: tuple[tuple[int, str], ...] = ()

    def at(self, when: int) -> str:
        """The account's default version at a time."""
        version = self.initial
        for since, upgraded in self.upgrades:
            if when >= since:
                version = upgraded
        return version


def histories(start: int) -> dict[str, VersionHistory]:
    """The accounts' default version histories (other accounts use ``LEGACY``).

    Args:
        start: The sandbox's start time (epoch seconds).
    """
    return {
        "acct_sandbox": VersionHistory(LEGACY),
        "acct_sandbox_a": VersionHistory(CURRENT),
        # Upgraded mid-history: events of the last 10 days are rendered in the current version, older ones
        # in 2023-08-16 (both inside the 30 days /v1/events lists).
        "acct_sandbox_b": VersionHistory(LEGACY, ((start - 10 * DAY, CURRENT),)),
    }


# Rendering ----------------------------------------------------------------------------------------

Derive = Callable[[JsonObject], JsonObject]


@dataclass(frozen=True)
class ShapeChange:
    """How one object kind differs from 2025-03-31.basil on.

    Attributes:
        removed: Fields basil and later no longer have.
        added: Stored fields only basil and later have (left out of older versions).
        derive: The fields basil and later compute from the stored ones.
    """

    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    derive: Derive | None = None


def _taxes(amounts: list[JsonObject] | None) -> list[JsonObject]:
    """2023-08-16 tax amounts (an invoice's ``total_tax_amounts``, a line's ``tax_amounts``) as basil's
    ``tax_rate_details`` taxes."""
    return [
        {
            "amount": tax.get("amount", 0),
            "tax_behavior": "inclusive" if tax.get("inclusive") else "exclusive",
            "tax_rate_details": {"tax_rate": tax.get("tax_rate")},
            "taxability_reason": tax.get("taxability_reason") or "standard_rated",
            "taxable_amount": tax.get("taxable_amount"),
            "type": "tax_rate_details",
        }
        for tax in amounts or []
    ]


def _invoice(obj: JsonObject) -> JsonObject:
    subscription = obj.get("subscription")
    details = obj.get("subscription_details") or {}
    parent = None
    if subscription:
        parent = {
            "quote_details": None,
            "subscription_details": {
                "metadata": details.get("metadata"),
                "subscription": subscription,
                "subscription_proration_date": None,
            },
            "type": "subscription_details",
        }
    return {
        "parent": parent,
        "amount_overpaid": 0,
        "amount_paid_off_stripe": 0,
        "discounts": obj.get("discounts") or [],
        "total_pretax_credit_amounts": [],
        "total_taxes": _taxes(obj.get("total_tax_amounts")),
    }


def _pricing(price: Any, unit_amount: Any) -> JsonObject | None:
    if not isinstance(price, dict) and not isinstance(price, str):
        return None
    price_id = price["id"] if isinstance(price, dict) else price
    product = price.get("product") if isinstance(price, dict) else None
    if isinstance(product, dict):
        product = product.get("id")
    return {
        "price_details": {"price": price_id, "product": product},
        "type": "price_details",
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }


def _line_item(obj: JsonObject) -> JsonObject:
    price = obj.get("price")
    unit = price.get("unit_amount") if isinstance(price, dict) else None
    proration = {"proration": bool(obj.get("proration")), "proration_details": obj.get("proration_details")}
    if obj.get("type") == "subscription" or (obj.get("subscription_item") and not obj.get("invoice_item")):
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": obj.get("invoice_item"),
                **proration,
                "subscription": obj.get("subscription"),
                "subscription_item": obj.get("subscription_item"),
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": obj.get("invoice_item"),
                **proration,
                "subscription": obj.get("subscription"),
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "parent": parent,
        "pricing": _pricing(price, unit),
        "pretax_credit_amounts": [],
        "subtotal": obj.get("amount", 0),
        "taxes": _taxes(obj.get("tax_amounts")),
    }


def _invoiceitem(obj: JsonObject) -> JsonObject:
    subscription = obj.get("subscription")
    parent = None
    if subscription:
        parent = {
            "subscription_details": {
                "subscription": subscription,
                "subscription_item": obj.get("subscription_item"),
            },
            "type": "subscription_details",
        }
    return {
        "parent": parent,
        "pricing": _pricing(obj.get("price"), obj.get("unit_amount_decimal") or obj.get("unit_amount")),
        "net_amount": obj.get("amount"),
        "quantity_decimal": str(obj.get("quantity") or 1),
    }


def _subscription(obj: JsonObject) -> JsonObject:
    return {"discounts": obj.get("discounts") or []}


BASIL_CHANGES: dict[str, ShapeChange] = {
    "invoice": ShapeChange(
        removed=(
            "charge",
            "discount",
            "paid",
            "paid_out_of_band",
            "payment_intent",
            "subscription",
            "subscription_details",
            "tax",
            "total_tax_amounts",
        ),
        derive=_invoice,
    ),
    "line_item": ShapeChange(
        removed=(
            "amount_excluding_tax",
            "invoice_item",
            "plan",
            "price",
            "proration",
            "proration_details",
            "subscription",
            "subscription_item",
            "tax_amounts",
            "tax_rates",
            "type",
            "unit_amount_excluding_tax",
        ),
        derive=_line_item,
    ),
    "invoiceitem": ShapeChange(
        removed=("plan", "price", "subscription", "subscription_item", "unit_amount", "unit_amount_decimal"),
        derive=_invoiceitem,
    ),
    "subscription": ShapeChange(
        removed=("current_period_end", "current_period_start", "discount"), derive=_subscription
    ),
    "subscription_item": ShapeChange(added=("current_period_end", "current_period_start")),
    # 2024-04-10 renamed a product's `features` (the sandbox has two shapes: it falls on basil's side).
    "product": ShapeChange(removed=("features",), added=("marketing_features",)),
    "charge": ShapeChange(removed=("invoice",)),
    "payment_intent": ShapeChange(removed=("invoice",)),
}
"""Every difference the sandbox models, by object kind (``object`` value)."""


def renders_differently(object_name: str) -> bool:
    """Whether stored objects of this kind (invoices and subscriptions with what they embed) differ
    between versions; others need rendering only when ``expand[]`` embeds such an object."""
    return object_name in BASIL_CHANGES


def render(obj: JsonObject, version: str) -> JsonObject:
    """The object (and the lists or expanded objects it embeds) in the shape of an API version.

    Args:
        obj: A stored object (not modified).
        version: An API version.

    Returns:
        A new object, or ``obj`` itself when nothing differs.
    """
    return _render(obj, shape_of(version))


def _render(obj: JsonObject, shape: str) -> JsonObject:
    change = BASIL_CHANGES.get(str(obj.get("object")))
    result = obj
    if change is not None:
        if shape == "basil":
            result = {key: value for key, value in obj.items() if key not in change.removed}
            if change.derive is not None:
                result.update(change.derive(obj))
        elif change.added:
            result = {key: value for key, value in obj.items() if key not in change.added}
    for key, value in obj.items():
        if not isinstance(value, dict) or key not in result:
            continue
        if value.get("object") == "list" and isinstance(value.get("data"), list):
            data = [_render(item, shape) if isinstance(item, dict) else item for item in value["data"]]
            if any(new is not old for new, old in zip(data, value["data"], strict=True)):
                result = dict(result) if result is obj else result
                result[key] = {**value, "data": data}
        elif "object" in value:
            rendered = _render(value, shape)
            if rendered is not value:
                result = dict(result) if result is obj else result
                result[key] = rendered
    return result
