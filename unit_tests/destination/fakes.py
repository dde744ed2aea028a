"""Small stateful fakes of the three APIs' write endpoints, on requests_mock, and builders for configs,
catalogs and input messages.

Each fake keeps its objects, answers GET, POST, PUT and DELETE as the vendor documents, and logs every
request (method, path, body, headers), so tests assert on what was sent. `faults` lets a test make the
next matching request fail, before or after the fake applied it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import requests
import requests_mock
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    StreamDescriptor,
    SyncMode,
    Type,
)
from airbyte_cdk.models.airbyte_protocol import AirbyteStateBlob, AirbyteStream

INTEGRATOR_BASE = "https://api.integrator.io"
STRIPE_BASE = "https://api.stripe.com"
ORB_BASE = "https://api.withorb.com"
INTEGRATOR_TOKEN = "iotoken-secret-0123456789"
STRIPE_KEY = "sk_test_secret0123456789"
ORB_KEY = "orbkey-secret-0123456789"
SECRETS = (INTEGRATOR_TOKEN, STRIPE_KEY, ORB_KEY)


@dataclass(frozen=True)
class Sent:
    """One request a fake received."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    body: Any
    headers: Mapping[str, str]


@dataclass
class Fault:
    """Make the next request matching `method` and `path` (a regex) fail: `status` answered, or
    `exception` raised, before the fake applies it or, with `after_applying`, once it has; the first
    `skip` matching requests pass."""

    method: str
    path: str
    status: int | None = None
    exception: type[Exception] | None = None
    after_applying: bool = False
    skip: int = 0


@dataclass
class FakeApi:
    """What the three fakes share: the request log, faults, and the requests_mock wiring."""

    base: str
    sent: list[Sent] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def install(self, mock: requests_mock.Mocker) -> None:
        mock.register_uri(requests_mock.ANY, re.compile(re.escape(self.base) + "/.*"), text=self._respond)

    def writes(self) -> list[Sent]:
        return [request for request in self.sent if request.method != "GET"]

    def _respond(self, request: requests.PreparedRequest, context: Any) -> str:
        parts = urlsplit(request.url)
        body = self.parse_body(request)
        sent = Sent(request.method or "", parts.path, parse_qs(parts.query), body, dict(request.headers))
        self.sent.append(sent)
        fault = next(
            (f for f in self.faults if f.method == sent.method and re.fullmatch(f.path, sent.path)), None
        )
        if fault is not None and fault.skip > 0:
            fault.skip -= 1
        elif fault is not None:
            self.faults.remove(fault)
            if fault.after_applying:
                self.handle(sent)
            if fault.exception is not None:
                raise fault.exception("injected fault")
            context.status_code = fault.status
            return json.dumps({"error": {"message": "injected fault"}})
        status, answer, headers = self.handle(sent)
        context.status_code = status
        context.headers.update(headers)
        return "" if answer is None else json.dumps(answer)

    def parse_body(self, request: requests.PreparedRequest) -> Any:
        if not request.body:
            return None
        text = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        return json.loads(text)

    def handle(self, sent: Sent) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError


# --- integrator.io ------------------------------------------------------------------------------------


@dataclass
class FakeIntegratorIo(FakeApi):
    """Connectors' licenses: `GET` pages of `page_size` with a `Link` header; `POST` needs a known user's
    e-mail (else 422 `invalid_user`); `PUT` changes `expires`/`trialEndDate`/`opts`; `DELETE` removes."""

    base: str = INTEGRATOR_BASE
    licenses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    page_size: int = 100
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def add(self, connector_id: str, email: str, expires: str | None = None, **extra: Any) -> dict[str, Any]:
        self.users.add(email)
        license_ = {
            "_id": f"lic{next(self._ids)}",
            "_connectorId": connector_id,
            "user": {"email": email, "_id": f"user-{email}"},
            "expires": expires,
            "created": "2026-01-01T00:00:00.000Z",
            **extra,
        }
        self.licenses.setdefault(connector_id, []).append(license_)
        return license_

    def of(self, connector_id: str, email: str) -> dict[str, Any] | None:
        return next(
            (item for item in self.licenses.get(connector_id, []) if item["user"]["email"] == email), None
        )

    def handle(self, sent: Sent) -> tuple[int, Any, dict[str, str]]:
        match = re.fullmatch(r"/v1/connectors/([^/]+)/licenses(?:/([^/]+))?", sent.path)
        if match is None:
            return 404, {"errors": [{"code": "not_found", "message": "Not found"}]}, {}
        connector_id, license_id = match.groups()
        listed = self.licenses.setdefault(connector_id, [])
        if sent.method == "GET" and license_id is None:
            page = int(sent.query.get("page", ["1"])[0])
            chunk = listed[(page - 1) * self.page_size : page * self.page_size]
            headers = {}
            if page * self.page_size < len(listed):
                next_url = f"{self.base}/v1/connectors/{connector_id}/licenses?page={page + 1}"
                headers["Link"] = f'<{next_url}>; rel="next"'
            return (200, chunk, headers) if chunk else (204, None, {})
        if sent.method == "POST":
            email = (sent.body or {}).get("email")
            if not email:
                return (
                    422,
                    {"errors": [{"code": "missing_required_field", "message": "email is required"}]},
                    {},
                )
            if email not in self.users:
                message = f"No integrator.io user has the e-mail {email}."
                return 422, {"errors": [{"code": "invalid_user", "message": message}]}, {}
            created = self.add(connector_id, email, **{k: v for k, v in sent.body.items() if k != "email"})
            return 201, created, {}
        found = next((item for item in listed if item["_id"] == license_id), None)
        if found is None:
            return 404, {"errors": [{"code": "not_found", "message": "License not found"}]}, {}
        if sent.method == "PUT":
            found.update(
                {k: v for k, v in (sent.body or {}).items() if k in ("expires", "trialEndDate", "opts")}
            )
            return 200, found, {}
        if sent.method == "DELETE":
            listed.remove(found)
            return 204, None, {}
        return 200, found, {}


# --- Stripe ---------------------------------------------------------------------------------------------


@dataclass
class FakeStripe(FakeApi):
    """Customers (with Search on metadata), subscriptions, products, prices (by `lookup_keys[]`) and
    coupons; form-encoded bodies; a POST's `Idempotency-Key` replays its first answer."""

    base: str = STRIPE_BASE
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    replays: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def parse_body(self, request: requests.PreparedRequest) -> Any:
        if not request.body:
            return None
        text = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        return dict(parse_qsl(text, keep_blank_values=True))

    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def handle(self, sent: Sent) -> tuple[int, Any, dict[str, str]]:
        key = sent.headers.get("Idempotency-Key")
        if sent.method == "POST" and key in self.replays:
            status, answer = self.replays[key]
            return status, answer, {"Idempotent-Replayed": "true"}
        status, answer = self._route(sent)
        if sent.method == "POST" and key:
            self.replays[key] = (status, answer)
        return status, answer, {}

    def _route(self, sent: Sent) -> tuple[int, Any]:
        parts = sent.path.removeprefix("/v1/").split("/")
        kind, object_id = parts[0], parts[1] if len(parts) > 1 else None
        store = self.objects.setdefault(kind, {})
        if object_id == "search":
            match = re.fullmatch(r"metadata\['(\w+)'\]:'(.*)'", sent.query["query"][0])
            if match is None:
                return 200, {
                    "data": [],
                    "total_count": sum(o.get("status") != "canceled" for o in store.values()),
                }
            name, value = match.groups()
            found = [o for o in store.values() if (o.get("metadata") or {}).get(name) == value]
            return 200, {"data": found, "has_more": False}
        if sent.method == "GET" and object_id is None:
            wanted = sent.query.get("lookup_keys[]", [])
            return 200, {
                "data": [o for o in store.values() if o.get("lookup_key") in wanted],
                "has_more": False,
            }
        if object_id is None:  # create
            obj = {"id": sent.body.get("id") or f"{kind[:3]}_{next(self._ids)}", "object": kind[:-1]}
            return 200, self.put(kind, {**obj, **unflatten(sent.body)})
        obj = store.get(object_id)
        if obj is None:
            return 404, {
                "error": {"message": f"No such {kind[:-1]}: '{object_id}'", "code": "resource_missing"}
            }
        if sent.method == "GET":
            return 200, obj
        if sent.method == "DELETE":
            obj["status"] = "canceled"
            return 200, obj
        changes = unflatten(sent.body)
        if "metadata" in changes:
            changes["metadata"] = {**(obj.get("metadata") or {}), **changes["metadata"]}
        if "items" in changes:
            item = obj["items"]["data"][0]
            update = changes.pop("items")["0"]
            if "price" in update:
                item["price"] = {"id": update["price"]}
            if "quantity" in update:
                item["quantity"] = int(update["quantity"])
        obj.update(changes)
        return 200, obj


def unflatten(form: Mapping[str, str]) -> dict[str, Any]:
    """Stripe's form fields (`metadata[plan]=pro`, `items[0][price]=p`) as nested objects (lists as dicts
    keyed by index); numbers and booleans stay strings unless plainly numeric."""
    nested: dict[str, Any] = {}
    for name, value in form.items():
        keys = re.findall(r"[^\[\]]+", name)
        target = nested
        for part in keys[:-1]:
            target = target.setdefault(part, {})
        target[keys[-1]] = int(value) if value.isdigit() else value
    return nested


def subscription(subscription_id: str, price: str, quantity: int, status: str = "active") -> dict[str, Any]:
    item = {"id": f"si_{subscription_id}", "price": {"id": price}, "quantity": quantity}
    return {"id": subscription_id, "object": "subscription", "status": status, "items": {"data": [item]}}


# --- Orb ------------------------------------------------------------------------------------------------


@dataclass
class FakeOrb(FakeApi):
    """Licenses (list by subscription, create, deactivate) and customers by external id."""

    base: str = ORB_BASE
    licenses: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def add_license(
        self, subscription_id: str, license_type_id: str, external_id: str, status: str = "active"
    ) -> None:
        self.licenses.append(
            {
                "id": f"lic_{next(self._ids)}",
                "subscription_id": subscription_id,
                "license_type_id": license_type_id,
                "external_license_id": external_id,
                "status": status,
                "start_date": "2026-01-01T00:00:00Z",
                "end_date": None,
            }
        )

    def handle(self, sent: Sent) -> tuple[int, Any, dict[str, str]]:
        path = sent.path.removeprefix("/v1/")
        if path == "licenses" and sent.method == "GET":
            subscription_id = sent.query["subscription_id"][0]
            found = [item for item in self.licenses if item["subscription_id"] == subscription_id]
            return 200, {"data": found, "pagination_metadata": {"has_more": False, "next_cursor": None}}, {}
        if path == "licenses" and sent.method == "POST":
            self.add_license(
                sent.body["subscription_id"], sent.body["license_type_id"], sent.body["external_license_id"]
            )
            return 201, self.licenses[-1], {}
        if match := re.fullmatch(r"licenses/([^/]+)/deactivate", path):
            found = next(item for item in self.licenses if item["id"] == match.group(1))
            found["status"] = "inactive"
            return 200, found, {}
        if match := re.fullmatch(r"customers/external_customer_id/([^/]+)", path):
            customer = self.customers.get(match.group(1))
            if customer is None:
                return 404, {"type": "not_found", "status": 404, "title": "Customer not found"}, {}
            if sent.method == "PUT":
                customer.update(sent.body)
            return 200, customer, {}
        if path == "customers" and sent.method == "POST":
            self.customers[sent.body["external_customer_id"]] = {"id": "cus_orb", **sent.body}
            return 201, self.customers[sent.body["external_customer_id"]], {}
        return 404, {"type": "not_found", "status": 404, "title": "Not found"}, {}


# --- configs, catalogs and messages ---------------------------------------------------------------------


def config(**settings: Any) -> dict[str, Any]:
    """All three APIs, with rate limits high enough that the budget never waits in a test."""
    return {
        "integrator_io": {"api_token": INTEGRATOR_TOKEN},
        "stripe": {"client_secret": STRIPE_KEY, "requests_per_second": 10_000},
        "orb": {"api_key": ORB_KEY},
        "max_retire_share": 1,
        **settings,
    }


def catalog(*streams: tuple[str, str, DestinationSyncMode]) -> ConfiguredAirbyteCatalog:
    """Configured streams: (stream name, destination object name, sync mode)."""
    return ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=AirbyteStream(name=name, json_schema={}, supported_sync_modes=[SyncMode.full_refresh]),
                sync_mode=SyncMode.full_refresh,
                destination_sync_mode=mode,
                destination_object_name=object_name,
            )
            for name, object_name, mode in streams
        ]
    )


def record(stream: str, **data: Any) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data=data, emitted_at=0)
    )


def state(stream: str, position: int) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(
                stream_descriptor=StreamDescriptor(name=stream),
                stream_state=AirbyteStateBlob({"position": position}),
            ),
        ),
    )


def positions(messages: Iterable[AirbyteMessage]) -> list[int]:
    """The positions of the STATE messages among `messages`."""
    found = []
    for message in messages:
        if message.type == Type.STATE and message.state is not None and message.state.stream is not None:
            found.append(message.state.stream.stream_state.position)  # type: ignore[union-attr]
    return found


def write(
    destination_config: Mapping[str, Any],
    configured: ConfiguredAirbyteCatalog,
    messages: Iterable[AirbyteMessage],
    on_output: Callable[[AirbyteMessage], None] | None = None,
) -> list[AirbyteMessage]:
    """Run a write and collect what it outputs (`on_output` sees each message as it is yielded)."""
    from destination_billing import DestinationBilling

    out = []
    for message in DestinationBilling().write(destination_config, configured, list(messages)):
        if on_output is not None:
            on_output(message)
        out.append(message)
    return out
