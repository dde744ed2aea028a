"""Orb's writes that ``destination-billing`` sends: licenses and customers by external id.

Shapes and rules follow ``orb-billing`` (``orb/resources/licenses``, ``customers``):

- ``POST /v1/licenses`` (``external_license_id``, ``license_type_id``, ``subscription_id`` required;
  ``start_date`` defaults to the start of today, ``end_date`` to none): an unknown license type or
  subscription answers 404, a subscription that is not active 400, and a second active license with the same
  external id, type and subscription 400 ``duplicate-resource-creation``.
- ``POST /v1/licenses/{id}/deactivate`` (optional ``end_date``): the license becomes ``inactive``.
- ``GET``/``PUT /v1/customers/external_customer_id/{id}`` and ``POST /v1/customers`` (``email`` and
  ``name`` required; the external id is unique); metadata merges key by key, null removes a key.

A POST's ``Idempotency-Key`` replays the first answer to the same body, and a different body answers 409.
Changes go through ``OrbData`` as the control API's do, so the source's next sync reads them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from sandbox.clock import iso_z, parse_iso
from sandbox.orb_data import OrbData
from sandbox.orb_errors import OrbError, bad_request, constraint, orb_error
from sandbox.seed import DAY
from sandbox.store import JsonObject
from sandbox.wire import ApiRequest, ApiResponse, json_response

CUSTOMER_FIELDS = ("email", "name", "currency", "metadata")
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/v1/licenses$"), "create_license"),
    ("POST", re.compile(r"^/v1/licenses/(?P<id>[^/]+)/deactivate$"), "deactivate_license"),
    ("GET", re.compile(r"^/v1/customers/external_customer_id/(?P<id>[^/]+)$"), "customer_by_external_id"),
    ("PUT", re.compile(r"^/v1/customers/external_customer_id/(?P<id>[^/]+)$"), "update_customer"),
    ("POST", re.compile(r"^/v1/customers$"), "create_customer"),
)


def not_found(kind: str, object_id: str) -> OrbError:
    return OrbError(
        404, "404-resource-not-found", "Resource not found", f"No {kind} with id {object_id} was found."
    )


class OrbWrites:
    """Serves the routes above on the Orb data.

    Args:
        data: The Orb objects.
        now: The sandbox time, in epoch seconds.
    """

    def __init__(self, data: OrbData, now: Callable[[], int]) -> None:
        self._data = data
        self._now = now
        self._replays: dict[str, tuple[str, ApiResponse]] = {}
        self._lock = threading.Lock()

    def route(self, request: ApiRequest) -> Callable[[], ApiResponse] | None:
        """The handler of a request, if it is one of these routes."""
        for method, pattern, name in ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                handler = getattr(self, name)
                return lambda: self._answer(request, handler, match.groupdict())
        return None

    def _answer(
        self, request: ApiRequest, handler: Callable[..., ApiResponse], params: dict[str, str]
    ) -> ApiResponse:
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        with self._lock:
            if key and key in self._replays:
                body, answer = self._replays[key]
                if body != request.body.decode():
                    return orb_error(
                        OrbError(
                            409,
                            "409-resource-conflict",
                            "Resource conflict",
                            "This idempotency key was used with a different request body.",
                        )
                    )
                return ApiResponse(
                    answer.status, answer.body, [*answer.headers, ("Idempotent-Replayed", "true")]
                )
            try:
                try:
                    # Every field of a deactivation is optional: an empty body is an empty object.
                    body = request.json_body() if request.method != "GET" else {}
                    body = {} if body is None else body
                except ValueError:
                    raise bad_request("The request body is not valid JSON.") from None
                if not isinstance(body, dict):
                    raise bad_request("The request body must be a JSON object.")
                response = handler(params, body)
            except OrbError as error:
                response = orb_error(error)
            if key and response.status < 500:
                self._replays[key] = (request.body.decode(), response)
            return response

    # Licenses ---------------------------------------------------------------------------------------

    def create_license(self, params: dict[str, str], body: dict[str, Any]) -> ApiResponse:
        missing = [
            name
            for name in ("external_license_id", "license_type_id", "subscription_id")
            if not body.get(name)
        ]
        if missing:
            raise bad_request(f"{missing[0]} is required.")
        collections = self._data.collections
        if collections["license_types"].get(str(body["license_type_id"])) is None:
            raise not_found("license type", str(body["license_type_id"]))
        subscription = collections["subscriptions"].get(str(body["subscription_id"]))
        if subscription is None:
            raise not_found("subscription", str(body["subscription_id"]))
        if subscription["status"] != "active":
            raise constraint(
                f"Subscription {subscription['id']} is {subscription['status']}: licenses can only be "
                "created on an active subscription."
            )
        for found in collections["licenses"].objects():
            if found["status"] == "active" and all(
                found[name] == body[name]
                for name in ("external_license_id", "license_type_id", "subscription_id")
            ):
                raise OrbError(
                    400,
                    "400-duplicate-resource-creation",
                    "Duplicate resource creation",
                    f"An active license with external_license_id {body['external_license_id']} already "
                    "exists for this subscription and license type.",
                )
        now = self._now()
        fields = {
            "external_license_id": str(body["external_license_id"]),
            "license_type_id": str(body["license_type_id"]),
            "subscription_id": subscription["id"],
            "status": "active",
            "start_date": _date(body.get("start_date"), "start_date") or iso_z(now - now % DAY),
            "end_date": _date(body.get("end_date"), "end_date"),
        }
        return json_response(201, self._data.create("licenses", fields, now))

    def deactivate_license(self, params: dict[str, str], body: dict[str, Any]) -> ApiResponse:
        found = self._data.collections["licenses"].get(params["id"])
        if found is None:
            raise not_found("license", params["id"])
        if found["status"] != "active":
            raise constraint(f"License {params['id']} is already inactive.")
        end = _date(body.get("end_date"), "end_date") or iso_z(self._now())
        return json_response(
            200,
            self._data.update("licenses", params["id"], {"status": "inactive", "end_date": end}, self._now()),
        )

    # Customers --------------------------------------------------------------------------------------

    def _by_external_id(self, external_id: str) -> JsonObject | None:
        return next(
            (
                found
                for found in self._data.collections["customers"].objects()
                if found.get("external_customer_id") == external_id
            ),
            None,
        )

    def customer_by_external_id(self, params: dict[str, str], body: dict[str, Any]) -> ApiResponse:
        found = self._by_external_id(params["id"])
        if found is None:
            raise not_found("customer", params["id"])
        return json_response(200, found)

    def update_customer(self, params: dict[str, str], body: dict[str, Any]) -> ApiResponse:
        found = self._by_external_id(params["id"])
        if found is None:
            raise not_found("customer", params["id"])
        return json_response(
            200, self._data.update("customers", found["id"], _customer_fields(body, found), self._now())
        )

    def create_customer(self, params: dict[str, str], body: dict[str, Any]) -> ApiResponse:
        for name in ("email", "name"):
            if not body.get(name):
                raise bad_request(f"{name} is required.")
        external_id = body.get("external_customer_id")
        if external_id and self._by_external_id(str(external_id)) is not None:
            raise OrbError(
                400,
                "400-duplicate-resource-creation",
                "Duplicate resource creation",
                f"A customer with external_customer_id {external_id} already exists.",
            )
        fields = {
            "external_customer_id": external_id,
            "metadata": {},
            **_customer_fields(body, {"metadata": {}}),
        }
        return json_response(201, self._data.create("customers", fields, self._now()))


def _customer_fields(body: dict[str, Any], current: JsonObject) -> dict[str, Any]:
    fields = {name: body[name] for name in CUSTOMER_FIELDS if name in body}
    if isinstance(fields.get("metadata"), dict):
        merged = {**(current.get("metadata") or {}), **fields["metadata"]}
        fields["metadata"] = {key: value for key, value in merged.items() if value is not None}
    return fields


def _date(value: Any, name: str) -> str | None:
    if value is None:
        return None
    try:
        return iso_z(parse_iso(str(value)))
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 date; got {json.dumps(value)}.") from None
