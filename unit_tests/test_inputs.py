"""The files a command is given: the configuration against the spec, the catalog and the state. Every
problem is a `config_error` that names the field or file and what is expected, never a configuration value."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteStateType, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_billing.config import connection_specification
from sandbox import credentials
from source_billing import SourceBilling
from source_billing.runtime.inputs import read_catalog, read_state, spec_violation

SPEC = SourceBilling().spec(logging.getLogger("airbyte")).connectionSpecification
# The sandbox's live-mode key: shaped like a real key, so a message that quoted it would be caught.
SECRET = credentials.STRIPE_LIVE_KEY
STRIPE = {"client_secret": SECRET}
RESET = "Reset the connection's state in Airbyte (or run without --state)"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"stripe": SECRET}, "`stripe` must be an object with `client_secret`, not a string."),
        ({"stripe": {"client_secret": [SECRET]}}, "`stripe.client_secret` must be a string, not a list."),
        ({"stripe": {}}, "`stripe.client_secret` is required."),
        (
            {"stripe": {**STRIPE, "lookback_window_days": 2.5}},
            "`stripe.lookback_window_days` must be a whole number, not a number.",
        ),
        (
            {"stripe": {**STRIPE, "slice_range_days": 0}},
            "`stripe.slice_range_days` must be between 1 and 3650.",
        ),
        (
            {"max_concurrency": 0, "orb": {"api_key": SECRET}},
            f"`max_concurrency` must be between 1 and {SPEC['properties']['max_concurrency']['maximum']}.",
        ),
        (
            {"stripe": {**STRIPE, "start_date": "2024-01-01"}},
            "`stripe.start_date` must have the form YYYY-MM-DDTHH:mm:ssZ.",
        ),
        (
            {"stripe": {**STRIPE, "account_ids": ["acct_1", SECRET]}},
            "`stripe.account_ids[1]` must have the form acct_ and letters or digits (acct_1032D82eZvKYlo2C).",
        ),
        (
            {"integrator_io": {"api_token": SECRET, "region": SECRET}},
            "`integrator_io.region` must be one of: us, eu.",
        ),
        (
            {
                "stripe": {
                    **STRIPE,
                    "search_streams": [{"name": "a", "object": "charges", "query": "q", SECRET: 1}],
                }
            },
            "`stripe.search_streams[0]` has a setting it does not allow "
            "(allowed: `name`, `object`, `query`).",
        ),
        (
            {
                "stripe": {
                    **STRIPE,
                    "custom_streams": [{"name": "a", "path": "/v1/a", "params": {"x": [SECRET]}}],
                }
            },
            "`stripe.custom_streams[0].params.x` must be a string, a whole number or a boolean "
            "(true or false), not a list.",
        ),
    ],
)
def test_given_a_config_the_spec_refuses_when_validated_then_the_field_and_expectation_without_the_value(
    config: dict[str, Any], message: str
) -> None:
    problem = spec_violation(config, SPEC)
    assert problem is not None
    assert problem.failure_type == FailureType.config_error
    assert problem.message == message
    assert problem.internal_message == message
    assert "S3NT1NEL" not in message


def _patterns(schema: Any) -> list[dict[str, Any]]:
    """Every (sub)schema of `schema` that has a `pattern`."""
    if isinstance(schema, list):
        return [found for item in schema for found in _patterns(item)]
    if not isinstance(schema, dict):
        return []
    own = [schema] if "pattern" in schema else []
    return own + [found for value in schema.values() for found in _patterns(value)]


def test_given_either_spec_then_every_pattern_says_its_form_in_words() -> None:
    """A value that does not match a pattern is refused with the pattern's `pattern_descriptor` (which the
    Airbyte form also shows), never the regex."""
    patterns = _patterns(SPEC) + _patterns(connection_specification())
    assert len(patterns) == 6 + 1
    assert all(schema.get("pattern_descriptor") for schema in patterns)


def test_given_a_config_the_spec_accepts_when_validated_then_no_problem() -> None:
    assert (
        spec_violation({"stripe": {**STRIPE, "lookback_window_days": 3}, "max_concurrency": 4}, SPEC) is None
    )


def _refusal(read: Any, path: Path, content: str) -> str:
    path.write_text(content)
    with pytest.raises(AirbyteTracedException) as caught:
        read(str(path))
    assert caught.value.failure_type == FailureType.config_error
    return str(caught.value.message)


def test_given_a_catalog_that_is_not_json_when_read_then_the_file_and_the_line_are_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.json"
    assert _refusal(read_catalog, path, '{"streams": [\n  {not json') == (
        f"The catalog file {path} is not valid JSON: Expecting property name enclosed in double quotes "
        "at line 2, column 4."
    )


def test_given_a_catalog_of_another_shape_when_read_then_what_is_missing_and_where(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    message = _refusal(read_catalog, path, json.dumps({"streams": [{"stream": {"name": "customers"}}]}))
    assert message.startswith(
        f"The catalog file {path} is not an Airbyte configured catalog: at `streams[0].stream.json_schema`, "
        '"json_schema" is a required property. Pass the catalog `discover` printed'
    )


def test_given_a_catalog_file_that_is_missing_when_read_then_it_says_so(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(AirbyteTracedException) as caught:
        read_catalog(str(path))
    assert caught.value.message == f"The catalog file {path} cannot be read: No such file or directory."


def test_given_a_huge_value_in_a_catalog_when_refused_then_the_quote_is_cut_short(tmp_path: Path) -> None:
    message = _refusal(read_catalog, tmp_path / "catalog.json", json.dumps({"streams": "x" * 10_000}))
    assert len(message) < 500


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            "{not json",
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2.",
        ),
        (json.dumps({"customers": {"updated": 1}}), "is in the legacy format (one object for every stream)"),
        (json.dumps([{"type": "LEGACY", "data": {"customers": {}}}]), "is in the legacy format"),
        (
            json.dumps({"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}}}),
            "holds one state message: it must be a list of them",
        ),
        ("7", "is not a list of Airbyte state messages but a whole number."),
        (
            json.dumps(
                [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "c"}, "stream_state": "x"}}]
            ),
            "Message 1 of the state file {path}: the state of stream c must be an object, not a string.",
        ),
        (
            json.dumps(
                [
                    {
                        "type": "GLOBAL",
                        "global": {
                            "stream_states": [{"stream_descriptor": {"name": "c"}, "stream_state": [1]}]
                        },
                    }
                ]
            ),
            "the state of stream c must be an object, not a list.",
        ),
        (json.dumps([{"type": "STREAM"}]), "Message 1 of the state file {path} holds neither a `stream` nor"),
        (
            json.dumps([{"type": "GLOBAL", "global": {"shared_state": {"a": 1}, "stream_states": []}}]),
            "is a GLOBAL state with a shared state, which this connector never writes",
        ),
        (
            json.dumps([{"type": "SOMETHING"}]),
            'is not an Airbyte state message: at `type`, "SOMETHING" is not one',
        ),
    ],
)
def test_given_a_malformed_or_legacy_state_when_read_then_the_file_is_named_with_what_to_do(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "state.json"
    message = _refusal(read_state, path, content)
    assert message.startswith(("The state file", "Message")), message
    assert str(path) in message
    assert says.format(path=path) in message
    if "legacy" in says or "Message" in message:
        assert RESET in message


@pytest.mark.parametrize("content", ["[]", "{}", "null"])
def test_given_an_empty_state_file_when_read_then_no_state(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    assert read_state(str(path)) == []


def test_given_no_state_file_when_read_then_no_state() -> None:
    assert read_state(None) == []


def test_given_per_stream_states_when_read_then_each_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    saved = [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"a": 1}}},
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "orb_customers"}, "stream_state": None}},
    ]
    path.write_text(json.dumps(saved))
    messages = read_state(str(path))
    assert [m.type for m in messages] == [AirbyteStateType.STREAM] * 2
    assert [m.stream.stream_descriptor.name for m in messages if m.stream] == ["customers", "orb_customers"]


def test_given_the_source_when_reading_its_inputs_then_it_uses_these_readers(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"customers": {"updated": 1}}))
    with pytest.raises(AirbyteTracedException, match="legacy format"):
        SourceBilling.read_state(str(path))
    with pytest.raises(AirbyteTracedException, match="is not an Airbyte configured catalog"):
        SourceBilling.read_catalog(str(path))
