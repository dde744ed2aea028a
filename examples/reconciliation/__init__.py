"""Reconciliation of licenses (integrator.io) with what customers pay for (Stripe, Orb) and the licensing
data of the billing side (Stripe's active entitlements, Orb's licenses), in DuckDB SQL.

The SQL files of this folder run over the tables of a sync, one per stream, as PyAirbyte's DuckDB cache
writes them (`make demo` leaves one in `demo-output/billing.duckdb`). `views.sql` defines temporary views of
active subscriptions, licenses, entitlements and Orb seats, each with a normalised e-mail, the only key the
three APIs share; each other file answers one question and starts with its title as a comment. Run them on
a database:

    .venv/bin/python -m examples.reconciliation [demo-output/billing.duckdb]

or paste `views.sql` and then a question into the `duckdb` shell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

FOLDER = Path(__file__).resolve().parent
VIEWS = "views.sql"
QUESTIONS = (
    "licenses_without_subscription.sql",
    "subscriptions_without_installed_license.sql",
    "licenses_expiring_soon.sql",
    "licenses_per_connector.sql",
    "orb_licenses_on_inactive_subscriptions.sql",
    "licenses_without_orb_license.sql",
    "orb_licenses_without_license.sql",
    "entitlements_without_license.sql",
)
DEFAULT_DATABASE = Path("demo-output") / "billing.duckdb"
SHOWN_ROWS = 15


@dataclass(frozen=True)
class Answer:
    """One question's result (`name`: its SQL file)."""

    name: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def sql(name: str) -> str:
    """The text of one SQL file of this folder."""
    return (FOLDER / name).read_text(encoding="utf-8")


def title(text: str) -> str:
    """A question's title: its first line, a comment."""
    return text.splitlines()[0].removeprefix("--").strip()


def answer(connection: duckdb.DuckDBPyConnection) -> list[Answer]:
    """Every question's answer, in order, on a connection to the synced tables."""
    connection.execute(sql(VIEWS))
    answers = []
    for name in QUESTIONS:
        text = sql(name)
        cursor = connection.execute(text)
        columns = [column[0] for column in cursor.description or ()]
        answers.append(Answer(name, title(text), columns, cursor.fetchall()))
    return answers


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows under their column names, each column as wide as its widest value."""
    if not rows:
        print("(no rows)")
        return
    texts = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(column), *(len(row[i]) for row in texts)) for i, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    for row in texts:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def report(answers: Sequence[Answer], shown: int = SHOWN_ROWS) -> None:
    """Each answer's title, row count and first rows."""
    for found in answers:
        first = f" (first {shown})" if len(found.rows) > shown else ""
        print(f"\n{found.title}: {len(found.rows)} rows{first}")
        print_table(found.columns, found.rows[:shown])


def main(argv: Sequence[str] = ()) -> int:
    """Answer every question on a DuckDB database of synced tables (read only)."""
    database = Path(argv[0]) if argv else DEFAULT_DATABASE
    if not database.is_file():
        print(f"No database at {database}: run `make demo` first, or pass the path of one.")
        return 2
    with duckdb.connect(str(database), read_only=True) as connection:
        report(answer(connection))
    return 0
