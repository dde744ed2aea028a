"""Stripe's objects as its official SDK (the pinned ``stripe`` package) defines them, for the factories.

``stripe_object(kind)`` is a new object of that kind with every field today's API version gives it, each
empty: null where the SDK allows null, else ``false``, 0, ``""``, an empty list or map, the first value of
a literal, or the nested object's own empty fields. A factory starts from it and sets what the sandbox
models (ids, links, amounts, states, times) and the fields older versions have that today's no longer
does; the rest of the shape is Stripe's, not written by hand. Left out: what Stripe does not return
unless asked (``INCLUDABLE``: the fields its reference says are "not included by default", which only
``expand[]`` adds), a payment method's details of the other types than its own, the fields
``stripe_versions`` derives for 2025-03-31.basil and later (they are not stored), and ``deleted`` (a
deleted object's payload is built apart).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from stripe._object_classes import get_object_class
from stripe._stripe_object import StripeObject, UntypedStripeObject

from sandbox.sdk_objects import Template, build, plain_empty, template
from sandbox.store import JsonObject
from sandbox.stripe_versions import BASIL_CHANGES
from scripts.stripe_sdk import fields

INCLUDABLE: dict[str, frozenset[str]] = {
    "charge": frozenset({"refunds"}),
    "checkout.session": frozenset({"line_items"}),
    "coupon": frozenset({"applies_to", "currency_options"}),
    "customer": frozenset(
        {"cash_balance", "invoice_credit_balance", "sources", "subscriptions", "tax", "tax_ids"}
    ),
    "invoice": frozenset({"payments"}),
    "issuing.card": frozenset({"cvc", "number"}),
    "item": frozenset({"discounts", "taxes"}),
    "plan": frozenset({"tiers"}),
    "price": frozenset({"currency_options", "tiers"}),
    "quote": frozenset({"line_items"}),
}
"""Fields of a kind that only ``expand[]`` includes."""


def stripe_object(kind: str) -> JsonObject:
    """A new object of a kind (its ``object`` value, e.g. ``invoice``) with every field empty."""
    return build(_template(kind))


@cache
def _template(kind: str) -> Template:
    cls = get_object_class("V1", kind)
    if cls is StripeObject:
        raise KeyError(f"the stripe package defines no object {kind!r}")
    hints = fields(cls)
    change = BASIL_CHANGES.get(kind)
    left_out = {"deleted", *INCLUDABLE.get(kind, ())}
    if change is not None and change.derive is not None:
        left_out.update(change.derive({}))
    if kind == "payment_method":
        # One hash of details, named after the method's type (`card`): the factory sets it.
        left_out.update(typing.get_args(typing.get_args(hints["type"])[0]))
    return template({name: hint for name, hint in hints.items() if name not in left_out}, _empty)


def _empty(hint: Any, bindings: Mapping[Any, Any] | None = None) -> Any:
    """The empty value of a field's type (``bindings``: a generic class's type variables)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, typing.TypeVar):
        return _empty((bindings or {})[hint])
    if origin is UntypedStripeObject:
        return dict
    if isinstance(hint, type) and issubclass(hint, StripeObject):
        nested = template(fields(hint), _empty)
        return lambda: build(nested)
    if isinstance(origin, type) and issubclass(origin, StripeObject):
        # A generic object (`ListObject["InvoiceLineItem"]`): its fields with the type arguments filled in.
        bound = dict(zip(getattr(origin, "__parameters__", ()), args, strict=True))
        kind = getattr(origin, "OBJECT_NAME", None)
        generic = template(
            fields(origin), lambda member: _empty(member, bound), {"object": kind} if kind else None
        )
        return lambda: build(generic)
    try:
        return plain_empty(hint, lambda member: _empty(member, bindings))
    except LookupError:
        raise ValueError(f"no empty value for {hint!r}: teach sandbox/stripe_objects.py this type") from None
