"""The Stripe emulator: auth, Connect accounts, routing, lists, retrieve, search, events, rate limits."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from sandbox import credentials as creds
from sandbox import stripe_search
from sandbox.clock import Clock
from sandbox.faults import Limit, RateLimiter
from sandbox.seed import Scales
from sandbox.store import Collection, SortKey, paginate
from sandbox.stripe_accounts import StripeAccounts
from sandbox.stripe_data import API_VERSION, EVENT_RETENTION, TICKS, StripeAccountData, order_value
from sandbox.stripe_query import (
    CREATED_KEYS,
    StripeParamError,
    api_key,
    check_expand,
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
from sandbox.stripe_resources import RESOURCES_BY_NAME, StripeResource
from sandbox.stripe_routes import Route, match
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


@dataclass
class Caller:
    """Who is calling: key mode, restriction and the account the request acts on."""

    key: str
    mode: str
    restricted: bool
    account: StripeAccountData


class StripeApi(StripeAccounts):
    """Serves ``/stripe/v1/...`` (the accounts' data and the control API's changes: ``StripeAccounts``).

    Args:
        seed: Run seed.
        scales: Object counts.
        clock: Sandbox clock.
        limiter: Shared rate limiter.
    """

    name = "stripe"

    def __init__(self, seed: int, scales: Scales, clock: Clock, limiter: RateLimiter) -> None:
        super().__init__(seed, scales, clock)
        self._limiter = limiter
        self._request_ids = itertools.count(1)
        self._handlers: dict[str, Callable[[ApiRequest, Caller, Route, dict[str, str]], ApiResponse]] = {
            "list": self._list,
            "retrieve": self._retrieve,
            "search": self._search,
            "events": self._events,
            "event": self._event,
            "account": self._account,
        }

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
        if not self.is_known(account_id):
            return stripe_error(
                403,
                f"The provided key '{creds.mask_stripe_key(key)}' does not have access to account "
                f"'{account_id}' (or that account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        route, params = match(request.path)
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
        implied = dict(route.implied)
        allowed = LIST_PARAMS | (set(row.filters) - set(implied))
        if row.created_filter:
            allowed |= set(CREATED_KEYS)
        allowed |= {name for name in (row.parent_param, row.link_param) if name}
        check_known(query, allowed)
        check_expand(query, in_list=True)
        # Connect objects live in the platform; a connected account lists no accounts of its own.
        data = (
            self.platform
            if row.platform_owned and (row.parent or caller.account.is_platform)
            else caller.account
        )
        collection = data.collections[row.name]
        filters = {name: values for name, values in query.items() if name in row.filters}
        filters.update((name, [value]) for name, value in implied.items())
        scope = params.get("parent")
        if row.parent_param:
            scope = query.get(row.parent_param, [None])[0]
            if not scope:
                raise StripeParamError(f"Missing required param: {row.parent_param}.", row.parent_param)
        if scope is not None and route.template == row.alt_path and row.alt_field:
            filters[row.alt_field] = [scope]
            scope = None
        if scope is not None and row.parent is not None:
            missing = self._missing_parent(row, caller, data, scope)
            if missing is not None:
                return missing
        elif row.link_param and row.link_resource and query.get(row.link_param):
            scope = query[row.link_param][0]
            if data.collections[row.link_resource].get(scope) is None:
                link_object = RESOURCES_BY_NAME[row.link_resource].object
                raise StripeParamError(
                    f"No such {link_object}: '{scope}'", row.link_param, "resource_missing"
                )
        if scope is not None:
            order = collection.children(scope)
            if filters:
                allowed_ids = {key[1] for key in order}
                predicate = filter_predicate(filters, ())
                order = collection.view(
                    ("children", scope, _spec(filters)),
                    lambda object_id, obj: object_id in allowed_ids and predicate(object_id, obj),
                )
        elif filters or row.hidden_statuses:
            order = collection.view(_spec(filters), filter_predicate(filters, row.hidden_statuses))
        else:
            order = collection.order()
        low, high = created_range(query) if row.created_filter else (None, None)
        return self._page(query, data, collection, order, low, high, request.path, row.object)

    def _missing_parent(
        self, row: StripeResource, caller: Caller, data: StripeAccountData, parent_id: str
    ) -> ApiResponse | None:
        """Stripe's 404 when a child list's parent does not exist (or belongs to another account)."""
        assert row.parent is not None
        if row.platform_owned:
            # Persons and external accounts: an account's own, or the platform's connected accounts'.
            own = parent_id == caller.account.account
            if own or (caller.account.is_platform and data.collections[row.parent].get(parent_id)):
                return None
        elif data.collections[row.parent].get(parent_id) is not None:
            return None
        parent_object = RESOURCES_BY_NAME[row.parent].object
        return stripe_error(
            404, f"No such {parent_object}: '{parent_id}'", code="resource_missing", param="id"
        )

    def _page(
        self,
        query: dict[str, list[str]],
        data: StripeAccountData,
        collection: Collection,
        order: list[SortKey],
        low: int | None,
        high: int | None,
        url: str,
        object_name: str,
    ) -> ApiResponse:
        """Cut a page and serialise it from cached object bytes."""
        limit = limit_of(query)
        after_id = query.get("starting_after", [None])[0]
        before_id = query.get("ending_before", [None])[0]
        if after_id and before_id:
            raise StripeParamError(
                "You may only specify one of these parameters: ending_before, starting_after."
            )
        cursors: dict[str, SortKey | None] = {}
        for name, cursor_id in (("starting_after", after_id), ("ending_before", before_id)):
            if cursor_id:
                # A deleted object is no cursor either: Stripe answers "No such ..." for it as well.
                key = collection.key_of(cursor_id) if collection.get(cursor_id) is not None else None
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
                dumps(expand(obj, expansions, data.find, data.include))
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
        check_expand(query, in_list=False)
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
            return json_response(
                200, expand(obj, query["expand"], caller.account.find, caller.account.include)
            )
        return ApiResponse(200, collection.json_of(object_id))

    def _search(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        row = route.row
        assert row is not None
        query = normalise(request.query)
        check_known(query, {"query", "limit", "page", "expand"})
        check_expand(query, in_list=True)
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
        check_expand(query, in_list=True)
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
        return self._page(query, caller.account, events, order, low, high, "/v1/events", "event")

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
        """``GET /v1/account`` and ``GET /v1/accounts/{id}``: an account itself, or a connected account."""
        query = normalise(request.query)
        check_known(query, {"expand"})
        check_expand(query, in_list=False)
        own = caller.account.account
        wanted = params.get("id", own)
        accounts = self.platform.collections["accounts"]
        if wanted == own and caller.account.is_platform:
            return json_response(200, caller.account.account_object())
        if wanted == own or caller.account.is_platform:
            if accounts.get(wanted) is not None:
                return ApiResponse(200, accounts.json_of(wanted))
            if accounts.was_deleted(wanted):
                return json_response(200, {"id": wanted, "object": "account", "deleted": True})
        return stripe_error(404, f"No such account: '{wanted}'", code="resource_missing", param="account")


def _spec(filters: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable form of the filters (the view cache key)."""
    return tuple(sorted((name, tuple(values)) for name, values in filters.items()))
