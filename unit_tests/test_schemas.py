"""The stream schemas: current with their generators, valid, open, typed for destinations, and declaring the
keys the streams use.

The generators (``scripts/generate_*_schemas.py``) hold the stream tables: record type, primary key, cursor
and parent fields of every stream. Regenerate after changing a table or the Stripe or Orb SDK version::

    .venv/bin/python -m scripts.generate_stripe_schemas
    .venv/bin/python -m scripts.generate_orb_schemas
    .venv/bin/python -m scripts.generate_integrator_io_schemas
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft7Validator

from scripts import generate_integrator_io_schemas, generate_orb_schemas, generate_stripe_schemas
from scripts.schema_tools import DRAFT_07, StreamRow
from scripts.stripe_sdk import API_VERSION
from source_billing.config import STRIPE_DEFAULT_API_VERSION

GENERATORS = {
    "stripe": generate_stripe_schemas,
    "orb": generate_orb_schemas,
    "integrator_io": generate_integrator_io_schemas,
}
# Stripe's payment intents, the largest (four levels of dozens of payment methods' options), are ~150 KB.
_MAX_SCHEMA_BYTES = 200_000


def _stream_rows() -> Iterator[Any]:
    for api, generator in GENERATORS.items():
        for row in generator.STREAMS:
            yield pytest.param(generator.OUTPUT_DIR, row, id=f"{api}:{row.name}")


def _committed_schema_files() -> Iterator[Any]:
    for generator in GENERATORS.values():
        for path in sorted(generator.OUTPUT_DIR.glob("*.json")):
            yield pytest.param(path, id=f"{path.parent.parent.name}/{path.name}")


def _load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _sub_schemas(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property and array item schema below the top level, with its path."""
    for name, child in schema.get("properties", {}).items():
        yield f"{where}.{name}", child
        yield from _sub_schemas(child, f"{where}.{name}")
    if "items" in schema:
        yield f"{where}[]", schema["items"]
        yield from _sub_schemas(schema["items"], f"{where}[]")


@pytest.mark.parametrize("generator", list(GENERATORS.values()), ids=list(GENERATORS))
def test_given_the_vendor_definitions_when_the_generator_runs_then_it_reproduces_the_committed_files(
    generator: ModuleType, tmp_path: Path
) -> None:
    extra = (
        ["--endpoints-file", str(tmp_path / "endpoints.index")]
        if generator is generate_stripe_schemas
        else []
    )
    generator.main(["--output-dir", str(tmp_path), *extra])
    if extra:
        assert (
            tmp_path / "endpoints.index"
        ).read_bytes() == generate_stripe_schemas.ENDPOINTS_FILE.read_bytes()

    generated = {path.name: path.read_bytes() for path in tmp_path.glob("*.json")}
    committed = {path.name: path.read_bytes() for path in generator.OUTPUT_DIR.glob("*.json")}
    regenerate = f"run `.venv/bin/python -m {generator.__name__}` and commit the result"
    assert sorted(committed) == sorted(generated), f"schema files differ from the stream table: {regenerate}"
    stale = sorted(name for name in generated if generated[name] != committed[name])
    assert not stale, f"committed schemas are not current ({', '.join(stale)}): {regenerate}"


@pytest.mark.parametrize("path", list(_committed_schema_files()))
def test_given_a_committed_schema_then_it_is_an_open_draft_07_object_schema(path: Path) -> None:
    schema = _load(path)

    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_07
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    assert schema["properties"]
    assert len(path.read_bytes()) < _MAX_SCHEMA_BYTES


@pytest.mark.parametrize("path", list(_committed_schema_files()))
def test_given_a_committed_schema_then_every_field_is_nullable_optional_and_open(path: Path) -> None:
    schema = _load(path)

    assert "required" not in schema
    for where, sub_schema in _sub_schemas(schema, path.stem):
        types = sub_schema["type"]
        assert isinstance(types, list), where
        assert types[0] == "null", where
        assert "required" not in sub_schema, where
        assert "description" not in sub_schema, where
        if "object" in types:
            assert sub_schema["additionalProperties"] is True, where


@pytest.mark.parametrize(("schema_dir", "row"), list(_stream_rows()))
def test_given_a_declared_stream_then_its_schema_declares_its_primary_key_cursor_and_parent(
    schema_dir: Path, row: StreamRow
) -> None:
    properties = _load(schema_dir / f"{row.name}.json")["properties"]

    keys = (row.primary_key,) if isinstance(row.primary_key, str) else row.primary_key
    for key in keys:
        # An id string; a composite key may include a number (a period's start).
        expected = [["null", "string"]] if len(keys) == 1 else [["null", "string"], ["null", "integer"]]
        assert properties[key]["type"] in expected, key
    if row.cursor_field is not None:
        assert row.cursor_field in properties
        # One comparable scalar: unix seconds (Stripe) or an ISO-8601 timestamp (Orb, integrator.io).
        cursor = properties[row.cursor_field]
        assert cursor["type"] in (["null", "integer"], ["null", "string"])
        if "string" in cursor["type"]:
            assert cursor["format"] == "date-time"
    for parent_field in row.parent_fields:
        assert properties[parent_field]["type"] == ["null", "string"]


@pytest.fixture(scope="module")
def pyairbyte_type() -> Any:
    """PyAirbyte's JSON-schema-to-column-type mapping (imported offline and without telemetry)."""
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        patch.setenv("AIRBYTE_OFFLINE_MODE", "1")
        patch.setenv("DO_NOT_TRACK", "1")
        # PyAirbyte's import pulls in Google's cloud clients (end of Python 3.11 support notices) and models
        # built with a deprecated pydantic-core argument: third-party warnings about its import, not ours.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from airbyte.types import _get_airbyte_type

    return _get_airbyte_type


@pytest.mark.parametrize("path", list(_committed_schema_files()))
def test_given_a_committed_schema_when_pyairbyte_maps_it_then_every_property_gets_a_type(
    path: Path, pyairbyte_type: Any
) -> None:
    from airbyte.types import SQLTypeConversionError

    untyped = []
    for where, sub_schema in _sub_schemas(_load(path), path.stem):
        try:
            pyairbyte_type(sub_schema)
        except SQLTypeConversionError:
            untyped.append(f"{where}: {sub_schema['type']}")
    assert untyped == [], "PyAirbyte (and destinations) cannot type these: give each one JSON type"


def test_given_a_property_of_two_json_types_when_pyairbyte_maps_it_then_it_cannot_type_it(
    pyairbyte_type: Any,
) -> None:
    from airbyte.types import SQLTypeConversionError

    # What every expandable Stripe field was before: the check above must catch it.
    with pytest.raises(SQLTypeConversionError):
        pyairbyte_type({"type": ["null", "string", "object"], "additionalProperties": True})


def test_given_the_stripe_sdk_then_the_connector_pins_the_version_the_schemas_follow() -> None:
    endpoints: Mapping[str, Any] = _load(generate_stripe_schemas.ENDPOINTS_FILE)

    assert endpoints["api_version"] == API_VERSION == STRIPE_DEFAULT_API_VERSION


def test_given_the_stripe_sdk_then_the_custom_endpoints_include_the_new_billing_lists() -> None:
    endpoints = _load(generate_stripe_schemas.ENDPOINTS_FILE)["endpoints"]

    assert endpoints["/v1/invoices"] == {"created": True, "schema": "invoices"}
    assert endpoints["/v1/billing/meters"] == {"created": False, "schema": "billing_meters"}
    assert endpoints["/v1/entitlements/features"]["schema"] == "entitlements_features"
    assert "/v1/invoices/upcoming/lines" not in endpoints  # removed in 2025-03-31.basil


@pytest.mark.parametrize("row", generate_stripe_schemas.STREAMS, ids=lambda row: row.name)
def test_given_a_stripe_stream_then_its_schema_carries_the_connector_added_fields(
    row: generate_stripe_schemas.StripeStreamSchema,
) -> None:
    properties = _load(generate_stripe_schemas.OUTPUT_DIR / f"{row.name}.json")["properties"]

    for name, definition in generate_stripe_schemas.CONNECTOR_FIELDS.items():
        assert properties[name] == definition


def test_given_stripe_amounts_and_expandable_fields_then_they_keep_the_wire_types() -> None:
    properties = _load(generate_stripe_schemas.OUTPUT_DIR / "charges.json")["properties"]

    assert properties["amount"]["type"] == ["null", "integer"]
    assert properties["created"]["type"] == ["null", "integer"]
    # Expandable: the id, since the connector never asks Stripe to expand it.
    assert properties["customer"] == {"type": ["null", "string"]}
    assert properties["metadata"] == {"type": ["null", "object"], "additionalProperties": True}


def test_given_stripe_objects_of_the_pinned_version_then_their_fields_are_those_of_that_version() -> None:
    invoice = _load(generate_stripe_schemas.OUTPUT_DIR / "invoices.json")["properties"]
    line_item = _load(generate_stripe_schemas.OUTPUT_DIR / "invoice_line_items.json")["properties"]

    # 2025-03-31.basil moved an invoice's subscription under `parent` and a line item's price under `pricing`.
    assert "subscription" not in invoice
    assert invoice["parent"]["properties"]["subscription_details"]["properties"]["subscription"] == {
        "type": ["null", "string"]
    }
    assert "price" not in line_item
    assert "pricing" in line_item


def test_given_orb_money_and_ledger_amounts_then_they_follow_the_sdk_types() -> None:
    invoice = _load(generate_orb_schemas.OUTPUT_DIR / "orb_invoices.json")["properties"]
    ledger = _load(generate_orb_schemas.OUTPUT_DIR / "orb_credits_ledger_entries.json")["properties"]

    assert invoice["total"]["type"] == ["null", "string"]
    assert invoice["invoice_date"] == {"type": ["null", "string"], "format": "date-time"}
    for field in ("amount", "starting_balance", "ending_balance"):
        assert ledger[field]["type"] == ["null", "number"]
    assert ledger["customer_id"]["type"] == ["null", "string"]
    # Untyped in orb-billing (`object`, deprecated for `discounts`): a JSON object.
    assert invoice["discount"] == {"type": ["null", "object"], "additionalProperties": True}
