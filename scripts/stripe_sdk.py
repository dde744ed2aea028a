"""What Stripe's official Python SDK (the pinned ``stripe`` package) says about its API version.

The SDK is generated from Stripe's OpenAPI spec for one API version (``_ApiVersion.CURRENT``) and carries
that spec's content as Python: a typed class per object (``stripe.Invoice``, with nested
``Invoice.AutomaticTax(StripeObject)`` classes), a service per endpoint group whose methods call
``self._request("get", "/v1/...")`` with a ``*ListParams`` TypedDict, and ``stripe.Event``'s ``type`` as a
``Literal`` of every event type. This module reads those three things; ``generate_stripe_schemas`` turns them
into the committed files.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import NoneType
from typing import Any, TypeVar

import stripe
from stripe._api_version import _ApiVersion
from stripe._list_object import ListObject
from stripe._stripe_object import StripeObject, UntypedStripeObject
from stripe._stripe_service import StripeService

# The schemas follow this release: bump it with the dev dependency in setup.py, then regenerate.
STRIPE_SDK_VERSION = "16.1.0"
API_VERSION: str = _ApiVersion.CURRENT

# Wire types of the SDK's scalars. Decimal: fields the SDK parses from Stripe's decimal strings
# (`_field_encodings` "decimal_string", e.g. `unit_amount_decimal`): a string on the wire.
_SCALARS: Mapping[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Decimal: "string",
}

VendorNode = dict[str, Any]


def check_version() -> None:
    """Refuse to generate from another SDK release than the pinned one."""
    if stripe.VERSION != STRIPE_SDK_VERSION:
        raise RuntimeError(
            f"stripe {stripe.VERSION} is installed but the schemas are generated from {STRIPE_SDK_VERSION}: "
            "install that version, or bump STRIPE_SDK_VERSION and the dev dependency"
        )


@cache
def _type_checking_imports(module_name: str) -> Mapping[str, Any]:
    """The names a module imports under ``if TYPE_CHECKING:`` only: its annotations refer to them."""
    module = sys.modules[module_name]
    names: dict[str, Any] = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and statement.module:
                imported = importlib.import_module(statement.module)
                names.update(
                    {alias.asname or alias.name: getattr(imported, alias.name) for alias in statement.names}
                )
    return names


def _hints(owner: Any) -> dict[str, Any]:
    """The evaluated annotations of a class or function defined in the SDK."""
    return typing.get_type_hints(owner, localns=dict(_type_checking_imports(owner.__module__)))


def fields(cls: type[StripeObject]) -> dict[str, Any]:
    """The wire fields of an SDK object class and their types (no private or class attributes)."""
    remapped: Mapping[str, str] = cls._field_remappings
    return {
        remapped.get(name, name): hint
        for name, hint in _hints(cls).items()
        if not name.startswith("_") and typing.get_origin(hint) is not typing.ClassVar
    }


def _concrete(hint: Any) -> tuple[Any, ...]:
    """The types a hint allows besides None (``Optional[X]`` and ``X`` -> X; unions -> each member)."""
    members = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)
    return tuple(member for member in members if member is not NoneType)


def _is_object(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, StripeObject)


@dataclass
class SdkTypes:
    """Turns SDK type hints into vendor JSON Schema nodes for ``schema_tools.SchemaNormalizer``.

    Object classes become ``$ref``s (their qualified name) that ``resolve`` expands on demand, so recursive
    types (an invoice's ``last_finalization_error.payment_intent``) stop where the normalizer cuts depth.
    """

    _classes: dict[str, type[StripeObject]] = field(default_factory=dict)

    def ref(self, cls: type[StripeObject]) -> VendorNode:
        """A reference to an object class."""
        key = f"{cls.__module__}.{cls.__qualname__}"
        self._classes[key] = cls
        return {"$ref": key}

    def resolve(self, ref: str) -> VendorNode:
        """The object schema a ``ref`` names."""
        return self._object(fields(self._classes[ref]), {})

    def node(self, hint: Any, bindings: Mapping[Any, Any]) -> VendorNode:
        """The schema of one type hint; ``bindings`` gives the type variables of a generic class."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if isinstance(hint, TypeVar):
            return self.node(bindings[hint], bindings)
        if hint is NoneType:
            return {"type": "null"}
        if hint in _SCALARS:
            return {"type": _SCALARS[hint]}
        if origin is typing.Literal:
            return {"anyOf": [{"type": _SCALARS[type(value)]} for value in args]}
        if origin is typing.Union:
            concrete = _concrete(hint)
            if str in concrete and any(_is_object(arg) for arg in concrete):
                # `ExpandableField["X"]`: the id, unless the request expands it (the connector never does).
                return {"type": "string"}
            return {"anyOf": [self.node(arg, bindings) for arg in args]}
        if origin is list:
            return {"type": "array", "items": self.node(args[0], bindings)}
        if origin is UntypedStripeObject:
            # Free-form maps (`metadata`, per-currency amounts): keys chosen by the user or by Stripe.
            return {"type": "object"}
        if _is_object(hint):
            return self.ref(hint)
        if _is_object(origin) and args:
            # A generic object (`ListObject["InvoiceLineItem"]`): its fields with the arguments filled in.
            return self._object(fields(origin), dict(zip(origin.__parameters__, args, strict=True)))
        raise ValueError(f"cannot type {hint!r}: teach scripts/stripe_sdk.py this construct")

    def _object(self, hints: Mapping[str, Any], bindings: Mapping[Any, Any]) -> VendorNode:
        return {
            "type": "object",
            "properties": {name: self.node(hint, bindings) for name, hint in hints.items()},
        }


@dataclass(frozen=True)
class ListEndpoint:
    """One ``GET /v1/...`` list without path parameters.

    Attributes:
        items: the object classes its ``data`` holds (two or more where it mixes kinds).
        created: whether it accepts ``created`` filters (its ``*ListParams`` has the key).
    """

    items: tuple[type[StripeObject], ...]
    created: bool


def _get_path(function: ast.FunctionDef) -> str | None:
    """The literal path of the ``self._request("get", "/v1/...")`` call a service method makes, if any."""
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)) or len(node.args) < 2:
            continue
        method, path = node.args[:2]
        if (
            node.func.attr == "_request"
            and isinstance(method, ast.Constant)
            and isinstance(path, ast.Constant)
        ):
            return str(path.value) if method.value == "get" else None
    return None


def _service_methods() -> Iterator[tuple[Any, str]]:
    """Every synchronous method of the v1 services that GETs a literal path, with that path."""
    root = Path(stripe.__file__).parent
    for source in sorted(root.rglob("*_service.py")):
        relative = source.relative_to(root).with_suffix("")
        if relative.parts[0] == "v2":
            continue
        module = importlib.import_module(".".join(("stripe", *relative.parts)))
        for node in ast.parse(source.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.ClassDef):
                continue
            service = getattr(module, node.name)
            if not (isinstance(service, type) and issubclass(service, StripeService)):
                continue
            for function in node.body:
                if isinstance(function, ast.FunctionDef) and (path := _get_path(function)) is not None:
                    yield getattr(service, function.name), path


def list_endpoints() -> dict[str, ListEndpoint]:
    """The SDK's list endpoints without path parameters (what a custom stream may read), by path."""
    endpoints: dict[str, ListEndpoint] = {}
    for method, path in _service_methods():
        hints = _hints(method)
        returned = hints.get("return")
        if typing.get_origin(returned) is not ListObject or "{" in path:
            continue
        (item,) = typing.get_args(returned)
        params = _concrete(hints["params"])  # a TypedDict, optional unless a parameter is required
        keys = set().union(*(p.__required_keys__ | p.__optional_keys__ for p in params))
        endpoint = ListEndpoint(items=_concrete(item), created="created" in keys)
        if endpoints.setdefault(path, endpoint) != endpoint:
            raise ValueError(f"two services list {path} differently")
    return dict(sorted(endpoints.items()))


def event_types() -> frozenset[str]:
    """Every event type of the SDK's API version (``stripe.Event.type``)."""

    def literals(hint: Any) -> Iterator[str]:
        if typing.get_origin(hint) is typing.Literal:
            yield from typing.get_args(hint)
        for arg in typing.get_args(hint) if typing.get_origin(hint) is typing.Union else ():
            yield from literals(arg)

    return frozenset(literals(fields(stripe.Event)["type"]))
