"""Orb's objects as its official SDK (the pinned ``orb-billing`` package) defines them, for the seeders.

``orb_object(model)`` is a new object of an SDK model (``orb.types.Customer``) with every field Orb
returns, each empty: null where the model allows null, else ``false``, 0, ``""``, an empty list or map,
the first value of a literal, the first kind of a union (a unit price among prices), or the nested
model's own empty fields. A seeder starts from it and sets what the sandbox models; the rest of the shape
is Orb's, not written by hand.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any

from pydantic import BaseModel

from sandbox.sdk_objects import Template, build, plain_empty, template
from sandbox.store import JsonObject


def orb_object(model: type[BaseModel]) -> JsonObject:
    """A new object of an SDK model with every field empty."""
    return build(_template(model))


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
    hints = {info.alias or name: info.annotation for name, info in model.model_fields.items()}
    return template(hints, _empty)


def _empty(hint: Any) -> Any:
    """The empty value of a field's type: a constant, or a maker of a new mutable value."""
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return lambda: orb_object(hint)
    try:
        return plain_empty(hint, _empty)
    except LookupError:
        raise ValueError(f"no empty value for {hint!r}: teach sandbox/orb_objects.py this type") from None
