"""The Orb emulator: auth, lists with cursors, filters, the credit ledger and credit blocks per currency,
lists under customers and subscriptions (licenses, balance transactions, schedules), event search and
usage (``orb_usage.py``); the writes ``destination-billing`` sends are ``orb_writes``'s."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import credentials as creds
from sandbox import orb_usage
from sandbox.clock import Clock, parse_iso
from sandbox.faults import Limit, RateLimiter
from sandbox.orb_data import OrbData
from sandbox.orb_errors import OrbError, bad_request, constraint, orb_error
from sandbox.orb_errors import epoch as _epoch
from sandbox.orb_writes import OrbWrites
from sandbox.seed import DAY, EmailPool, Scales
from sandbox.store import Collection, JsonObject, SortKey, decode_token, encode_token, paginate, path_value
from sandbox.stripe_query import normalise
from sandbox.wire import ApiRequest, ApiResponse, dumps, json_response

DEFAULT_INVOICE_STATUSES = ("issued", "paid", "synced")
_TIME_FILTER = re.compile(r"^(\w+)\[(gt|gte|lt|lte)\]$")
Matcher = Callable[[JsonObject, list[str]], bool]


def _equals(path: str) -> Matcher:
    return lambda obj, values: str(path_value(obj, path)) in values


@dataclass(frozen=True)
class OrbList:
    """One Orb list endpoint (a row of the Orb table).

    Attributes:
        resource: Collection name (control API, ``--scale-for orb.NAME``).
        path: List path; ``{parent}`` is the customer id for the ledger.
        time_fields: Fields filterable with ``[gt|gte|lt|lte]`` (ISO 8601).
        filters: Query parameter -> matcher (all values of the parameter are passed).
        defaults: Filters applied when their parameter is absent (Orb hides some objects by default).
        retrieve: Whether ``GET path/{id}`` exists.
        parent: The collection ``{parent}`` is an id of.
        partition: A query parameter and its default that, after the parent's id, name the objects'
            parent in the store (``customer|currency`` for credit blocks, which do not name their currency).
        required: Query parameters without which Orb answers 400.
        without_id: Whether the objects are listed without their (sandbox-made) ``id``, as Orb lists them.
    """

    resource: str
    path: str
    time_fields: tuple[str, ...] = ("created_at",)
    filters: dict[str, Matcher] = field(default_factory=dict)
    defaults: dict[str, Matcher] = field(default_factory=dict)
    retrieve: bool = True
    parent: str = "customers"
    partition: tuple[str, str] | None = None
    required: tuple[str, ...] = ()
    without_id: bool = False


ORB_LISTS: tuple[OrbList, ...] = (
    OrbList("customers", "/v1/customers"),
    OrbList(
        "subscriptions",
        "/v1/subscriptions",
        filters={
            "customer_id": _equals("customer.id"),
            "external_customer_id": _equals("customer.external_customer_id"),
            "plan_id": _equals("plan.id"),
            "status": _equals("status"),
        },
    ),
    OrbList("plans", "/v1/plans", filters={"status": _equals("status")}),
    OrbList(
        "invoices",
        "/v1/invoices",
        time_fields=("invoice_date", "due_date"),
        filters={
            "customer_id": _equals("customer.id"),
            "external_customer_id": _equals("customer.external_customer_id"),
            "subscription_id": _equals("subscription.id"),
            "status": _equals("status"),
        },
        # Without status[] Orb lists only issued, paid and synced invoices: drafts and voids are omitted.
        defaults={"status": lambda obj, _values: obj.get("status") in DEFAULT_INVOICE_STATUSES},
    ),
    OrbList("credit_notes", "/v1/credit_notes"),
    OrbList(
        "coupons",
        "/v1/coupons",
        time_fields=(),
        filters={
            "redemption_code": _equals("redemption_code"),
            "show_archived": lambda obj, values: values[0] == "true" or obj.get("archived_at") is None,
        },
        defaults={"show_archived": lambda obj, _values: obj.get("archived_at") is None},
    ),
    OrbList("items", "/v1/items", time_fields=()),
    OrbList("prices", "/v1/prices", time_fields=()),
    OrbList(
        "credit_ledger_entries",
        "/v1/customers/{parent}/credits/ledger",
        filters={
            "entry_status": _equals("entry_status"),
            "entry_type": _equals("entry_type"),
            "currency": _equals("currency"),
            "minimum_amount": lambda obj, values: abs(float(obj["amount"])) >= float(values[0]),
        },
        # Without `currency` Orb reads the customer's ledger in credits, its default custom unit.
        defaults={"currency": lambda obj, _values: obj.get("currency") == "credits"},
        retrieve=False,
    ),
    OrbList("billable_metrics", "/v1/metrics", filters={"status": _equals("status")}),
    OrbList("license_types", "/v1/license_types", time_fields=()),
    OrbList(
        "licenses",
        "/v1/licenses",
        time_fields=(),
        filters={
            "subscription_id": _equals("subscription_id"),
            "status": _equals("status"),
            "license_type_id": _equals("license_type_id"),
            "external_license_id": _equals("external_license_id"),
        },
        required=("subscription_id",),
    ),
    # Blocks in each ledger currency (credits by default); without include_all_blocks, only those left.
    OrbList(
        "credit_blocks",
        "/v1/customers/{parent}/credits",
        time_fields=("effective_date",),
        filters={"include_all_blocks": lambda obj, values: values[0] == "true" or obj["balance"] > 0},
        defaults={"include_all_blocks": lambda obj, _values: obj["balance"] > 0},
        retrieve=False,
        partition=("currency", "credits"),
    ),
    OrbList(
        "balance_transactions",
        "/v1/customers/{parent}/balance_transactions",
        time_fields=(),
        retrieve=False,
    ),
    OrbList(
        "subscription_schedules",
        "/v1/subscriptions/{parent}/schedule",
        time_fields=("start_date",),
        retrieve=False,
        parent="subscriptions",
        without_id=True,
    ),
)


class OrbApi:
    """Serves ``/orb/v1/...``.

    Args:
        seed: Run seed.
        scales: Object counts.
        clock: Sandbox clock.
        limiter: Shared rate limiter.
    """

    name = "orb"

    def __init__(self, seed: int, scales: Scales, clock: Clock, limiter: RateLimiter) -> None:
        pool = EmailPool(scales.get("stripe", "customers"), scales.get("orb", "customers"))
        self.data = OrbData(seed, clock.now_int(), scales, pool)
        self._writes = OrbWrites(self.data, clock.now_int)
        self._clock = clock
        self._limiter = limiter
        # Control calls run on server threads; one at a time keeps seeding state and ids consistent.
        self._control_lock = threading.Lock()
        self._routes: list[tuple[re.Pattern[str], Callable[[ApiRequest, dict[str, str]], ApiResponse]]] = [
            (re.compile(r"^/v1/ping$"), self._ping),
            (re.compile(r"^/v1/subscriptions/(?P<id>[^/]+)/usage$"), self._usage),
        ]
        for row in ORB_LISTS:
            list_regex = "^" + row.path.replace("{parent}", "(?P<parent>[^/]+)") + "$"
            self._routes.append((re.compile(list_regex), functools.partial(self._list, row)))
            if row.retrieve:
                self._routes.append(
                    (re.compile(f"^{row.path}/(?P<id>[^/]+)$"), functools.partial(self._retrieve, row))
                )

    # Entry points -----------------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if not key.strip():
            return orb_error(
                OrbError(401, "401-authentication-error", "Authentication error", "No API key provided.")
            )
        if scheme.lower() != "bearer" or key.strip() != creds.ORB_API_KEY:
            return orb_error(
                OrbError(
                    401,
                    "401-authentication-error",
                    "Authentication error",
                    "The provided API key is invalid.",
                )
            )
        heavy = request.path.endswith("/usage") or request.path.endswith("/credits/ledger")
        group = "ledger_usage" if heavy else "other"
        retry_after = self._limiter.check([Limit(f"orb:{group}", 10 if heavy else 100)])
        if retry_after is not None:
            return self.error(429, retry_after)
        try:
            if request.method == "POST" and request.path == "/v1/events/search":
                return self._search_events(request)
            write = self._writes.route(request)
            if write is not None:
                with self._control_lock:  # ids and the store change as under the control API
                    return write()
            if request.method == "GET":
                for pattern, handler in self._routes:
                    match = pattern.match(request.path)
                    if match:
                        return handler(request, match.groupdict())
            raise OrbError(
                404, "404-url-not-found", "URL not found", f"{request.method} {request.path} does not exist."
            )
        except OrbError as error:
            return orb_error(error)

    def error(self, status: int, retry_after: int) -> ApiResponse:
        """An injected 5xx or 429 in Orb's shape."""
        if status == 429:
            error = OrbError(
                429, "429-too-many-requests", "Too many requests", "Rate limit exceeded; retry later."
            )
            return orb_error(error, [("Retry-After", str(retry_after))])
        return orb_error(
            OrbError(status, "500-internal-server-error", "Internal server error", "Please retry.")
        )

    def control_objects(self, resource: str, account: str | None) -> list[JsonObject]:
        """All current objects of a resource (``events`` lists the stored usage events)."""
        if resource == "events":
            return list(self.data.events.values())
        if resource not in self.data.collections:
            raise KeyError(f"unknown Orb resource {resource!r}")
        return list(self.data.collections[resource].objects())

    def control_create(self, resource: str, fields: dict[str, Any], account: str | None) -> JsonObject:
        """Create an object."""
        with self._control_lock:
            return self.data.create(resource, fields, self._clock.now_int())

    def control_update(
        self, resource: str, object_id: str, fields: dict[str, Any], account: str | None
    ) -> JsonObject:
        """Update an object (invoice status and subscription plan/status keep related fields right)."""
        with self._control_lock:
            return self.data.update(resource, object_id, fields, self._clock.now_int())

    def control_delete(self, resource: str, object_id: str, account: str | None) -> JsonObject:
        """Delete an object."""
        with self._control_lock:
            return self.data.delete(resource, object_id)

    # Handlers ---------------------------------------------------------------------------------------

    def _ping(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        return json_response(200, {"response": "Orb ok"})

    def _retrieve(self, row: OrbList, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        collection = self.data.collections[row.resource]
        if collection.get(params["id"]) is None:
            detail = f"No {row.resource[:-1]} with id {params['id']} was found."
            raise OrbError(404, "404-resource-not-found", "Resource not found", detail)
        return ApiResponse(200, collection.json_of(params["id"]))

    def _list(self, row: OrbList, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        query = normalise(request.query)
        limit = _limit(query)
        for name in row.required:
            if not query.get(name):
                raise bad_request(f"{name} is required.")
        collection = self.data.collections[row.resource]
        checks: list[Callable[[JsonObject], bool]] = []
        spec: list[Any] = []
        for name, matcher in row.filters.items():
            if name in query:
                checks.append(_bind(matcher, query[name]))
                spec.append((name, tuple(query[name])))
        for name, matcher in row.defaults.items():
            if name not in query:
                checks.append(_bind(matcher, []))
                spec.append((name, "default"))
        for key, values in query.items():
            match = _TIME_FILTER.match(key)
            if match and match.group(1) in row.time_fields:
                checks.append(_time_check(match.group(1), match.group(2), _epoch(values[0], key)))
                spec.append((key, values[0]))
        parent = params.get("parent")
        if parent is not None:
            if self.data.collections[row.parent].get(parent) is None:
                raise OrbError(
                    404,
                    "404-resource-not-found",
                    "Resource not found",
                    f"No {row.parent[:-1]} with id {parent}.",
                )
            if row.partition is not None:
                name, default = row.partition
                parent = f"{parent}|{query.get(name, [default])[0]}"
            spec.append(("parent", parent))
        if spec:  # a filter, a default or a parent
            order = collection.view(
                tuple(spec), lambda _id, obj: all(check(obj) for check in checks), parent=parent
            )
        else:
            order = collection.order()
        after = _decode_cursor(query.get("cursor", [None])[0])
        page = paginate(order, limit, after=after)
        next_cursor = _encode_cursor(collection.key_of(page.ids[-1])) if page.has_more and page.ids else None
        body = b"".join(
            (
                b'{"data":[',
                b",".join(_listed(collection, object_id, row.without_id) for object_id in page.ids),
                b'],"pagination_metadata":{"has_more":',
                b"true" if page.has_more else b"false",
                b',"next_cursor":',
                dumps(next_cursor),
                b"}}",
            )
        )
        return ApiResponse(200, body)

    def _usage(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        body = orb_usage.usage(self.data, params["id"], normalise(request.query), self._clock.now())
        return json_response(200, body)

    def _search_events(self, request: ApiRequest) -> ApiResponse:
        try:
            body = request.json_body()
        except ValueError:
            raise bad_request("The request body is not valid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("event_ids"), list):
            raise bad_request("event_ids is required and must be a list of strings.")
        event_ids = [str(event_id) for event_id in body["event_ids"]]
        if len(event_ids) > 500:
            raise constraint(f"event_ids may contain at most 500 ids; got {len(event_ids)}.")
        now = self._clock.now()
        # Orb's defaults: the window ends now (exclusive) and starts one week earlier.
        end = _epoch(body["timeframe_end"], "timeframe_end") if body.get("timeframe_end") else now
        start = (
            _epoch(body["timeframe_start"], "timeframe_start")
            if body.get("timeframe_start")
            else end - 7 * DAY
        )
        if end <= start:
            raise constraint("timeframe_end must be after timeframe_start.")
        if end - start > 30 * DAY:
            raise constraint("The timeframe may not span more than 30 days.")
        found = []
        for event_id in event_ids:
            event = self.data.events.get(event_id)
            if event is not None and start <= parse_iso(event["timestamp"]) < end:
                found.append(event)
        return json_response(200, {"data": found})


def _listed(collection: Collection, object_id: str, without_id: bool) -> bytes:
    if not without_id:
        return collection.json_of(object_id)
    return dumps({key: value for key, value in (collection.get(object_id) or {}).items() if key != "id"})


def _bind(matcher: Matcher, values: list[str]) -> Callable[[JsonObject], bool]:
    return lambda obj: matcher(obj, values)


def _time_check(name: str, op: str, bound: float) -> Callable[[JsonObject], bool]:
    def check(obj: JsonObject) -> bool:
        value = obj.get(name)
        if value is None:
            return False
        moment = parse_iso(str(value))
        return {"gt": moment > bound, "gte": moment >= bound, "lt": moment < bound, "lte": moment <= bound}[
            op
        ]

    return check


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["20"])[0]
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer; got {raw!r}.") from None
    if not 1 <= limit <= 100:
        raise bad_request(f"limit must be between 1 and 100; got {limit}.")
    return limit


def _encode_cursor(key: SortKey | None) -> str | None:
    return None if key is None else encode_token(list(key))


def _decode_cursor(cursor: str | None) -> SortKey | None:
    if not cursor:
        return None
    try:
        primary, object_id = decode_token(cursor)
        return int(primary), str(object_id)
    except (ValueError, TypeError):
        raise bad_request("The cursor is invalid.") from None
