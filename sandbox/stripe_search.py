"""A useful subset of the Stripe Search Query Language.

Supported: ``field:'value'`` (exact, case-insensitive for strings), ``field~'sub'`` (substring, at least
3 characters), ``field>N`` / ``<`` / ``>=`` / ``<=`` on numbers, ``-field:'value'`` (negation),
``metadata['key']:'value'``, dotted nested fields, ``null`` values, and clauses joined by ``AND`` or by
``OR`` (not both in one query, as in Stripe).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.store import JsonObject, path_value

Predicate = Callable[[JsonObject], bool]

_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?(?P<field>metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_][a-z0-9_.]*)\s*
    (?P<op>:|~|>=|<=|>|<)\s*
    (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|null)\s*""",
    re.VERBOSE,
)
_JOINER = re.compile(r"\s*(AND|OR)\s+", re.IGNORECASE)


class SearchQueryError(ValueError):
    """The query is not valid Stripe search syntax (or uses an unsupported field)."""


def _literal(text: str) -> Any:
    if text == "null":
        return None
    if text[0] in "'\"":
        return text[1:-1].replace("\\'", "'").replace('\\"', '"')
    return float(text)


def _clause(field: str, op: str, value: Any, negate: bool) -> Predicate:
    key = field[10:-2] if field.startswith("metadata[") else None  # metadata['key']

    def test(obj: JsonObject) -> bool:
        actual = path_value(obj, field) if key is None else (obj.get("metadata") or {}).get(key)
        if op == ":":
            if value is None:
                result = actual is None
            elif isinstance(actual, bool):
                result = str(actual).lower() == str(value).lower()
            elif isinstance(actual, int | float) and not isinstance(value, str):
                result = actual == value
            else:
                result = actual is not None and str(actual).lower() == str(value).lower()
        elif op == "~":
            result = actual is not None and str(value).lower() in str(actual).lower()
        else:
            if not isinstance(actual, int | float) or isinstance(actual, bool):
                return negate
            number = float(value)
            result = {
                ">": actual > number,
                "<": actual < number,
                ">=": actual >= number,
                "<=": actual <= number,
            }[op]
        return result != negate

    return test


def parse(query: str, fields: tuple[str, ...], resource: str) -> Predicate:
    """Compile a search query into a predicate.

    Args:
        query: The ``query`` parameter.
        fields: Fields this resource can be searched by.
        resource: Resource name for error messages.

    Returns:
        A predicate over objects.

    Raises:
        SearchQueryError: With a message in the spirit of Stripe's.
    """
    position = 0
    clauses: list[Predicate] = []
    joiners: set[str] = set()
    text = query.strip()
    if not text:
        raise SearchQueryError("The query must not be empty.")
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise SearchQueryError(
                f"Invalid query: could not parse '{text[position:]}' at position {position}."
            )
        field, op, raw = match.group("field"), match.group("op"), match.group("value")
        base = "metadata" if field.startswith("metadata[") else field
        if base not in fields:
            raise SearchQueryError(
                f"Field '{field}' is an unsupported search field for resource '{resource}'. "
                f"See http://stripe.com/docs/search#query-fields-for-{resource} "
                "for a list of supported fields."
            )
        value = _literal(raw)
        if op == "~" and (not isinstance(value, str) or len(value) < 3):
            raise SearchQueryError("Substring search ('~') needs a string of at least 3 characters.")
        if op in (">", "<", ">=", "<=") and not isinstance(value, float):
            raise SearchQueryError(f"Range operators need a number: {field}{op}{raw}")
        clauses.append(_clause(field, op, value, bool(match.group("neg"))))
        position = match.end()
        if position >= len(text):
            break
        joiner = _JOINER.match(text, position)
        if joiner is None:
            raise SearchQueryError(f"Invalid query: expected AND or OR at position {position}.")
        joiners.add(joiner.group(1).upper())
        position = joiner.end()
    if len(joiners) > 1:
        raise SearchQueryError("Queries cannot mix AND and OR; use one of them.")
    if joiners == {"OR"}:
        return lambda obj: any(clause(obj) for clause in clauses)
    return lambda obj: all(clause(obj) for clause in clauses)
