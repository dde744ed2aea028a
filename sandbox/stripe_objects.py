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
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from types import NoneType
from typing import Any

from stripe._object_classes import get_object_class
from stripe._stripe_object import StripeObject, UntypedStripeObject

from sandbox.store import JsonObject
from sandbox.stripe_versions import BASIL_CHANGES
from scripts.stripe_sdk import fields

Empty = Callable[[], Any]
Template = tuple[JsonObject, tuple[tuple[str, Empty], ...]]
"""An object's immutable empty values, and the makers of its mutable ones (lists, maps, nested objects)."""

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

_SCALARS: dict[Any, Any] = {bool: False, int: 0, float: 0.0, str: "", Decimal: ""}


def stripe_object(kind: str) -> JsonObject:
    """A new object of a kind (its ``object`` value, e.g. ``invoice``) with every field empty."""
    return _build(_template(kind))


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
    return _class_template({name: hint for name, hint in hints.items() if name not in left_out}, {})


def _class_template(hints: dict[str, Any], bindings: dict[Any, Any], kind: str | None = None) -> Template:
    constants: JsonObject = {} if kind is None else {"object": kind}
    makers: list[tuple[str, Empty]] = []
    for name, hint in hints.items():
        empty = _empty(hint, bindings)
        if callable(empty):
            makers.append((name, empty))
        else:
            constants[name] = empty
    return constants, tuple(makers)


def _build(template: Template) -> JsonObject:
    constants, makers = template
    obj = dict(constants)
    for name, make in makers:
        obj[name] = make()
    return obj


def _empty(hint: Any, bindings: dict[Any, Any]) -> Any:
    """The empty value of a field's type: a constant, or a maker of a new mutable value."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, typing.TypeVar):
        return _empty(bindings[hint], bindings)
    if origin is typing.Union:
        # Nullable: null. `Union[Literal[...], str]` and `ExpandableField[X]` (an id): their first member.
        return None if NoneType in args else _empty(args[0], bindings)
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        return list
    if origin is UntypedStripeObject:
        return dict
    if hint in _SCALARS:
        return _SCALARS[hint]
    if isinstance(hint, type) and issubclass(hint, StripeObject):
        nested = _class_template(fields(hint), {})
        return lambda: _build(nested)
    if isinstance(origin, type) and issubclass(origin, StripeObject):
        # A generic object (`ListObject["InvoiceLineItem"]`): its fields with the type arguments filled in.
        bound = dict(zip(getattr(origin, "__parameters__", ()), args, strict=True))
        generic = _class_template(fields(origin), bound, getattr(origin, "OBJECT_NAME", None))
        return lambda: _build(generic)
    raise ValueError(f"no empty value for {hint!r}: teach sandbox/stripe_objects.py this type")
