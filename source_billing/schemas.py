"""Loading the JSON schemas that sit beside each API's streams
(`source_billing/<api>/schemas/<stream>.json`)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_schema(package: str, stream_name: str) -> dict[str, Any]:
    """The schema of a stream, read from its API package's `schemas` folder.

    Raises:
        FileNotFoundError: the stream has no schema file (a packaging mistake, caught by the tests).
    """
    path = resources.files(package).joinpath("schemas", f"{stream_name}.json")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def open_schema(primary_key: Any) -> dict[str, Any]:
    """The schema of records nobody describes: any object, with its primary key a string."""
    key = primary_key if isinstance(primary_key, str) else "id"
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": True,
        "properties": {key: {"type": ["null", "string"]}},
    }
