"""The Stripe emulator: auth, Connect accounts, routing, lists, retrieve, search, events, rate limits; the
writes ``destination-billing`` sends are ``stripe_writes``'s."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from sandbox import credentials as creds
from sandbox import stripe_metering, stripe_search, stripe_writes
from sandbox.clock import Clock
from sandbox.faults import Limit, RateLimiter
from sandbox.seed import Scales
from sandbox.store import Collection, SortKey, paginate
from sandbox.stripe_accounts import StripeAccounts
from sandbox.stripe_data import EVENT_RETENTION, TICKS, StripeAccountData, order_value
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
from sandbox.stripe_versions import render, renders_differently, shape_of
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
    """Who is calling: key mode, restriction, the account the request acts on and the API version
    (``Stripe-Version``, else the account's default) its objects are rendered in."""

    key: str
    mode: str
    restricted: bool
    account: StripeAccountData
    version: str


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
        self._writes = stripe_writes.StripeWrites(clock.now_int)
        self._handlers: dict[str, Callable[[ApiRequest, Caller, Route, dict[str, str]], ApiResponse]] = {
            "list": self._list,
            "retrieve": self._retrieve,
            "search": self._search,
            "events": self._events,
            "event": self._event,
            "account": self._account,
            "event_summaries": self._event_summaries,
            "write": self._write,
        }

    # Entry points -----------------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request."""
        response = self._handle(request)
        response.headers.append(("Request-Id", f"req_sandbox{next(self._request_ids):010d}"))
        if not any(name == "Stripe-Version" for name, _ in response.headers):
            # Answers refused before the account is known name the version asked for or the platform's.
            version = request.headers.get("stripe-version") or self.platform.history.at(self._clock.now_int())
            response.headers.append(("Stripe-Version", version))
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
        write, params = stripe_writes.match_write(request.method, request.path)
        route, params = (write.route, params) if write is not None else match(request.path)
        if route is None or (request.method != "GET" and write is None):
            return stripe_error(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). "
                "The sandbox serves reads and the writes of destination-billing; change other data through "
                "/_control.",
            )
        retry_after = self._limiter.check(self._limits(account_id, mode, route))
        if retry_after is not None:
            return self._rate_limited(retry_after)
        # The sandbox's restricted key reads some resources and writes none.
        if restricted and route.row is not None and (route.row.restricted or write is not None):
            permission = f"rak_{route.row.object}_write" if write is not None else route.row.permission
            return stripe_error(
                403,
                f"The provided key '{creds.STRIPE_RESTRICTED_KEY_MASKED}' does not have the required "
                f"permissions for this endpoint on account '{account_id}'. Having the "
                f"'{permission}' permission would allow this request to continue.",
            )
        data = self.account(account_id)
        version = request.headers.get("stripe-version") or data.history.at(self._clock.now_int())
        caller = Caller(key, mode, restricted, data, version)
        try:
            response = self._handlers[route.kind](request, caller, route, params)
        except StripeParamError as error:
            response = stripe_error(400, error.message, code=error.code, param=error.param)
        response.headers.append(("Stripe-Version", version))
        return response

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
        if row.name == "prices" and "lookup_keys" in query:  # the one list Stripe filters by lookup key
            check_known(query, {"lookup_keys", "active", "limit", "expand"})
            active = query.get("active", [None])[0]
            return stripe_writes.prices_by_lookup_key(caller.account, query["lookup_keys"], active)
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
            refused = self._refused(row, caller, data, scope)
            if refused is not None:
                return refused
        elif row.link_param and row.link_resource and query.get(row.link_param):
            scope = query[row.link_param][0]
            if data.collections[row.link_resource].get(scope) is None:
                link_object = RESOURCES_BY_NAME[row.link_resource].object
                raise StripeParamError(
                    f"No such {link_object}: '{scope}'", row.link_param, "resource_missing"
                )
        if scope is not None and filters:
            spec = ("children", scope, _spec(filters))
            order = collection.view(spec, filter_predicate(filters, ()), parent=scope)
        elif scope is not None:
            order = collection.children(scope)
        elif filters or row.hidden_statuses:
            order = collection.view(_spec(filters), filter_predicate(filters, row.hidden_statuses))
        else:
            order = collection.order()
        low, high = created_range(query) if row.created_filter else (None, None)
        return self._page(query, caller, data, collection, order, low, high, request.path, row.object)

    def _write(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        write, _ = stripe_writes.match_write(request.method, request.path)
        assert write is not None
        return self._writes.handle(request, write, params, caller.account)

    def _refused(
        self, row: StripeResource, caller: Caller, data: StripeAccountData, parent_id: str
    ) -> ApiResponse | None:
        """Stripe's answer instead of listing (or retrieving) children of this parent, if it has one: 404
        when the parent does not exist (or belongs to another account), else the parent's ``row.refuse``.

        An account reading its own persons and external accounts is never refused.
        """
        assert row.parent is not None
        own = parent_id == caller.account.account
        parent = data.collections[row.parent].get(parent_id)
        if row.platform_owned:
            # Persons and external accounts: an account's own, or the platform's connected accounts'.
            found = own or bool(caller.account.is_platform and parent)
        else:
            found = parent is not None
        if not found:
            parent_object = RESOURCES_BY_NAME[row.parent].object
            return stripe_error(
                404, f"No such {parent_object}: '{parent_id}'", code="resource_missing", param="id"
            )
        refusal = None if row.refuse is None or own or parent is None else row.refuse(parent)
        if refusal is None:
            return None
        status, message = refusal
        return stripe_error(status, message)

    def _json(self, collection: Collection, object_id: str, object_name: str, version: str) -> bytes:
        """An object's JSON in the caller's API version (the one place lists, retrieves and search render)."""
        if not renders_differently(object_name):
            return collection.json_of(object_id)
        return collection.rendered_json_of(object_id, shape_of(version), lambda obj: render(obj, version))

    def _page(
        self,
        query: dict[str, list[str]],
        caller: Caller,
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
                dumps(render(expand(obj, expansions, data.find, data.include), caller.version))
                for object_id in page.ids
                if (obj := collection.get(object_id)) is not None
            ]
        else:
            items = [self._json(collection, object_id, object_name, caller.version) for object_id in page.ids]
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
        data = self.platform if row.platform_owned else caller.account
        collection = data.collections[row.name]
        object_id = params["id"]
        obj = collection.get(object_id)
        parent_id = params.get("parent")
        if obj is not None and parent_id is not None:
            # A child is found under its own parent only (Connect: the caller's or its connected accounts').
            refused = self._refused(row, caller, data, parent_id)
            if refused is not None:
                return refused
            if collection.parent_of(object_id) != parent_id:
                obj = None
        if obj is None:
            if collection.was_deleted(object_id) and row.events[2]:
                return json_response(200, {"id": object_id, "object": row.object, "deleted": True})
            return stripe_error(
                404, f"No such {row.object}: '{object_id}'", code="resource_missing", param="id"
            )
        if query.get("expand"):
            expanded = expand(obj, query["expand"], data.find, data.include)
            return json_response(200, render(expanded, caller.version))
        return ApiResponse(200, self._json(collection, object_id, row.object, caller.version))

    def _search(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        row = route.row
        assert row is not None
        query = normalise(request.query)
        check_known(query, {"query", "limit", "page", "expand"})
        # `total_count` is the one field a search result expands (it costs Stripe a count).
        counted = "total_count" in query.get("expand", [])
        query["expand"] = [path for path in query.get("expand", []) if path != "total_count"]
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
                b",".join(self._json(collection, object_id, row.object, caller.version) for object_id in ids),
                b'],"has_more":',
                b"true" if has_more else b"false",
                b',"next_page":',
                dumps(token),
                b',"total_count":' + dumps(len(matches)) if counted else b"",
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
        return self._page(query, caller, caller.account, events, order, low, high, "/v1/events", "event")

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

    def _event_summaries(
        self, request: ApiRequest, caller: Caller, route: Route, params: dict[str, str]
    ) -> ApiResponse:
        """``GET /v1/billing/meters/{id}/event_summaries``: a customer's usage of a meter per window."""
        query = normalise(request.query)
        required = ("customer", "end_time", "start_time")
        check_known(query, LIST_PARAMS | set(required) | {"value_grouping_window"})
        check_expand(query, in_list=True)
        data = caller.account
        meter_id = params["parent"]
        if data.collections["billing_meters"].get(meter_id) is None:
            return stripe_error(
                404, f"No such billing.meter: '{meter_id}'", code="resource_missing", param="id"
            )
        for name in required:
            if not query.get(name, [""])[0]:
                raise StripeParamError(f"Missing required param: {name}.", name, "parameter_missing")
        customer = query["customer"][0]
        if data.collections["customers"].get(customer) is None:
            raise StripeParamError(f"No such customer: '{customer}'", "customer", "resource_missing")
        spans = stripe_metering.usage_spans(
            data.collections["subscription_items"], data.collections["subscriptions"], meter_id, customer
        )
        page, has_more = stripe_metering.event_summaries(
            query, meter_id, spans, data.ctx.tag, self._clock.now_int()
        )
        return json_response(200, {"object": "list", "data": page, "has_more": has_more, "url": request.path})


def _spec(filters: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable form of the filters (the view cache key)."""
    return tuple(sorted((name, tuple(values)) for name, values in filters.items()))
