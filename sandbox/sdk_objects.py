"""Empty objects from a vendor SDK's type hints: the part ``stripe_objects`` and ``orb_objects`` share.

A ``Template`` holds an object's immutable empty values and the makers of its mutable ones (lists, maps,
nested objects), so that ``build`` makes a new object cheaply for each seeded one.
"""

from __future__ import annotations

import datetime
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import NoneType
from typing import Any

from sandbox.store import JsonObject

Maker = Callable[[], Any]
Template = tuple[JsonObject, tuple[tuple[str, Maker], ...]]

# Decimal: the decimal strings the Stripe SDK parses (`unit_amount_decimal`); a string on the wire.
SCALARS: Mapping[Any, Any] = {
    bool: False,
    int: 0,
    float: 0.0,
    str: "",
    Decimal: "",
    object: None,
    datetime.datetime: "1970-01-01T00:00:00Z",
    datetime.date: "1970-01-01",
}


def template(
    hints: Mapping[str, Any], empty: Callable[[Any], Any], first: JsonObject | None = None
) -> Template:
    """The template of an object whose fields have these type hints; ``empty`` gives each field's value
    (a constant, or a maker of a new mutable value); ``first`` holds fields the hints leave out."""
    constants: JsonObject = dict(first or {})
    makers: list[tuple[str, Maker]] = []
    for name, hint in hints.items():
        value = empty(hint)
        if callable(value):
            makers.append((name, value))
        else:
            constants[name] = value
    return constants, tuple(makers)


def build(made: Template) -> JsonObject:
    """A new object from a template."""
    constants, makers = made
    obj = dict(constants)
    for name, make in makers:
        obj[name] = make()
    return obj


def plain_empty(hint: Any, empty: Callable[[Any], Any]) -> Any:
    """The empty value of the types every SDK uses: null where null is allowed, else the first member of
    a union (``Union[Literal[...], str]``, an id or an object: the id) or literal, an empty list or map, or a
    scalar's zero; ``empty`` gives a member's.

    Raises:
        LookupError: A type of the vendor's own (the caller's to give).
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return empty(args[0])
    if origin is typing.Union:
        return None if NoneType in args else empty(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        return list
    if origin is dict:
        return dict
    if hint in SCALARS:
        return SCALARS[hint]
    raise LookupError(hint)
