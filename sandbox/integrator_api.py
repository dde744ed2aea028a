"""The integrator.io emulator: tokens, connectors and their licenses, Link-header paging, jobs; license
writes are ``integrator_writes``'s."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import credentials as creds
from sandbox import integrator_writes
from sandbox.clock import Clock, parse_iso
from sandbox.faults import Limit, RateLimiter
from sandbox.integrator_data import IntegratorData
from sandbox.integrator_writes import integrator_error
from sandbox.seed import EmailPool, Scales
from sandbox.store import JsonObject, SortKey, decode_token, encode_token, paginate
from sandbox.wire import ApiRequest, ApiResponse, json_response

TOKENS = {creds.INTEGRATOR_TOKEN: "full", creds.INTEGRATOR_LIMITED_TOKEN: "limited"}
# Celigo's jobs list: at most 1,001 jobs an answer, and a parent-jobs query needs one of these filters.
JOBS_CAP = 1001
_JOB_FILTERS = ("_flowId", "_integrationId", "_exportId", "_importId", "_flowJobId", "status", "type")
PARENT_JOB_FILTERS = (
    "_integrationId",
    "_flowId",
    "_exportId",
    "_importId",
    "_flowJobId",
    "createdAt_gte",
    "createdAt_lte",
)


@dataclass(frozen=True)
class IntegratorList:
    """One paged list (a row of the integrator.io table).

    Attributes:
        resource: Collection name.
        pattern: Path regex; ``parent`` names the connector for child lists.
        parent: Whether items are children of a connector.
    """

    resource: str
    pattern: re.Pattern[str]
    parent: bool = False


INTEGRATOR_LISTS = (
    IntegratorList("connectors", re.compile(r"^/v1/connectors$")),
    IntegratorList("licenses", re.compile(r"^/v1/connectors/(?P<parent>[^/]+)/licenses$"), parent=True),
    IntegratorList(
        "install_base", re.compile(r"^/v1/connectors/(?P<parent>[^/]+)/installBase$"), parent=True
    ),
    IntegratorList("integrations", re.compile(r"^/v1/integrations$")),
    IntegratorList("flows", re.compile(r"^/v1/flows$")),
)
RETRIEVE = re.compile(r"^/v1/(?P<resource>connectors|integrations|flows|jobs)/(?P<id>[^/]+)$")


class IntegratorApi:
    """Serves ``/integrator/v1/...``.

    Args:
        seed: Run seed.
        scales: Object counts.
        clock: Sandbox clock.
        limiter: Shared rate limiter.
        page_size: Items per page before a ``Link: rel="next"`` header.
    """

    name = "integrator"

    def __init__(self, seed: int, scales: Scales, clock: Clock, limiter: RateLimiter, page_size: int) -> None:
        pool = EmailPool(scales.get("stripe", "customers"), scales.get("orb", "customers"))
        self.data = IntegratorData(seed, clock.now_int(), scales, pool)
        self.page_size = max(1, page_size)
        self._clock = clock
        self._limiter = limiter
        self._writes = integrator_writes.IntegratorWrites(self.data, clock.now_int)
        # Control calls run on server threads; one at a time keeps seeding state and ids consistent.
        self._control_lock = threading.Lock()

    # Entry points -----------------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        scope = TOKENS.get(token.strip()) if scheme.lower() == "bearer" else None
        if scope is None:
            if request.path == "/v1/tokenInfo":
                # The real API answers this endpoint's 401 with a bare message, the others with errors[].
                return json_response(401, {"message": "Unauthorized"})
            return integrator_error(401, "unauthorized", "Bearer Authentication Failed")
        retry_after = self._limiter.check([Limit(f"integrator:{token.strip()}", 300, burst=1000)])
        if retry_after is not None:
            return self.error(429, retry_after)
        if scope == "limited" and request.path.startswith("/v1/connectors"):
            return integrator_error(
                403, "forbidden", "Connector endpoints need a full-access token of the publishing account."
            )
        if integrator_writes.handles(request):
            with self._control_lock:  # ids and the store change as under the control API
                return self._writes.handle(request)
        if request.method != "GET":
            return integrator_error(
                405, "method_not_allowed", f"{request.method} is not supported by the sandbox."
            )
        if request.path == "/v1/tokenInfo":
            return json_response(200, {"_userId": self.data.user_id, "scope": scope})
        if request.path == "/v1/jobs":
            return self._jobs(request)
        for row in INTEGRATOR_LISTS:
            match = row.pattern.match(request.path)
            if match:
                return self._list(row, request, match.groupdict().get("parent"))
        match = RETRIEVE.match(request.path)
        if match:
            collection = self.data.collections[match.group("resource")]
            if collection.get(match.group("id")) is not None:
                return ApiResponse(200, collection.json_of(match.group("id")))
            return integrator_error(404, "not_found", f"Object not found: {match.group('id')}")
        return integrator_error(404, "not_found", f"Not found: {request.path}")

    def error(self, status: int, retry_after: int) -> ApiResponse:
        """An injected 5xx or 429 in integrator.io's shape."""
        if status == 429:
            return integrator_error(
                429, "rate_limited", "Too many requests; retry later.", [("Retry-After", str(retry_after))]
            )
        return integrator_error(status, "internal_error", "Something went wrong; please retry.")

    def control_objects(self, resource: str, account: str | None) -> list[JsonObject]:
        """All current objects of a resource (licenses and install base across all connectors)."""
        return list(self.data._collection(resource).objects())

    def control_create(self, resource: str, fields: dict[str, Any], account: str | None) -> JsonObject:
        """Create an object."""
        with self._control_lock:
            return self.data.create(resource, fields, self._clock.now_int())

    def control_update(
        self, resource: str, object_id: str, fields: dict[str, Any], account: str | None
    ) -> JsonObject:
        """Update an object."""
        with self._control_lock:
            return self.data.update(resource, object_id, fields)

    def control_delete(self, resource: str, object_id: str, account: str | None) -> JsonObject:
        """Delete an object."""
        with self._control_lock:
            return self.data.delete(resource, object_id)

    # Handlers ---------------------------------------------------------------------------------------

    def _list(self, row: IntegratorList, request: ApiRequest, parent: str | None) -> ApiResponse:
        collection = self.data.collections[row.resource]
        if parent is not None:
            if self.data.collections["connectors"].get(parent) is None:
                return integrator_error(404, "not_found", f"Connector not found: {parent}")
            order = collection.children(parent)
        else:
            order = collection.order()
        cursor = request.first("cursor")
        after: SortKey | None = None
        if cursor:
            decoded = _decode(cursor)
            if decoded is None or decoded[0] != request.path:
                return integrator_error(400, "invalid_cursor", "The cursor is not valid for this list.")
            after = decoded[1]
        page = paginate(order, self.page_size, after=after)
        if not page.ids:
            return ApiResponse(204)
        body = b"[" + b",".join(collection.json_of(object_id) for object_id in page.ids) + b"]"
        headers: list[tuple[str, str]] = []
        if page.has_more:
            token = _encode(request.path, collection.key_of(page.ids[-1]))
            # Absolute, from the request's Host and prefix, so a client following it stays on the sandbox.
            headers.append(
                ("Link", f'<http://{request.host}{request.prefix}{request.path}?cursor={token}>; rel="next"')
            )
        return ApiResponse(200, body, headers)

    def _jobs(self, request: ApiRequest) -> ApiResponse:
        """Newest first, at most 1,001 and no Link header: clients page back with ``createdAt_lte``.

        A query for parent jobs (all jobs the sandbox has) must name one of ``PARENT_JOB_FILTERS``, as
        Celigo's API reference requires, else 400 ``invalid_query``.
        """
        if not any(request.first(name) for name in PARENT_JOB_FILTERS):
            return integrator_error(
                400,
                "invalid_query",
                "For parent jobs, query parameters must contain either "
                + ", ".join(PARENT_JOB_FILTERS[:-1])
                + f" or {PARENT_JOB_FILTERS[-1]}.",
            )
        collection = self.data.collections["jobs"]
        checks: list[Callable[[JsonObject], bool]] = []
        spec: list[Any] = []
        for name, op in (("createdAt_gte", "gte"), ("createdAt_lte", "lte")):
            value = request.first(name)
            if value:
                try:
                    bound = parse_iso(value)
                except ValueError:
                    return integrator_error(
                        400,
                        "invalid_date",
                        f"{name} must be an ISO 8601 date",
                    )
                checks.append(_created_check(op, bound))
                spec.append((name, value))
        for name in _JOB_FILTERS:
            value = request.first(name)
            if value:
                checks.append(_field_equals(name, value))
                spec.append((name, value))
        order = collection.view(("jobs", *spec), lambda _id, obj: all(check(obj) for check in checks))
        ids = [key[1] for key in order[:JOBS_CAP]]
        if not ids:
            return ApiResponse(204)
        return ApiResponse(200, b"[" + b",".join(collection.json_of(object_id) for object_id in ids) + b"]")


def _field_equals(name: str, value: str) -> Callable[[JsonObject], bool]:
    return lambda obj: obj.get(name) == value


def _created_check(op: str, bound: float) -> Callable[[JsonObject], bool]:
    if op == "gte":
        return lambda obj: parse_iso(obj["createdAt"]) >= bound
    return lambda obj: parse_iso(obj["createdAt"]) <= bound


def _encode(path: str, key: SortKey | None) -> str:
    return encode_token({"p": path, "k": list(key) if key else None})


def _decode(token: str) -> tuple[str, SortKey] | None:
    try:
        data = decode_token(token)
        primary, object_id = data["k"]
        return str(data["p"]), (int(primary), str(object_id))
    except (ValueError, KeyError, TypeError):
        return None
