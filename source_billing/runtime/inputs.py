"""The files a command is given: the configuration (against the spec), the configured catalog and the state.

The CDK reads and checks them before the connector runs, and its messages either quote the offending value
(a key pasted in the wrong place would be shown) or end in its generic "Something went wrong". Here every
problem is a `config_error` that names the file or the field and says what is expected, without quoting a
configuration value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    AirbyteStateType,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
)
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import validator_for
from serpyco_rs import SchemaValidationError

from source_billing.config import config_error, without_unset_fields

# A problem quoted from a catalog or state file is cut to this length: those files may hold huge values.
QUOTED_CHARS = 200
JSON_TYPES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}
STATE_TYPES = {kind.value for kind in AirbyteStateType}
RESET = (
    "Reset the connection's state in Airbyte (or run without --state) to read every stream again from its "
    "start date."
)


# --- the configuration ---------------------------------------------------------------------------------


def spec_violation(config: Mapping[str, Any], spec: Mapping[str, Any]) -> AirbyteTracedException | None:
    """The first way `config` breaks the spec's JSON schema (the one the CDK would report), as a
    `config_error` naming the field as a dotted path and what it expects; None when the config is valid.

    The message never quotes the value: a secret pasted into the wrong field has no secret path for the
    CDK's log filter to mask it by. The CDK's internal keys (`_limit`, `_page_size`) are left out, as the
    CDK's own check leaves them out.
    """
    connector_config, _ = split_config(config)
    # A null optional field means unset (`without_unset_fields`), not a value of the wrong type.
    connector_config = without_unset_fields(connector_config, spec)
    error = best_match(validator_for(spec)(spec).iter_errors(connector_config))
    return None if error is None else config_error(_expectation(error))


def _expectation(error: ValidationError) -> str:
    field = _field(error.absolute_path)
    rule = error.validator
    expected: Any = error.validator_value
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if rule == "type":
        wanted = _either([JSON_TYPES.get(kind, kind) for kind in _as_list(expected)])
        if "object" in _as_list(expected) and schema.get("required"):
            wanted += " with " + ", ".join(f"`{key}`" for key in schema["required"])
        return f"{field} must be {wanted}, not {_json_type(error.instance)}."
    if rule == "required":
        instance: Any = error.instance
        missing = [key for key in expected if key not in instance]
        return f"`{_join(error.absolute_path, missing[0])}` is required."
    if rule == "enum":
        return f"{field} must be one of: {', '.join(str(option) for option in expected)}."
    if rule in ("minimum", "maximum") and "minimum" in schema and "maximum" in schema:
        return f"{field} must be between {schema['minimum']} and {schema['maximum']}."
    if rule == "pattern":  # every pattern of the spec has a descriptor (a test checks)
        return f"{field} must have the form {schema['pattern_descriptor']}."
    if rule == "additionalProperties":
        allowed = ", ".join(f"`{key}`" for key in schema.get("properties", {}))
        return f"{field} has a setting it does not allow (allowed: {allowed})."
    bounds = {
        "minimum": "at least {}",
        "maximum": "at most {}",
        "exclusiveMinimum": "greater than {}",
        "exclusiveMaximum": "less than {}",
        "minLength": "at least {} characters long",
        "maxLength": "at most {} characters long",
        "minItems": "a list of at least {} items",
        "maxItems": "a list of at most {} items",
    }
    if rule in bounds:
        return f"{field} must be {bounds[rule].format(expected)}."
    return f"{field} does not meet the spec's `{rule}` rule: see the field's description."


def _field(path: Iterable[str | int]) -> str:
    """`stripe.search_streams[0].name` in backticks; the whole configuration when the path is empty."""
    dotted = _join(path)
    return f"`{dotted}`" if dotted else "The configuration"


def _join(path: Iterable[str | int], *more: str) -> str:
    dotted = ""
    for part in (*path, *more):
        if isinstance(part, int):
            dotted += f"[{part}]"
        else:
            dotted += f".{part}" if dotted else part
    return dotted


def _either(options: list[str]) -> str:
    """`a, b or c`."""
    return " or ".join([", ".join(options[:-1]), options[-1]]) if len(options) > 1 else options[0]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _json_type(value: Any) -> str:
    """What a value is, in JSON's words (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for kind, python in (("string", str), ("whole number", int), ("number", float), ("list", list)):
        if isinstance(value, python):
            return f"a {kind}"
    return "an object"


# --- the catalog and the state -------------------------------------------------------------------------


def read_catalog(path: str) -> ConfiguredAirbyteCatalog:
    """The configured catalog in `path`.

    Raises:
        AirbyteTracedException: a `config_error` naming the file and what is wrong with it.
    """
    content = _read_json(path, "catalog")
    try:
        return ConfiguredAirbyteCatalogSerializer.load(content)
    except SchemaValidationError as error:
        raise config_error(
            f"The catalog file {path} is not an Airbyte configured catalog: {_schema_problem(error)}. "
            "Pass the catalog `discover` printed, with a `sync_mode` and `destination_sync_mode` per stream."
        ) from None


def read_state(path: str | None) -> list[AirbyteStateMessage]:
    """The state messages in `path`; none without a file, or with an empty one (`[]`, `{}`, `null`).

    Raises:
        AirbyteTracedException: a `config_error` naming the file and what is wrong with it. The legacy
            format (one object for every stream) is refused rather than ignored: ignoring it would re-read
            everything without saying so, and this connector never wrote it.
    """
    if not path:
        return []
    content = _read_json(path, "state")
    if content in (None, [], {}):
        return []
    if isinstance(content, Mapping) and content.get("type") in STATE_TYPES:
        raise config_error(
            f"The state file {path} holds one state message: it must be a list of them (`[...]`)."
        )
    if isinstance(content, Mapping) or (
        isinstance(content, list) and any(_is_legacy(entry) for entry in content)
    ):
        raise config_error(
            f"The state file {path} is in the legacy format (one object for every stream), which this "
            f"connector does not resume from: it saves a list of per-stream STATE messages. {RESET}"
        )
    if not isinstance(content, list):
        raise config_error(
            f"The state file {path} is not a list of Airbyte state messages but {_json_type(content)}. "
            f"{RESET}"
        )
    return [_state_message(path, number, entry) for number, entry in enumerate(content, start=1)]


def _is_legacy(entry: Any) -> bool:
    return isinstance(entry, Mapping) and entry.get("type") == AirbyteStateType.LEGACY.value


def _state_message(path: str, number: int, entry: Any) -> AirbyteStateMessage:
    where = f"Message {number} of the state file {path}"
    for stream in _per_stream(entry):
        saved = stream.get("stream_state")
        if saved is not None and not isinstance(saved, Mapping):
            descriptor = stream.get("stream_descriptor")
            name = descriptor.get("name") if isinstance(descriptor, Mapping) else None
            raise config_error(
                f"{where}: the state of stream {name or '(unnamed)'} must be an object, not "
                f"{_json_type(saved)}. {RESET}"
            )
    try:
        message = AirbyteStateMessageSerializer.load(entry)
    except SchemaValidationError as error:
        raise config_error(
            f"{where} is not an Airbyte state message: {_schema_problem(error)}. {RESET}"
        ) from None
    if not (message.stream or message.global_):
        raise config_error(f"{where} holds neither a `stream` nor a `global` state. {RESET}")
    if message.global_ is not None and message.global_.shared_state:
        raise config_error(
            f"{where} is a GLOBAL state with a shared state, which this connector never writes (its state "
            f"is per stream). {RESET}"
        )
    return message


def _per_stream(entry: Any) -> list[Mapping[str, Any]]:
    """The per-stream parts of a state message, as written: one in a STREAM state, several in a GLOBAL."""
    if not isinstance(entry, Mapping):
        return []
    if isinstance(entry.get("stream"), Mapping):
        return [entry["stream"]]
    shared = entry.get("global")
    states = shared.get("stream_states") if isinstance(shared, Mapping) else None
    return [state for state in states if isinstance(state, Mapping)] if isinstance(states, list) else []


def _read_json(path: str, kind: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except OSError as error:
        raise config_error(f"The {kind} file {path} cannot be read: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise config_error(f"The {kind} file {path} is not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise config_error(
            f"The {kind} file {path} is not valid JSON: {error.msg} at line {error.lineno}, column "
            f"{error.colno}."
        ) from None


def _schema_problem(error: SchemaValidationError) -> str:
    """Where the first problem is (`streams[0].stream.json_schema`) and what it is, cut short."""
    if not error.errors:
        return error.message[:QUOTED_CHARS]
    first = error.errors[0]
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in first.instance_path.split("/") if p]
    where = _join(parts)
    problem = first.message if len(first.message) <= QUOTED_CHARS else first.message[:QUOTED_CHARS] + "..."
    return f"at `{where}`, {problem}" if where else problem
