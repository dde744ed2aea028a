"""The setup form: the spec follows Airbyte's UI conventions and the CDK's spec lint, and its fields stay put.

The UI conventions are those of Airbyte's connector specification reference: `group` on top-level properties
only, `groups` giving each card a title, `order` unique among the fields of an object or group, and optional
fields folded into "Optional fields" unless `always_show` is set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.test.standard_tests._spec_lint import find_secret_marking_errors

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((CONNECTOR_ROOT / "source_billing" / "spec.yaml").read_text(encoding="utf-8"))
CONNECTION = SPEC["connectionSpecification"]
API_SECTIONS = ("stripe", "orb", "integrator_io")
SECRETS = ("stripe.client_secret", "orb.api_key", "integrator_io.api_token")
# The configuration interface (issue 2): every field with its JSON type. Renaming or retyping one breaks
# saved connections.
FIELDS = {
    "stripe": "object",
    "stripe.client_secret": "string",
    "stripe.account_ids": "array",
    "stripe.start_date": "string",
    "stripe.lookback_window_days": "integer",
    "stripe.slice_range_days": "integer",
    "stripe.refresh_interval_hours": "integer",
    "stripe.api_version": "string",
    "stripe.api_base_url": "string",
    "stripe.search_streams": "array",
    "stripe.search_streams[].name": "string",
    "stripe.search_streams[].object": "string",
    "stripe.search_streams[].query": "string",
    "stripe.custom_streams": "array",
    "stripe.custom_streams[].name": "string",
    "stripe.custom_streams[].path": "string",
    "stripe.custom_streams[].params": "object",
    "stripe.requests_per_second": "integer",
    "stripe.endpoint_requests_per_second": "integer",
    "orb": "object",
    "orb.api_key": "string",
    "orb.start_date": "string",
    "orb.lookback_window_days": "integer",
    "orb.numeric_event_properties_keys": "array",
    "orb.string_event_properties_keys": "array",
    "orb.subscription_usage_grouping_key": "string",
    "orb.plan_id": "string",
    "orb.api_base_url": "string",
    "integrator_io": "object",
    "integrator_io.api_token": "string",
    "integrator_io.region": "string",
    "integrator_io.api_base_url": "string",
    "max_concurrency": "integer",
}


def _fields(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every property, by its dotted path (`[]` for the items of an array of objects)."""
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, prop
        if prop.get("type") == "object":
            yield from _fields(prop, f"{path}.")
        items = prop.get("items") or {}
        if prop.get("type") == "array" and items.get("type") == "object":
            yield from _fields(items, f"{path}[].")


def _objects(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object schema with properties (the form's levels of nesting)."""
    if "properties" in schema:
        yield path or "(root)", schema
    for name, prop in schema.get("properties", {}).items():
        yield from _objects(prop, f"{path}.{name}" if path else name)
        if isinstance(prop.get("items"), Mapping):
            yield from _objects(prop["items"], f"{path}.{name}[]" if path else f"{name}[]")


FIELD_SCHEMAS = dict(_fields(CONNECTION))


def test_given_the_spec_when_linted_like_the_cdk_standard_tests_then_no_secret_is_marked_wrong() -> None:
    assert find_secret_marking_errors(CONNECTION) == []
    for path in SECRETS:
        assert FIELD_SCHEMAS[path]["airbyte_secret"] is True


def test_given_the_spec_when_compared_to_the_config_interface_then_no_field_was_renamed_or_retyped() -> None:
    assert {path: prop["type"] for path, prop in FIELD_SCHEMAS.items()} == FIELDS


@pytest.mark.parametrize("path", sorted(FIELDS))
def test_given_a_field_when_rendered_then_it_has_a_title_and_a_description(path: str) -> None:
    prop = FIELD_SCHEMAS[path]
    assert prop.get("title"), path
    assert len(prop.get("description", "")) > 20, path


@pytest.mark.parametrize("path", SECRETS)
def test_given_a_credential_field_when_rendered_then_its_description_links_to_where_the_key_is_found(
    path: str,
) -> None:
    assert '<a href="https://' in FIELD_SCHEMAS[path]["description"]


def test_given_the_top_level_fields_when_grouped_then_each_api_has_its_own_titled_card() -> None:
    groups = CONNECTION["groups"]
    ids = [group["id"] for group in groups]
    assert len(ids) == len(set(ids))
    assert all(group.get("title") for group in groups)
    assert ids[: len(API_SECTIONS)] == list(API_SECTIONS)
    for name, prop in CONNECTION["properties"].items():
        assert prop.get("group") in ids, name
    for section in API_SECTIONS:
        assert CONNECTION["properties"][section]["group"] == section


def test_given_nested_fields_when_grouped_then_group_is_only_set_at_the_top_level() -> None:
    nested = [path for path, prop in FIELD_SCHEMAS.items() if "." in path and "group" in prop]
    assert nested == []


@pytest.mark.parametrize(("path", "schema"), list(_objects(CONNECTION)))
def test_given_the_fields_of_an_object_when_ordered_then_no_order_repeats(
    path: str, schema: Mapping[str, Any]
) -> None:
    orders = [prop["order"] for prop in schema["properties"].values() if "order" in prop]
    assert len(orders) == len(set(orders)), path


def test_given_the_optional_api_sections_when_the_form_opens_then_they_are_not_folded_away() -> None:
    # No API section is required (any one will do), so without `always_show` the UI would fold every one of
    # them into "Optional fields" and the form would open empty.
    assert not CONNECTION.get("required")
    for section in API_SECTIONS:
        assert CONNECTION["properties"][section]["always_show"] is True


def test_given_a_region_when_the_integrator_io_section_opens_then_it_is_shown_beside_the_token() -> None:
    # A token works only in its own region: the wrong default is the usual cause of a failing check.
    region = FIELD_SCHEMAS["integrator_io.region"]
    assert region["always_show"] is True
    assert region["order"] == FIELD_SCHEMAS["integrator_io.api_token"]["order"] + 1


def test_given_required_fields_when_the_form_opens_then_always_show_is_not_needed_on_them() -> None:
    for path, schema in _objects(CONNECTION):
        for name in schema.get("required", ()):
            assert "always_show" not in schema["properties"][name], f"{path}.{name}"
