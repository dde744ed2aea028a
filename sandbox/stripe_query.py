"""Stripe request helpers: API keys, array keys, integers, ``created`` ranges, filters, ``expand``,
search page tokens and the error shape."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from sandbox.store import JsonObject, decode_token, encode_token
from sandbox.wire import ApiResponse, json_response

_ARRAY_KEY = re.compile(r"^(\w+)\[\d*\]$")
CREATED_KEYS = ("created", "created[gt]", "created[gte]", "created[lt]", "created[lte]")


class StripeParamError(Exception):
    """A request parameter Stripe would reject with 400 ``invalid_request_error``.

    Args:
        message: Stripe's message.
        param: The parameter at fault.
        code: Stripe's error code, if it has one.
    """

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def normalise(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """Merge ``name[]=a`` and ``name[0]=a`` forms into ``name`` (Stripe and Orb accept both for arrays)."""
    merged: dict[str, list[str]] = {}
    for key, values in query.items():
        match = _ARRAY_KEY.match(key)
        name = match.group(1) if match else key
        merged.setdefault(name, []).extend(values)
    return merged


def check_known(query: dict[str, list[str]], allowed: set[str]) -> None:
    """Reject the first parameter Stripe would not know for this endpoint.

    Raises:
        StripeParamError: ``Received unknown parameter: x``.
    """
    for key in query:
        if key not in allowed:
            raise StripeParamError(f"Received unknown parameter: {key}", key, "parameter_unknown")


def integer(query: dict[str, list[str]], name: str) -> int | None:
    """The integer value of a parameter, or None when absent.

    Raises:
        StripeParamError: ``Invalid integer: x``.
    """
    values = query.get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        raise StripeParamError(f"Invalid integer: {values[0]}", name, "parameter_invalid_integer") from None


def limit_of(query: dict[str, list[str]]) -> int:
    """The page size: default 10, 1..100.

    Raises:
        StripeParamError: Out of range or not an integer.
    """
    limit = integer(query, "limit")
    if limit is None:
        return 10
    if not 1 <= limit <= 100:
        raise StripeParamError("Invalid limit: must be between 1 and 100", "limit")
    return limit


def created_range(query: dict[str, list[str]]) -> tuple[int | None, int | None]:
    """The inclusive ``(min, max)`` creation times the ``created`` parameters ask for (bad integers are
    reported in ``CREATED_KEYS`` order)."""
    exact, gt, gte, lt, lte = (integer(query, key) for key in CREATED_KEYS)
    lows = [value for value in (exact, None if gt is None else gt + 1, gte) if value is not None]
    highs = [value for value in (exact, None if lt is None else lt - 1, lte) if value is not None]
    return max(lows, default=None), min(highs, default=None)


def _matches(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return actual == (wanted == "true")
    if isinstance(actual, int):
        try:
            return actual == int(wanted)
        except ValueError:
            return False
    if actual is None:
        return wanted in ("", "null")
    return str(actual) == wanted


# Filters whose meaning is not "field equals value", keyed by parameter name (all values passed).
SPECIAL_FILTERS: dict[str, Callable[[JsonObject, list[str]], bool]] = {
    "pending": lambda obj, values: (obj.get("invoice") is None) == (values[0] == "true"),
    "scheduled": lambda obj, values: (obj.get("status") == "not_started") == (values[0] == "true"),
    "price": lambda obj, values: any(
        (item.get("price") or {}).get("id") == values[0] for item in (obj.get("items") or {}).get("data", [])
    ),
    "ids": lambda obj, values: obj.get("id") in values,
    "attach_to_self": lambda obj, values: True,
    "test_clock": lambda obj, values: obj.get("test_clock") == values[0],
    "archived": lambda obj, values: (not obj.get("active")) == (values[0] == "true"),
    "payment[type]": lambda obj, values: (obj.get("payment") or {}).get("type") == values[0],
    "payment[payment_intent]": lambda obj, values: (
        (obj.get("payment") or {}).get("payment_intent") == values[0]
    ),
    "payment[payment_record]": lambda obj, values: (
        (obj.get("payment") or {}).get("payment_record") == values[0]
    ),
}


def filter_predicate(
    filters: dict[str, list[str]], hidden_statuses: tuple[str, ...]
) -> Callable[[str, JsonObject], bool]:
    """Build the predicate for a list's equality filters.

    Args:
        filters: Parameter name to its values (the first counts, except for array filters like ``ids``).
        hidden_statuses: Statuses omitted unless ``status`` is given; ``status=all`` shows everything
            and ``status=ended`` means canceled or expired (Stripe's subscription list rules).

    Returns:
        A predicate over ``(id, object)``.
    """
    checks: list[Callable[[JsonObject], bool]] = []
    status = filters["status"][0] if "status" in filters else None
    if hidden_statuses:
        if status is None:
            checks.append(lambda obj: obj.get("status") not in hidden_statuses)
        elif status == "ended":
            checks.append(lambda obj: obj.get("status") in ("canceled", "incomplete_expired"))
        elif status != "all":
            checks.append(lambda obj: obj.get("status") == status)
    for name, value in filters.items():
        if name == "status" and hidden_statuses:
            continue
        special = SPECIAL_FILTERS.get(name)
        checks.append(_special_check(special, value) if special else _field_check(name, value[0]))
    return lambda _id, obj: all(check(obj) for check in checks)


def _special_check(
    special: Callable[[JsonObject, list[str]], bool], values: list[str]
) -> Callable[[JsonObject], bool]:
    return lambda obj: special(obj, values)


def _field_check(name: str, value: str) -> Callable[[JsonObject], bool]:
    return lambda obj: _matches(obj.get(name), value)


MAX_EXPAND_DEPTH = 4


def check_expand(query: dict[str, list[str]], in_list: bool) -> None:
    """Reject what Stripe rejects in ``expand[]``: list fields without ``data.``, more than 4 levels.

    Raises:
        StripeParamError: The first path at fault.
    """
    for path in query.get("expand", []):
        if in_list and not path.startswith("data."):
            raise StripeParamError(
                f"This property cannot be expanded ({path}). "
                f"You may want to try expanding 'data.{path}' instead.",
                "expand",
            )
        if path.count(".") >= MAX_EXPAND_DEPTH:
            raise StripeParamError(
                f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property ({path}).", "expand"
            )


def expand(
    obj: JsonObject,
    paths: list[str],
    find: Callable[[str], JsonObject | None],
    include: Callable[[JsonObject, str], JsonObject | None] | None = None,
) -> JsonObject:
    """Replace id references by the objects they name along ``expand[]`` paths.

    Args:
        obj: The object (not modified).
        paths: Dotted paths such as ``customer`` or ``invoice.subscription`` (list prefix removed).
        find: Looks an id up in the account.
        include: Returns the child list an absent includable field holds (``customer.sources``).

    Returns:
        A copy with the references expanded; paths that lead nowhere are left as they are.
    """
    result = dict(obj)
    for path in paths:
        head, _, rest = path.partition(".")
        value = result.get(head)
        if isinstance(value, str):
            found = find(value)
            if found is not None:
                result[head] = expand(found, [rest], find, include) if rest else found
        elif isinstance(value, dict) and rest:
            result[head] = expand(value, [rest], find, include)
        elif value is None and include is not None:
            included = include(result, head)
            if included is not None:
                result[head] = included
    return result


def stripe_error(
    status: int,
    message: str,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> ApiResponse:
    """A Stripe error response: ``{"error": {"type", "message", "code"?, "param"?}}``."""
    error: JsonObject = {"message": message, "type": error_type}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return json_response(status, {"error": error}, headers)


def api_key(header: str) -> str | None:
    """The key from ``Bearer <key>`` or Basic auth with the key as user name (both work on Stripe)."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return user or None
    return None if not header.strip() else header.strip()


def page_token(offset: int, query: str) -> str:
    return encode_token({"o": offset, "q": query})


def page_offset(token: str | None, query: str) -> int:
    """Decode a search ``page`` token; it must come from the same query.

    Raises:
        StripeParamError: If the token is not one the sandbox issued for this query.
    """
    if not token:
        return 0
    try:
        data = decode_token(token)
        if data["q"] != query:
            raise ValueError("query changed")
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise StripeParamError(f"Invalid page: {token}", "page") from None
