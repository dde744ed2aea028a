"""The Stripe emulator: auth, Connect accounts, routing, lists, retrieve, search, events, rate limits."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import credentials as creds
from sandbox import stripe_search
from sandbox.clock import Clock
from sandbox.faults import Limit, RateLimiter
from sandbox.seed import Scales
from sandbox.store import JsonObject, SortKey, paginate
from sandbox.stripe_data import API_VERSION, EVENT_RETENTION, TICKS, StripeAccountData, order_value
from sandbox.stripe_query import (
    CREATED_KEYS,
    StripeParamError,
    api_key,
    check_known,
    created_range,
    expand,
    filter_predicate,
    limit_of,
    normalise,
    page_offset,
    page_token,
    stripe_error,
)
from sandbox.stripe_resources import STRIPE_RESOURCES, StripeResource
from sandbox.wire import ApiRequest, ApiResponse, dumps, json_response

NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, "
    "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
)
RATE_LIMIT_MESSAGE = (
    "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."
)
LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand"}
KEYS = {
    creds.STRIPE_TEST_KEY: ("test", False),
    creds.STRIPE_LIVE_KEY: ("live", False),
    creds.STRIPE_RESTRICTED_KEY: ("test", True),
}


@dataclass(frozen=True)
class Route:
    """One routable path: a regex, its template (rate-limit key and log name) and its handler kind."""

    pattern: re.Pattern[str]
    template: str
    kind: str
    row: StripeResource | None = None


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}$")


def _routes() -> list[Route]:
    routes = [
        Route(_compile("/v1/events"), "/v1/events", "events"),
        Route(_compile("/v1/events/{id}"), "/v1/events/{id}", "event"),
        Route(_compile("/v1/account"), "/v1/account", "account"),
        Route(_compile("/v1/accounts"), "/v1/accounts", "accounts"),
    ]
    for row in STRIPE_RESOURCES:
        if row.search_fields:
            routes.append(Route(_compile(row.path + "/search"), row.path + "/search", "search", row))
        routes.append(Route(_compile(row.path), row.path, "list", row))
        if row.alt_path:
            routes.append(Route(_compile(row.alt_path), row.alt_path, "list", row))
        if row.retrieve_path:
            routes.append(Route(_compile(row.retrieve_path), row.retrieve_path, "retrieve", row))
    return routes


ROUTES = _routes()


@dataclass
class Caller:
    """Who is calling: key mode, restriction and the account the request acts on."""

    key: str
    mode: str
    restricted: bool
    account: StripeAccountData


class StripeApi:
    """Serves ``/stripe/v1/...``.

    Args:
        seed: Run seed.
        scales: Object counts.
        clock: Sandbox clock.
        limiter: Shared rate limiter.
    """

    name = "stripe"

    def __init__(self, seed: int, scales: Scales, clock: Clock, limiter: RateLimiter) -> None:
        self._seed = seed
        self._scales = scales
        self._clock = clock
        self._limiter = limiter
        self._accounts: dict[str, StripeAccountData] = {}
        # Connected accounts are generated on first use, but as of the start time, so their data does not
        # depend on when a client first asks (or on clock changes before that).
        self._start = clock.now_int()
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)
        self._handlers: dict[str, Callable[[ApiRequest, Caller, Route, dict[str, str]], ApiResponse]] = {
            "list": self._list,
            "retrieve": self._retrieve,
            "search": self._search,
            "events": self._events,
            "event": self._event,
            "account": self._account,
            "accounts": self._accounts_list,
        }
        self.account(creds.STRIPE_PLATFORM_ACCOUNT)

    def account(self, account_id: str) -> StripeAccountData:
        """The data of one account, generated on first use (connected accounts cost nothing until used)."""
        data = self._accounts.get(account_id)
        if data is None:
            with self._lock:
                data = self._accounts.get(account_id)
                if data is None:
                    slot = creds.STRIPE_ACCOUNTS.index(account_id)
                    data = StripeAccountData(
                        self._seed, account_id, slot, self._clock.now_int(), self._scales
                    )
                    self._accounts[account_id] = data
        return data

    def _account_for_control(self, account: str | None) -> StripeAccountData:
        account_id = account or creds.STRIPE_PLATFORM_ACCOUNT
        if account_id not in creds.STRIPE_ACCOUNTS:
            raise KeyError(f"unknown Stripe account {account_id!r}; use one of {list(creds.STRIPE_ACCOUNTS)}")
        return self.account(account_id)

    def control_objects(self, resource: str, account: str | None) -> list[JsonObject]:
        """All current objects of a resource (``events`` included, retention ignored)."""
        data = self._account_for_control(account)
        if resource == "events":
            return list(data.events.objects())
        if resource not in data.collections:
            raise KeyError(f"unknown Stripe resource {resource!r}")
        return list(data.collections[resource].objects())

    def control_create(self, resource: str, fields: dict[str, Any], account: str | None) -> JsonObject:
        """Create an object (emits its created event)."""
        return self._account_for_control(account).create(resource, fields, self._clock.now_int())

    def control_update(
        self, resource: str, object_id: str, fields: dict[str, Any], account: str | None
    ) -> JsonObject:
        """Update an object (emits its updated event with ``previous_attributes``)."""
        return self._account_for_control(account).update(resource, object_id, fields, self._clock.now_int())

    def control_delete(self, resource: str, object_id: str, account: str | None) -> JsonObject:
        """Delete an object (emits its deleted event)."""
        return self._account_for_control(account).delete(resource, object_id, self._clock.now_int())

    # Entry points -----------------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request."""
        response = self._handle(request)
        response.headers.append(("Request-Id", f"req_sandbox{next(self._request_ids):010d}"))
        response.headers.append(("Stripe-Version", request.headers.get("stripe-version", API_VERSION)))
        if "stripe-account" in request.headers:
            response.headers.append(("Stripe-Account", request.headers["stripe-account"]))
        return response

    def error(self, status: int, retry_after: int) -> ApiResponse:
        """An injected 5xx or 429 in Stripe's shape."""
        if status == 429:
            return self._rate_limited(retry_after)
        return stripe_error(status, "An unknown error occurred, please try again later.", "api_error")

    def _rate_limited(self, retry_after: int) -> ApiResponse:
        return stripe_error(
            429, RATE_LIMIT_MESSAGE, code="rate_limit", headers=[("Retry-After", str(retry_after))]
        )

    def _handle(self, request: ApiRequest) -> ApiResponse:
        key = api_key(request.headers.get("authorization", ""))
        if key is None:
            return stripe_error(401, NO_KEY_MESSAGE)
        if key not in KEYS:
            return stripe_error(401, f"Invalid API Key provided: {creds.mask_stripe_key(key)}")
        mode, restricted = KEYS[key]
        account_id = request.headers.get("stripe-account", creds.STRIPE_PLATFORM_ACCOUNT)
        if account_id not in creds.STRIPE_ACCOUNTS:
            return stripe_error(
                403,
                f"The provided key '{creds.mask_stripe_key(key)}' does not have access to account "
                f"'{account_id}' (or that account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        route, params = _match(request.path)
        if route is None or request.method != "GET":
            return stripe_error(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). "
                "The sandbox serves reads only; change data through /_control.",
            )
        retry_after = self._limiter.check(self._limits(account_id, mode, route))
        if retry_after is not None:
            return self._rate_limited(retry_after)
        if restricted and route.row is not None and route.row.restricted:
            return stripe_error(
                403,
                f"The provided key '{creds.STRIPE_RESTRICTED_KEY_MASKED}' does not have the required "
                f"permissions for this endpoint on account '{account_id}'. Having the "
                f"'{route.row.permission}' permission would allow this request to continue.",
            )
        caller = Caller(key, mode, restricted, self.account(account_id))
        try:
            return self._handlers[route.kind](request, caller, route, params)
        except StripeParamError as error:
            return stripe_error(400, error.message, code=error.code, param=error.param)

    def _limits(self, account_id: str, mode: str, route: Route) -> list[Limit]:
        """Per account and mode: 100/s live or 25/s test overall; 25/s per endpoint; 20/s search and files."""
        base = f"stripe:{account_id}:{mode}"
        overall = Limit(base, 100 if mode == "live" else 25)
        if route.kind == "search":
            return [overall, Limit(base + ":search", 20)]
        if route.row is not None and route.row.rate_group:
            return [overall, Limit(f"{base}:{route.row.rate_group}", 20)]
        return [overall, Limit(f"{base}:{route.template}", 25)]

    # Handlers ---------------------------------------------------------------------------------------

    def _list(self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]) -> ApiResponse:
        row = route.row
        assert row is not None
        query = normalise(request.query)
        allowed = LIST_PARAMS | set(row.filters)
        if row.created_filter:
            allowed |= set(CREATED_KEYS)
        if row.parent_param:
            allowed.add(row.parent_param)
        check_known(query, allowed)
        collection = caller.account.collections[row.name]
        filters = {name: values for name, values in query.items() if name in row.filters}
        parent_id = params.get("parent")
        if row.parent_param:
            parent_id = query.get(row.parent_param, [None])[0]
            if not parent_id:
                raise StripeParamError(f"Missing required param: {row.parent_param}.", row.parent_param)
        if parent_id is not None and route.template == row.alt_path and row.alt_field:
            filters[row.alt_field] = [parent_id]
            parent_id = None
        if parent_id is not None and row.parent is not None:
            parents = caller.account.collections[row.parent]
            if parents.get(parent_id) is None:
                parent_object = next(r.object for r in STRIPE_RESOURCES if r.name == row.parent)
                return stripe_error(
                    404, f"No such {parent_object}: '{parent_id}'", code="resource_missing", param="id"
                )
            order = collection.children(parent_id)
            if filters:
                allowed_ids = {key[1] for key in order}
                predicate = filter_predicate(filters, ())
                order = collection.view(
                    ("children", parent_id, _spec(filters)),
                    lambda object_id, obj: object_id in allowed_ids and predicate(object_id, obj),
                )
        elif filters or row.hidden_statuses:
            order = collection.view(_spec(filters), filter_predicate(filters, row.hidden_statuses))
        else:
            order = collection.order()
        low, high = created_range(query) if row.created_filter else (None, None)
        url = request.path
        return self._page(query, caller, collection.name, order, low, high, url, row.object)

    def _page(
        self,
        query: dict[str, list[str]],
        caller: Caller,
        resource: str,
        order: list[SortKey],
        low: int | None,
        high: int | None,
        url: str,
        object_name: str,
    ) -> ApiResponse:
        """Cut a page and serialise it from cached object bytes."""
        limit = limit_of(query)
        collection = caller.account.events if resource == "events" else caller.account.collections[resource]
        after_id = query.get("starting_after", [None])[0]
        before_id = query.get("ending_before", [None])[0]
        if after_id and before_id:
            raise StripeParamError(
                "You may only specify one of these parameters: ending_before, starting_after."
            )
        cursors: dict[str, SortKey | None] = {}
        for name, cursor_id in (("starting_after", after_id), ("ending_before", before_id)):
            if cursor_id:
                key = collection.key_of(cursor_id)
                if key is None:
                    raise StripeParamError(f"No such {object_name}: '{cursor_id}'", name, "resource_missing")
                cursors[name] = key
        page = paginate(
            order,
            limit,
            primary_min=None if high is None else order_value(high, TICKS - 1),
            primary_max=None if low is None else order_value(low),
            after=cursors.get("starting_after"),
            before=cursors.get("ending_before"),
        )
        expansions = [path[5:] for path in query.get("expand", []) if path.startswith("data.")]
        if expansions:
            items = [
                dumps(expand(obj, expansions, caller.account.find))
                for object_id in page.ids
                if (obj := collection.get(object_id)) is not None
            ]
        else:
            items = [collection.json_of(object_id) for object_id in page.ids]
        body = b"".join(
            (
                b'{"object":"list","data":[',
                b",".join(items),
                b'],"has_more":',
                b"true" if page.has_more else b"false",
                b',"url":',
                dumps(url),
                b"}",
            )
        )
        return ApiResponse(200, body)

    def _retrieve(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        row = route.row
        assert row is not None
        query = normalise(request.query)
        check_known(query, {"expand"})
        collection = caller.account.collections[row.name]
        object_id = params["id"]
        obj = collection.get(object_id)
        if obj is None:
            if collection.was_deleted(object_id) and row.events[2]:
                return json_response(200, {"id": object_id, "object": row.object, "deleted": True})
            return stripe_error(
                404, f"No such {row.object}: '{object_id}'", code="resource_missing", param="id"
            )
        if query.get("expand"):
            return json_response(200, expand(obj, query["expand"], caller.account.find))
        return ApiResponse(200, collection.json_of(object_id))

    def _search(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        row = route.row
        assert row is not None
        query = normalise(request.query)
        check_known(query, {"query", "limit", "page", "expand"})
        text = query.get("query", [""])[0]
        if not text:
            raise StripeParamError("Missing required param: query.", "query", "parameter_missing")
        try:
            predicate = stripe_search.parse(text, row.search_fields, row.name)
        except stripe_search.SearchQueryError as error:
            raise StripeParamError(str(error), "query") from None
        limit = limit_of(query)
        offset = page_offset(query.get("page", [None])[0], text)
        collection = caller.account.collections[row.name]
        matches = collection.view(("search", text), lambda _id, obj: predicate(obj))
        ids = [key[1] for key in matches[offset : offset + limit]]
        has_more = offset + limit < len(matches)
        token = page_token(offset + limit, text) if has_more else None
        body = b"".join(
            (
                b'{"object":"search_result","data":[',
                b",".join(collection.json_of(object_id) for object_id in ids),
                b'],"has_more":',
                b"true" if has_more else b"false",
                b',"next_page":',
                dumps(token),
                b',"url":',
                dumps(route.template),
                b"}",
            )
        )
        return ApiResponse(200, body)

    def _events(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        query = normalise(request.query)
        check_known(query, LIST_PARAMS | set(CREATED_KEYS) | {"type", "types", "delivery_success"})
        types = query.get("types", [])
        if types and "type" in query:
            raise StripeParamError("You may only specify one of these parameters: type, types.", "types")
        if len(types) > 20:
            raise StripeParamError(
                f"Invalid array: types can have at most 20 elements; you passed {len(types)}.", "types"
            )
        events = caller.account.events
        if types:
            wanted = frozenset(types)
            order = events.view(("types", wanted), lambda _id, obj: obj["type"] in wanted)
        elif "type" in query:
            pattern = re.compile("^" + re.escape(query["type"][0]).replace(r"\*", ".*") + "$")
            order = events.view(("type", pattern.pattern), lambda _id, obj: bool(pattern.match(obj["type"])))
        else:
            order = events.order()
        low, high = created_range(query)
        oldest = self._clock.now_int() - EVENT_RETENTION
        # Stripe keeps 30 days of events: older ones are never listed, whatever the filters say.
        low = oldest if low is None else max(low, oldest)
        return self._page(query, caller, "events", order, low, high, "/v1/events", "event")

    def _event(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        check_known(normalise(request.query), {"expand"})
        event = caller.account.events.get(params["id"])
        if event is None or int(event["created"]) < self._clock.now_int() - EVENT_RETENTION:
            return stripe_error(404, f"No such event: '{params['id']}'", code="resource_missing", param="id")
        return ApiResponse(200, caller.account.events.json_of(params["id"]))

    def _account(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        check_known(normalise(request.query), {"expand"})
        return json_response(200, caller.account.account_object())

    def _accounts_list(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        query = normalise(request.query)
        check_known(query, LIST_PARAMS | set(CREATED_KEYS))
        if caller.account.account != creds.STRIPE_PLATFORM_ACCOUNT:
            return json_response(
                200, {"object": "list", "data": [], "has_more": False, "url": "/v1/accounts"}
            )
        data = [self.account(account).account_object() for account in creds.STRIPE_CONNECTED_ACCOUNTS]
        return json_response(200, {"object": "list", "data": data, "has_more": False, "url": "/v1/accounts"})


def _spec(filters: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable form of the filters (the view cache key)."""
    return tuple(sorted((name, tuple(values)) for name, values in filters.items()))


def _match(path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        match = route.pattern.match(path)
        if match:
            return route, match.groupdict()
    return None, {}
