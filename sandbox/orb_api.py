"""The Orb emulator: auth, lists with cursors, filters, the credit ledger, event search and usage."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import credentials as creds
from sandbox.clock import Clock, iso_z, parse_iso
from sandbox.faults import Limit, RateLimiter
from sandbox.orb_data import METRICS, OrbData
from sandbox.orb_ledger import GROUP_VALUES
from sandbox.seed import DAY, EmailPool, Scales, hex_id
from sandbox.store import JsonObject, SortKey, paginate
from sandbox.wire import ApiRequest, ApiResponse, dumps, json_response

ERROR_DOCS = "https://docs.withorb.com/reference/error-responses#"
DEFAULT_INVOICE_STATUSES = ("issued", "paid", "synced")
_ARRAY_KEY = re.compile(r"^(\w+)\[\d*\]$")
_TIME_FILTER = re.compile(r"^(\w+)\[(gt|gte|lt|lte)\]$")
Matcher = Callable[[JsonObject, list[str]], bool]


def _path_value(obj: JsonObject, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _equals(path: str) -> Matcher:
    return lambda obj, values: str(_path_value(obj, path)) in values


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
        ledger_limit: Whether it counts against the 10/s ledger-and-usage budget.
    """

    resource: str
    path: str
    time_fields: tuple[str, ...] = ("created_at",)
    filters: dict[str, Matcher] = field(default_factory=dict)
    defaults: dict[str, Matcher] = field(default_factory=dict)
    retrieve: bool = True
    ledger_limit: bool = False


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
        retrieve=False,
        ledger_limit=True,
    ),
)


class OrbError(Exception):
    """An Orb error response to send.

    Args:
        status: HTTP status.
        kind: Anchor of the error type in Orb's docs, e.g. ``400-constraint-violation``.
        title: Orb's title for that type.
        detail: What went wrong.
    """

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail


def bad_request(detail: str) -> OrbError:
    """A 400 request validation error (bad parameter)."""
    return OrbError(400, "400-request-validation-errors", "Request validation error", detail)


def constraint(detail: str) -> OrbError:
    """A 400 constraint violation (a limit of the API)."""
    return OrbError(400, "400-constraint-violation", "Constraint violation", detail)


def orb_error(error: OrbError, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    """Render an error in Orb's one shape: ``{"type", "status", "title", "detail"}``."""
    body: JsonObject = {"type": ERROR_DOCS + error.kind, "status": error.status, "title": error.title}
    body["detail"] = error.detail
    if error.kind == "400-request-validation-errors":
        body["validation_errors"] = [error.detail]
    return json_response(error.status, body, headers)


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
            self._routes.append((re.compile(list_regex), self._lister(row)))
            if row.retrieve:
                self._routes.append((re.compile(f"^{row.path}/(?P<id>[^/]+)$"), self._retriever(row)))

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

    def _retriever(self, row: OrbList) -> Callable[[ApiRequest, dict[str, str]], ApiResponse]:
        def retrieve(request: ApiRequest, params: dict[str, str]) -> ApiResponse:
            collection = self.data.collections[row.resource]
            if collection.get(params["id"]) is None:
                detail = f"No {row.resource[:-1]} with id {params['id']} was found."
                raise OrbError(404, "404-resource-not-found", "Resource not found", detail)
            return ApiResponse(200, collection.json_of(params["id"]))

        return retrieve

    def _lister(self, row: OrbList) -> Callable[[ApiRequest, dict[str, str]], ApiResponse]:
        def list_page(request: ApiRequest, params: dict[str, str]) -> ApiResponse:
            return self._list(row, request, params)

        return list_page

    def _list(self, row: OrbList, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        query = _normalise(request.query)
        limit = _limit(query)
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
            if self.data.collections["customers"].get(parent) is None:
                raise OrbError(
                    404, "404-resource-not-found", "Resource not found", f"No customer with id {parent}."
                )
            base = collection.children(parent)
            allowed = {key[1] for key in base}
            checks.append(lambda obj: obj["id"] in allowed)
            spec.append(("parent", parent))
        if checks:
            order = collection.view(tuple(spec), lambda _id, obj: all(check(obj) for check in checks))
        else:
            order = collection.order()
        after = _decode_cursor(query.get("cursor", [None])[0])
        page = paginate(order, limit, after=after)
        next_cursor = _encode_cursor(collection.key_of(page.ids[-1])) if page.has_more and page.ids else None
        body = b"".join(
            (
                b'{"data":[',
                b",".join(collection.json_of(object_id) for object_id in page.ids),
                b'],"pagination_metadata":{"has_more":',
                b"true" if page.has_more else b"false",
                b',"next_cursor":',
                dumps(next_cursor),
                b"}}",
            )
        )
        return ApiResponse(200, body)

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

    def _usage(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        subscription = self.data.collections["subscriptions"].get(params["id"])
        if subscription is None:
            raise OrbError(
                404, "404-resource-not-found", "Resource not found", f"No subscription {params['id']}."
            )
        query = _normalise(request.query)
        granularity = query.get("granularity", ["day"])[0]
        if granularity != "day":
            raise bad_request("granularity must be 'day'.")
        metric_id = query.get("billable_metric_id", [None])[0]
        group_by = query.get("group_by", [None])[0]
        if bool(metric_id) != bool(group_by):
            raise bad_request("billable_metric_id and group_by must be specified together.")
        view_mode = query.get("view_mode", ["cumulative"])[0]
        if view_mode not in ("periodic", "cumulative"):
            raise bad_request("view_mode must be 'periodic' or 'cumulative'.")
        now = self._clock.now()
        start_text = query.get("timeframe_start", [subscription["current_billing_period_start_date"]])[0]
        start = _epoch(start_text, "timeframe_start")
        end = _epoch(query["timeframe_end"][0], "timeframe_end") if "timeframe_end" in query else now
        if end <= start:
            raise bad_request("timeframe_end must be after timeframe_start.")
        metrics = self._metrics(subscription)
        if metric_id:
            metrics = [metric for metric in metrics if metric["id"] == metric_id]
        groups: list[str | None] = list(GROUP_VALUES.get(group_by or "", ())) if group_by else [None]
        windows = _windows(subscription, start, end)
        data = []
        for metric in metrics:
            for group in groups:
                usage, total = [], 0.0
                for window_start, window_end in windows:
                    quantity = _quantity(subscription["id"], metric["id"], window_start, window_end, group)
                    total = total + quantity if view_mode == "cumulative" else quantity
                    usage.append(
                        {
                            "quantity": total,
                            "timeframe_start": iso_z(window_start),
                            "timeframe_end": iso_z(window_end),
                        }
                    )
                item: JsonObject = {
                    "billable_metric": {"id": metric["id"], "name": metric["name"]},
                    "usage": usage,
                }
                if group is not None:
                    item["metric_group"] = {"property_key": group_by, "property_value": group}
                item["view_mode"] = view_mode
                data.append(item)
        result: JsonObject = {"data": data}
        if group_by:
            result["pagination_metadata"] = {"has_more": False, "next_cursor": None}
        return json_response(200, result)

    def _metrics(self, subscription: JsonObject) -> list[JsonObject]:
        plan = self.data.collections["plans"].get(subscription["plan"]["id"]) or {"prices": []}
        wanted = {price["billable_metric"]["id"] for price in plan["prices"] if price.get("billable_metric")}
        return [metric for metric in METRICS if metric["id"] in wanted]


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


def _normalise(query: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for key, values in query.items():
        match = _ARRAY_KEY.match(key)
        merged.setdefault(match.group(1) if match else key, []).extend(values)
    return merged


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["20"])[0]
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer; got {raw!r}.") from None
    if not 1 <= limit <= 100:
        raise bad_request(f"limit must be between 1 and 100; got {limit}.")
    return limit


def _epoch(text: str, name: str) -> float:
    try:
        return parse_iso(str(text))
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 date-time; got {text!r}.") from None


def _encode_cursor(key: SortKey | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> SortKey | None:
    if not cursor:
        return None
    try:
        primary, object_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(primary), str(object_id)
    except (ValueError, TypeError, binascii.Error):
        raise bad_request("The cursor is invalid.") from None


def _windows(subscription: JsonObject, start: float, end: float) -> list[tuple[int, int]]:
    """Day windows within the timeframe and the subscription's active period, demarcated at the customer's
    midnight (the sandbox's customers live in UTC), the first and last cut at the range's ends, as Orb
    does."""
    active_from = parse_iso(subscription["start_date"])
    active_to = parse_iso(subscription["end_date"]) if subscription.get("end_date") else end
    low, high = int(max(start, active_from)), int(min(end, active_to))
    windows: list[tuple[int, int]] = []
    while low < high and len(windows) < 2000:
        upper = min((low // DAY + 1) * DAY, high)
        windows.append((low, upper))
        low = upper
    return windows


def _quantity(
    subscription_id: str, metric_id: str, window_start: int, window_end: int, group: str | None
) -> float:
    """Deterministic usage: each day's total is fixed, and a window cut short gets its share of the day."""
    day = window_start // DAY * DAY
    daily = int(hex_id(subscription_id, metric_id, day, group)[:6], 16) % 5000
    return float(round(daily * (window_end - window_start) / DAY))
