"""Stripe's writes that ``destination-billing`` sends, validated as Stripe validates them, and idempotency.

One table (``WRITES``) names each write: method, path, the parameters Stripe accepts and the handler. Bodies
are form-encoded (``metadata[plan]=pro``, ``items[0][price]=price_x``); an empty value unsets a field. Every
change goes through the account's own ``create``/``update``, so it records the events a control-API change
records (``customer.created``, ``customer.subscription.updated``, ``customer.subscription.deleted``...)
and the source's next incremental sync sees it.

Idempotency (https://docs.stripe.com/api/idempotent_requests): a POST's ``Idempotency-Key`` is kept for 24
hours per account; the same key with the same method, path and parameters replays the first answer with
``Idempotent-Replayed: true``, with anything else answers 400 ``idempotency_error``. Answers refused before
the endpoint ran (unknown parameters, validation) are not kept, as on Stripe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sandbox import request_log
from sandbox.seed import DAY
from sandbox.store import JsonObject
from sandbox.stripe_context import price_summary
from sandbox.stripe_data import StripeAccountData
from sandbox.stripe_query import StripeParamError, stripe_error
from sandbox.stripe_resources import RESOURCES_BY_NAME
from sandbox.stripe_routes import Route, compile_path
from sandbox.wire import ApiRequest, ApiResponse, json_response

IDEMPOTENCY_WINDOW = DAY
Form = dict[str, Any]
_PART = re.compile(r"[^\[\]]+|\[\]")


class StripeRequestError(Exception):
    """A request Stripe refuses after its parameters were accepted (kept for an idempotent replay)."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


@dataclass(frozen=True)
class Write:
    """One write endpoint.

    Attributes:
        method: ``POST`` or ``DELETE``.
        template: The path, ``{id}`` for the object's id.
        resource: The resource table row it changes (rate limits and permissions follow it).
        params: The top-level parameters Stripe accepts (others: ``parameter_unknown``).
        handler: Name of the ``StripeWrites`` method that applies it.
    """

    method: str
    template: str
    resource: str
    params: frozenset[str]
    handler: str

    @property
    def route(self) -> Route:
        """The route it is served by: rate-limited as its resource's reads."""
        return Route(self.template, "write", RESOURCES_BY_NAME[self.resource])


def _params(*names: str) -> frozenset[str]:
    return frozenset((*names, "expand"))


CUSTOMER = _params("email", "name", "description", "phone", "metadata")
PRODUCT = _params("name", "description", "active", "metadata")
WRITES: tuple[Write, ...] = (
    Write("POST", "/v1/customers", "customers", CUSTOMER, "create_customer"),
    Write("POST", "/v1/customers/{id}", "customers", CUSTOMER, "update_object"),
    Write(
        "POST", "/v1/subscriptions/{id}", "subscriptions", _params("items", "metadata"), "update_subscription"
    ),
    Write("DELETE", "/v1/subscriptions/{id}", "subscriptions", _params(), "cancel_subscription"),
    Write("POST", "/v1/products", "products", PRODUCT | {"id"}, "create_product"),
    Write("POST", "/v1/products/{id}", "products", PRODUCT, "update_object"),
    Write(
        "POST",
        "/v1/prices",
        "prices",
        _params(
            "product", "currency", "unit_amount", "recurring", "lookup_key", "nickname", "active", "metadata"
        ),
        "create_price",
    ),
    Write(
        "POST",
        "/v1/prices/{id}",
        "prices",
        _params("nickname", "active", "metadata", "lookup_key"),
        "update_object",
    ),
    Write(
        "POST",
        "/v1/coupons",
        "coupons",
        _params(
            "id",
            "name",
            "percent_off",
            "amount_off",
            "currency",
            "duration",
            "duration_in_months",
            "max_redemptions",
            "metadata",
        ),
        "create_coupon",
    ),
    Write("POST", "/v1/coupons/{id}", "coupons", _params("name", "metadata"), "update_object"),
)
PATTERNS = tuple((write, compile_path(write.template)) for write in WRITES)


def match_write(method: str, path: str) -> tuple[Write | None, dict[str, str]]:
    """The write a request is, and its path parameters."""
    for write, pattern in PATTERNS:
        found = pattern.match(path)
        if found and write.method == method:
            return write, found.groupdict()
    return None, {}


def parse_form(body: bytes) -> Form:
    """A form-encoded body as nested values: ``a[b]=1`` -> ``{"a": {"b": "1"}}``, ``a[0][b]`` -> a list."""
    nested: Form = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = [part.strip("[]") for part in _PART.findall(name)]
        target: Any = nested
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                if isinstance(target, list):
                    target.append(value)
                else:
                    target[part] = value
                break
            child: Any = [] if following == "" else {}
            if isinstance(target, list):
                target.append(child)
            else:
                child = target.setdefault(part, child)
            target = child
    return {key: _lists(value) for key, value in nested.items()}


def _lists(value: Any) -> Any:
    """``{"0": {...}, "1": {...}}`` (indexed fields) as a list, recursively."""
    if isinstance(value, dict):
        converted = {key: _lists(item) for key, item in value.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    return value


def _blank(value: Any) -> Any:
    """Stripe's empty string unsets a field."""
    return None if value == "" else value


def _integer(form: Form, name: str) -> int | None:
    value = _blank(form.get(name))
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeParamError(f"Invalid integer: {value}", name, "parameter_invalid_integer") from None


def _boolean(form: Form, name: str) -> bool | None:
    value = _blank(form.get(name))
    if value is None:
        return None
    if value not in ("true", "false"):
        raise StripeParamError(f"Invalid boolean: {value}", name, "parameter_invalid_boolean")
    return bool(value == "true")


def _metadata(form: Form) -> dict[str, str | None] | None:
    value = form.get("metadata")
    if value is None:
        return None
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeParamError("Invalid object", "metadata")
    return {key: _blank(item) for key, item in value.items()}


def _required(form: Form, *names: str) -> None:
    for name in names:
        if _blank(form.get(name)) is None:
            raise StripeParamError(f"Missing required param: {name}.", name, "parameter_missing")


class StripeWrites:
    """Applies the writes to one account's data and keeps the idempotency keys of all accounts.

    Args:
        now: The sandbox time, in epoch seconds.
    """

    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now
        self._keys: dict[tuple[str, str], tuple[int, tuple[Any, ...], ApiResponse]] = {}
        self._lock = threading.Lock()

    def handle(
        self, request: ApiRequest, write: Write, params: dict[str, str], data: StripeAccountData
    ) -> ApiResponse:
        """Answer one write, replaying or refusing a repeated ``Idempotency-Key``."""
        form = parse_form(request.body)
        request_log.note_body(form)
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        fingerprint = (request.method, request.path, sorted(_flat(form)))
        with self._lock:  # one write at a time: a key is checked and stored with its answer
            if key:
                stored = self._keys.get((data.account, key))
                if stored is not None and stored[0] > self._now() - IDEMPOTENCY_WINDOW:
                    if stored[1] != fingerprint:
                        return stripe_error(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they "
                            f"were first used with. Try using a key other than '{key}' if you meant to "
                            "execute a different request.",
                            "idempotency_error",
                        )
                    replay = stored[2]
                    return ApiResponse(
                        replay.status, replay.body, [*replay.headers, ("Idempotent-Replayed", "true")]
                    )
            try:
                unknown = sorted(set(form) - write.params)
                if unknown:
                    raise StripeParamError(
                        f"Received unknown parameter: {unknown[0]}", unknown[0], "parameter_unknown"
                    )
                response = json_response(200, getattr(self, write.handler)(write, params, form, data))
            except StripeParamError as error:  # refused before the endpoint ran: not kept
                return stripe_error(400, error.message, code=error.code, param=error.param)
            except StripeRequestError as error:
                response = stripe_error(error.status, error.message, code=error.code, param=error.param)
            if key:  # a copy: the answer sent gets its request id and version headers on the way out
                stored_answer = ApiResponse(response.status, response.body, list(response.headers))
                self._keys[(data.account, key)] = (self._now(), fingerprint, stored_answer)
            return response

    # Handlers: each returns the object Stripe answers with -------------------------------------------

    def _existing(self, write: Write, params: dict[str, str], data: StripeAccountData) -> JsonObject:
        obj = data.collections[write.resource].get(params["id"])
        if obj is None:
            kind = RESOURCES_BY_NAME[write.resource].object
            raise StripeRequestError(404, f"No such {kind}: '{params['id']}'", "resource_missing", "id")
        return obj

    def _changes(self, form: Form) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name, value in form.items():
            if name == "expand":
                continue
            if name == "metadata":
                changes[name] = _metadata(form)
            elif name == "active":
                changes[name] = _boolean(form, name)
            else:
                changes[name] = _blank(value)
        return changes

    def update_object(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``POST /v1/{customers,products,prices,coupons}/{id}``: the given fields; metadata merges."""
        self._existing(write, params, data)
        changes = self._changes(form)
        if write.resource == "prices" and changes.get("lookup_key"):
            self._free_lookup_key(data, str(changes["lookup_key"]), params["id"])
        return data.update(write.resource, params["id"], changes, self._now())

    def create_customer(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``POST /v1/customers``: every field optional."""
        fields: dict[str, Any] = dict.fromkeys(("email", "name", "description", "phone"))
        fields["metadata"] = {}
        fields.update(self._changes(form))
        fields["metadata"] = {k: v for k, v in (fields["metadata"] or {}).items() if v is not None}
        return data.create("customers", fields, self._now())

    def create_product(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``POST /v1/products``: ``name`` required; an ``id`` may be given, once."""
        _required(form, "name")
        if form.get("id") and data.collections["products"].get(str(form["id"])) is not None:
            raise StripeRequestError(400, "Product already exists.", "resource_already_exists", "id")
        fields = {"description": None, "active": True, "metadata": {}, **self._changes(form)}
        fields["metadata"] = {k: v for k, v in (fields["metadata"] or {}).items() if v is not None}
        fields["updated"] = self._now()
        if not fields.get("id"):
            fields.pop("id", None)
        return data.create("products", fields, self._now())

    def create_price(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``POST /v1/prices``: ``currency`` and an existing ``product``; one price per lookup key."""
        _required(form, "currency", "product")
        amount = _integer(form, "unit_amount")
        product = str(form["product"])
        if data.collections["products"].get(product) is None:
            raise StripeRequestError(400, f"No such product: '{product}'", "resource_missing", "product")
        recurring = form.get("recurring")
        interval = recurring.get("interval") if isinstance(recurring, dict) else None
        if recurring is not None and interval not in ("day", "week", "month", "year"):
            raise StripeParamError(
                "Invalid recurring[interval]: must be one of day, week, month, or year",
                "recurring[interval]",
            )
        if form.get("lookup_key"):
            self._free_lookup_key(data, str(form["lookup_key"]), None)
        metadata = {k: v for k, v in (_metadata(form) or {}).items() if v is not None}
        fields = {
            "active": _boolean(form, "active") is not False,
            "currency": str(form["currency"]).lower(),
            "lookup_key": _blank(form.get("lookup_key")),
            "metadata": metadata,
            "nickname": _blank(form.get("nickname")),
            "product": product,
            "recurring": None
            if interval is None
            else {
                "aggregate_usage": None,
                "interval": interval,
                "interval_count": 1,
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            },
            "type": "one_time" if interval is None else "recurring",
            "unit_amount": amount,
            "unit_amount_decimal": None if amount is None else str(amount),
        }
        return data.create("prices", fields, self._now())

    def _free_lookup_key(self, data: StripeAccountData, lookup_key: str, own: str | None) -> None:
        for price in data.collections["prices"].objects():
            if price.get("lookup_key") == lookup_key and price["id"] != own:
                raise StripeRequestError(
                    400,
                    f"A price ({price['id']}) already uses that lookup key.",
                    "lookup_key_already_used",  # not Stripe's code word for word; its message is
                    "lookup_key",
                )

    def create_coupon(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``POST /v1/coupons``: a ``duration``, and ``percent_off`` or ``amount_off`` with a currency."""
        _required(form, "duration")
        if form.get("id") and data.collections["coupons"].get(str(form["id"])) is not None:
            raise StripeRequestError(400, "Coupon already exists.", "resource_already_exists", "id")
        duration = form["duration"]
        if duration not in ("forever", "once", "repeating"):
            raise StripeParamError("Invalid duration: must be one of forever, once, or repeating", "duration")
        percent, amount = _blank(form.get("percent_off")), _integer(form, "amount_off")
        if (percent is None) == (amount is None):
            raise StripeParamError("You must pass exactly one of percent_off or amount_off.", "percent_off")
        if amount is not None and not form.get("currency"):
            raise StripeParamError("You must pass currency when passing amount_off.", "currency")
        months = _integer(form, "duration_in_months")
        if (duration == "repeating") != (months is not None):
            raise StripeParamError(
                "duration_in_months is required, and only allowed, with duration repeating.",
                "duration_in_months",
            )
        metadata = {k: v for k, v in (_metadata(form) or {}).items() if v is not None}
        fields = {
            "amount_off": amount,
            "currency": _blank(form.get("currency")),
            "duration": duration,
            "duration_in_months": months,
            "max_redemptions": _integer(form, "max_redemptions"),
            "metadata": metadata,
            "name": _blank(form.get("name")),
            "percent_off": None if percent is None else float(percent),
            "times_redeemed": 0,
            "valid": True,
        }
        if form.get("id"):
            fields["id"] = str(form["id"])
        return data.create("coupons", fields, self._now())

    def update_subscription(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``POST /v1/subscriptions/{id}``: ``items[n][id]`` with a new ``price`` or ``quantity``."""
        subscription = self._existing(write, params, data)
        if subscription["status"] in ("canceled", "incomplete_expired") and form.get("items"):
            raise StripeRequestError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
                param="items",
            )
        items = form.get("items") or []
        if not isinstance(items, list):
            raise StripeParamError("Invalid array", "items")
        collection = data.collections["subscription_items"]
        for position, item in enumerate(items):
            item_id = item.get("id") if isinstance(item, dict) else None
            if not item_id or collection.parent_of(str(item_id)) != params["id"]:
                raise StripeRequestError(
                    400,
                    f"No such subscription item: '{item_id}'",
                    "resource_missing",
                    f"items[{position}][id]",
                )
            changes: dict[str, Any] = {}
            if "price" in item:
                price = data.collections["prices"].get(str(item["price"]))
                if price is None:
                    raise StripeRequestError(
                        400,
                        f"No such price: '{item['price']}'",
                        "resource_missing",
                        f"items[{position}][price]",
                    )
                changes["price"] = price_summary(price)
            if "quantity" in item:
                changes["quantity"] = _integer(item, "quantity")
            if changes:
                data.update("subscription_items", str(item_id), changes, self._now())
        metadata = _metadata(form)
        if metadata is not None:
            data.update("subscriptions", params["id"], {"metadata": metadata}, self._now())
        return self._existing(write, params, data)

    def cancel_subscription(
        self, write: Write, params: dict[str, str], form: Form, data: StripeAccountData
    ) -> JsonObject:
        """``DELETE /v1/subscriptions/{id}``: canceled now (``customer.subscription.deleted``)."""
        subscription = self._existing(write, params, data)
        if subscription["status"] in ("canceled", "incomplete_expired"):
            raise StripeRequestError(
                400, f"This subscription is already {subscription['status']}.", "subscription_canceled"
            )
        now = self._now()
        return data.update(
            "subscriptions", params["id"], {"status": "canceled", "canceled_at": now, "ended_at": now}, now
        )


def prices_by_lookup_key(data: StripeAccountData, lookup_keys: list[str], active: str | None) -> ApiResponse:
    """``GET /v1/prices?lookup_keys[]=...``: the prices with those lookup keys (``active`` filters them)."""
    found = [
        price
        for price in data.collections["prices"].objects()
        if price.get("lookup_key") in lookup_keys
        and (active is None or str(bool(price.get("active"))).lower() == active)
    ]
    return json_response(200, {"object": "list", "data": found, "has_more": False, "url": "/v1/prices"})


def _flat(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A parsed form back as sorted name/value pairs (the idempotency fingerprint)."""
    if isinstance(value, dict):
        return [
            pair for key, item in value.items() for pair in _flat(item, f"{prefix}[{key}]" if prefix else key)
        ]
    if isinstance(value, list):
        return [pair for index, item in enumerate(value) for pair in _flat(item, f"{prefix}[{index}]")]
    return [(prefix, str(value))]
