"""Orb's objects as its official SDK (the pinned ``orb-billing`` package) defines them, for the seeders.

``orb_object(model)`` is a new object of an SDK model (``orb.types.Customer``) with every field Orb
returns, each empty: null where the model allows null, else ``false``, 0, ``""``, an empty list or map,
the first value of a literal, the first kind of a union (a unit price among prices), or the nested
model's own empty fields. A seeder starts from it and sets what the sandbox models; the rest of the shape
is Orb's, not written by hand.
"""

from __future__ import annotations

import datetime
import typing
from collections.abc import Callable
from functools import cache
from types import NoneType
from typing import Any

from pydantic import BaseModel

from sandbox.store import JsonObject

Template = tuple[JsonObject, tuple[tuple[str, Callable[[], Any]], ...]]
"""A model's immutable empty values, and the makers of its mutable ones (lists, maps, nested objects)."""

_SCALARS: dict[Any, Any] = {
    bool: False,
    int: 0,
    float: 0.0,
    str: "",
    object: None,
    datetime.datetime: "1970-01-01T00:00:00Z",
    datetime.date: "1970-01-01",
}


def orb_object(model: type[BaseModel]) -> JsonObject:
    """A new object of an SDK model with every field empty."""
    return _build(_template(model))


def orb_variant(union: Any, field: str, value: str) -> JsonObject:
    """A new object of the member of an SDK union of models (``LedgerListResponse``) whose literal
    ``field`` (its discriminator, ``entry_type``) is ``value``, with every field empty."""
    return orb_object(_variants(union, field)[value])


@cache
def _variants(union: Any, field: str) -> dict[str, type[BaseModel]]:
    members = typing.get_args(union)
    if typing.get_origin(union) is typing.Annotated:
        members = typing.get_args(members[0])
    return {
        literal: member
        for member in members
        for literal in typing.get_args(member.model_fields[field].annotation)
    }


@cache
def _template(model: type[BaseModel]) -> Template:
    constants: JsonObject = {}
    makers: list[tuple[str, Callable[[], Any]]] = []
    for name, info in model.model_fields.items():
        empty = _empty(info.annotation)
        if callable(empty):
            makers.append((info.alias or name, empty))
        else:
            constants[info.alias or name] = empty
    return constants, tuple(makers)


def _build(template: Template) -> JsonObject:
    constants, makers = template
    obj = dict(constants)
    for name, make in makers:
        obj[name] = make()
    return obj


def _empty(hint: Any) -> Any:
    """The empty value of a field's type: a constant, or a maker of a new mutable value."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _empty(args[0])
    if origin is typing.Union:
        return None if NoneType in args else _empty(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        return list
    if origin is dict:
        return dict
    if hint in _SCALARS:
        return _SCALARS[hint]
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return lambda: orb_object(hint)
    raise ValueError(f"no empty value for {hint!r}: teach sandbox/orb_objects.py this type")
