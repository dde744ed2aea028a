"""What users read: docs/destination-billing.md lists exactly the operations `discover` returns, with their
matching keys and fields, and exactly the destination's own settings."""

from __future__ import annotations

import re
from pathlib import Path

from destination_billing.config import DESTINATION_SETTINGS, DestinationConfig
from destination_billing.operations import OPERATIONS
from source_billing.config import BillingConfig

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "destination-billing.md").read_text(encoding="utf-8")
CODE = re.compile(r"`([^`]+)`")


def rows(heading: str) -> list[list[str]]:
    start = DOCS.index(f"\n## {heading}\n")
    end = DOCS.find("\n## ", start + 1)
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in DOCS[start:end].splitlines()
        if line.startswith("| `")
    ]


def test_given_the_operations_table_when_compared_with_the_declarations_then_each_row_matches_one() -> None:
    config = DestinationConfig(apis=BillingConfig())
    documented = {
        (CODE.findall(row[0])[0], CODE.findall(row[1])[0]): (row[2], set(CODE.findall(row[3])))
        for row in rows("Operations")
    }

    declared = {(operation.object_name, operation.sync_mode.value): operation for operation in OPERATIONS}

    assert set(documented) == set(declared)
    for name, (key_cell, fields) in documented.items():
        operation = declared[name]
        (first_key,) = operation.keys(config)[:1]
        assert " + ".join(f"`{field}`" for field in first_key) in key_cell, name
        assert fields <= set(operation.properties), name


def test_given_the_settings_table_when_compared_with_the_spec_then_it_names_every_destination_setting() -> (
    None
):
    assert [CODE.findall(row[0])[0] for row in rows("Setup guide")] == list(DESTINATION_SETTINGS)
