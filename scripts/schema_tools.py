"""Turn vendor schema definitions into the project's stream schemas.

Every generated schema follows the same rules, whatever the vendor source (the Stripe SDK's type hints,
pydantic ``$defs``, hand-written fragments): draft-07, every property nullable, nothing required, every object
open to extra properties, no descriptions or enums (APIs add values faster than specs), nesting cut at a fixed
depth, and one JSON type besides null per property, so that destinations (and PyAirbyte) can give every
column a type; a value the vendor leaves untyped is a JSON object. The output is written with sorted keys so
that regenerating is byte-for-byte reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

JsonSchema = dict[str, Any]
# For a union of objects: keep the properties common to every variant, or all of them.
UnionFields = Literal["common", "all"]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
REPO_ROOT = Path(__file__).resolve().parents[1]
# Nested objects keep their properties down to this many levels below the record (e.g. Stripe's
# charge.payment_method_details.card.checks); deeper ones, and recursive definitions, become open objects.
# Four levels keep every file under 200 KB (Stripe's payment intents are the largest).
MAX_DEPTH = 4

# The order types are listed in: "null" first, then scalars before containers.
_TYPE_ORDER = ("null", "string", "number", "integer", "boolean", "object", "array")
# Formats destinations use; anything else (an "email", a "uri") says nothing the type does not.
_KEPT_FORMATS = frozenset({"date-time", "date"})
_SCALAR_TYPES = frozenset({"string", "number", "integer", "boolean"})
_TYPING_KEYS = frozenset({"type", "format", "properties", "additionalProperties", "items"})
# Keys that carry no type information for us; dropped silently.
_IGNORED_KEYS = frozenset(
    {
        "default",
        "description",
        "discriminator",
        "enum",
        "const",
        "maxLength",
        "minLength",
        "maximum",
        "minimum",
        "nullable",
        "pattern",
        "readOnly",
        "required",
        "title",
    }
)


class StreamRow(Protocol):
    """What the schema tests need to know about any stream of any generator's table."""

    @property
    def name(self) -> str: ...

    @property
    def primary_key(self) -> str | tuple[str, ...]: ...

    @property
    def cursor_field(self) -> str | None: ...

    @property
    def parent_fields(self) -> tuple[str, ...]: ...


def nullable(*types: str, **extra: Any) -> JsonSchema:
    """A schema of the given JSON types plus null, e.g. ``nullable("string", format="date-time")``."""
    return {"type": _ordered_types(("null", *types)), **extra}


def open_object(properties: Mapping[str, JsonSchema] | None = None) -> JsonSchema:
    """A nullable object that accepts extra properties; ``properties`` describes the known ones."""
    schema: JsonSchema = {"type": ["null", "object"], "additionalProperties": True}
    if properties:
        schema["properties"] = dict(properties)
    return schema


def array_of(items: JsonSchema) -> JsonSchema:
    """A nullable array of ``items``."""
    return {"type": ["null", "array"], "items": items}


def stream_schema(properties: Mapping[str, JsonSchema]) -> JsonSchema:
    """The top level of a stream schema: a (non-null) open object with the given properties."""
    return {
        "$schema": DRAFT_07,
        "type": "object",
        "additionalProperties": True,
        "properties": dict(properties),
    }


def with_added_properties(schema: JsonSchema, added: Mapping[str, JsonSchema]) -> JsonSchema:
    """Add connector-filled properties to a stream schema, refusing to silently redefine a vendor field."""
    properties = dict(schema.get("properties", {}))
    for name, definition in added.items():
        if name in properties and properties[name] != definition:
            raise ValueError(f"added property {name!r} conflicts with the vendor's {properties[name]!r}")
        properties[name] = definition
    return {**schema, "properties": properties}


def render(schema: JsonSchema) -> str:
    """The committed text of a schema: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(schemas: Mapping[str, JsonSchema], output_dir: Path) -> list[Path]:
    """Write ``<stream>.json`` files into ``output_dir`` (created if needed); returns the written paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(schemas):
        path = output_dir / f"{name}.json"
        path.write_text(render(schemas[name]), encoding="utf-8")
        written.append(path)
    return written


@dataclass(frozen=True)
class SchemaNormalizer:
    """Rewrites a vendor JSON Schema (pydantic's, or one built from SDK type hints) into the project's rules.

    Attributes:
        resolve: returns the schema a ``$ref`` string points to.
        max_depth: how many levels of nested objects keep their properties; deeper objects (and recursive
            definitions) become plain open objects.
    """

    resolve: Callable[[str], Mapping[str, Any]]
    max_depth: int = MAX_DEPTH

    def record(self, node: Mapping[str, Any], union_fields: UnionFields = "common") -> JsonSchema:
        """The stream schema of a record type (an object, or a union of objects).

        Args:
            node: the vendor schema of one record.
            union_fields: if the record type is a union, keep the properties "common" to every variant
                or "all" of them (each nullable anyway).
        """
        body = self.normalize(node, depth=0, union_fields=union_fields)
        if "object" not in body["type"]:
            raise ValueError(f"a record schema must be an object, got {body['type']}")
        return stream_schema(body.get("properties", {}))

    def normalize(
        self, node: Mapping[str, Any], depth: int, union_fields: UnionFields = "common"
    ) -> JsonSchema:
        """Normalize one schema node found ``depth`` objects below the record."""
        if "$ref" in node:
            return self.normalize(self.resolve(node["$ref"]), depth, union_fields)
        variants = node.get("anyOf") or node.get("oneOf")
        if variants is not None:
            return self._union(variants, depth, union_fields)
        unsupported = {key for key in set(node) - _IGNORED_KEYS - _TYPING_KEYS if not key.startswith("x-")}
        if unsupported:
            raise ValueError(f"unsupported schema keys {sorted(unsupported)} in {dict(node)!r}")
        json_type = node.get("type")
        if json_type == "object" or "properties" in node:
            return self._object(node, depth)
        if json_type == "array":
            return array_of(self.normalize(node["items"], depth)) if "items" in node else nullable("array")
        if json_type in _SCALAR_TYPES:
            fmt = node.get("format")
            return nullable(json_type, format=fmt) if fmt in _KEPT_FORMATS else nullable(json_type)
        if json_type == "null":
            return nullable()
        if json_type is None:
            # Untyped by the vendor (an SDK field typed `object`): free-form, a JSON column.
            return open_object()
        raise ValueError(f"cannot type schema node {dict(node)!r}")

    def _object(self, node: Mapping[str, Any], depth: int) -> JsonSchema:
        properties = node.get("properties") or {}
        if depth >= self.max_depth or not properties:
            return open_object()
        return open_object({name: self.normalize(properties[name], depth + 1) for name in sorted(properties)})

    def _union(
        self, variants: Sequence[Mapping[str, Any]], depth: int, union_fields: UnionFields
    ) -> JsonSchema:
        concrete = [variant for variant in variants if variant.get("type") != "null"]
        if not concrete:
            return nullable()
        return merge_variants([self.normalize(variant, depth) for variant in concrete], union_fields)


def merge_variants(schemas: Sequence[JsonSchema], union_fields: UnionFields = "common") -> JsonSchema:
    """One schema accepting any of ``schemas`` (already normalized).

    A union of objects becomes one open object carrying the properties common to all variants (or all
    properties, if ``union_fields`` is "all"); any other union becomes the union of the JSON types.
    """
    if all(schema["type"] == ["null", "object"] for schema in schemas):
        return _merge_objects(schemas, union_fields)
    merged = schemas[0]
    for schema in schemas[1:]:
        merged = _merge_two(merged, schema)
    return merged


def _merge_objects(schemas: Sequence[JsonSchema], union_fields: UnionFields) -> JsonSchema:
    property_sets = [schema.get("properties", {}) for schema in schemas]
    names: Iterable[str]
    if union_fields == "common":
        names = set.intersection(*(set(properties) for properties in property_sets))
    else:
        names = set.union(*(set(properties) for properties in property_sets))
    merged: dict[str, JsonSchema] = {}
    for name in sorted(names):
        present = [properties[name] for properties in property_sets if name in properties]
        merged[name] = merge_variants(present, "common")
    return open_object(merged)


def _merge_two(left: JsonSchema, right: JsonSchema) -> JsonSchema:
    if left == right:
        return left
    types = _ordered_types((*left["type"], *right["type"]))
    merged: JsonSchema = {"type": types}
    if "object" in types:
        merged["additionalProperties"] = True
    if "array" in types and "items" in left and "items" in right:
        merged["items"] = merge_variants([left["items"], right["items"]])
    if left.get("format") is not None and left.get("format") == right.get("format"):
        merged["format"] = left["format"]
    return merged


def _ordered_types(types: Iterable[str]) -> list[str]:
    present = set(types)
    unknown = present - set(_TYPE_ORDER)
    if unknown:
        raise ValueError(f"unknown JSON types {sorted(unknown)}")
    return [json_type for json_type in _TYPE_ORDER if json_type in present]
