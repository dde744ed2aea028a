"""integrator.io's license writes (Celigo's Connector and License API), as ``destination-billing`` sends them.

https://docs.celigo.com/hc/en-us/articles/7988304504091-Connector-and-License-API-endpoints:
``POST /v1/connectors/{id}/licenses`` (201) creates a license for an integrator.io user, named by ``email``;
``GET``/``PUT``/``DELETE /v1/connectors/{id}/licenses/{license}`` read, change (``expires``,
``trialEndDate``, ``opts``) and delete (204) one. A licensee must already be an integrator.io user: any other
e-mail answers 422 ``invalid_user``. Unknown connectors and licenses answer 404. Changes land in the same
store the control API changes, so the source's next sync reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.clock import parse_iso
from sandbox.integrator_data import IntegratorData, millis, newest_first
from sandbox.store import JsonObject
from sandbox.wire import ApiRequest, ApiResponse, json_response

LICENSES = re.compile(r"^/v1/connectors/(?P<connector>[^/]+)/licenses(?:/(?P<license>[^/]+))?$")
CHANGEABLE = ("expires", "trialEndDate", "opts")


def integrator_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> ApiResponse:
    """integrator.io's error shape: ``{"errors": [{"code", "message"}]}`` (all of ``integrator_api``'s too:
    it lives here, in the module that API imports)."""
    return json_response(status, {"errors": [{"code": code, "message": message}]}, headers)


def handles(request: ApiRequest) -> bool:
    """Whether the request is one of the license endpoints this module serves (a write, or one license)."""
    match = LICENSES.match(request.path)
    return match is not None and (request.method != "GET" or match.group("license") is not None)


class IntegratorWrites:
    """Creates, changes and deletes licenses in the integrator.io data.

    Args:
        data: The integrator.io objects.
        now: The sandbox time, in epoch seconds.
    """

    def __init__(self, data: IntegratorData, now: Callable[[], int]) -> None:
        self._data = data
        self._now = now

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one license request (``handles`` says it is one)."""
        match = LICENSES.match(request.path)
        assert match is not None
        connector_id, license_id = match.group("connector"), match.group("license")
        if self._data.collections["connectors"].get(connector_id) is None:
            return integrator_error(404, "not_found", f"Connector not found: {connector_id}")
        try:
            body = (request.json_body() if request.method in ("POST", "PUT") else None) or {}
        except ValueError:
            return integrator_error(400, "invalid_json", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return integrator_error(400, "invalid_json", "The request body must be a JSON object.")
        if license_id is None:
            if request.method != "POST":
                return integrator_error(405, "method_not_allowed", f"{request.method} is not supported here.")
            return self._create(connector_id, body)
        licenses = self._data.collections["licenses"]
        found = licenses.get(license_id)
        if found is None or licenses.parent_of(license_id) != connector_id:
            return integrator_error(404, "not_found", f"License not found: {license_id}")
        if request.method == "GET":
            return json_response(200, found)
        if request.method == "PUT":
            return self._update(license_id, body)
        if request.method == "DELETE":
            self._data.delete("licenses", license_id)
            return ApiResponse(204)
        return integrator_error(405, "method_not_allowed", f"{request.method} is not supported here.")

    def _create(self, connector_id: str, body: dict[str, Any]) -> ApiResponse:
        email = str(body.get("email") or "").strip().lower()
        if not email:
            return integrator_error(422, "missing_required_field", "email is required to create a license.")
        if not self._data.is_user(email):
            return integrator_error(
                422,
                "invalid_user",
                f"{email} is not an integrator.io user. The licensee must sign up to integrator.io first.",
            )
        problem = _invalid(body)
        if problem is not None:
            return integrator_error(422, "invalid_value", problem)
        now = self._now()
        obj: JsonObject = {
            "_id": self._data.new_id("license"),
            "created": millis(now),
            "expires": _instant(body.get("expires")),
            "trialEndDate": _instant(body.get("trialEndDate")),
            "sandbox": False,
            "opts": body.get("opts") or {},
            "user": {"email": email, "_id": self._data.user_id_of(email), "name": email.split("@")[0]},
            "type": "connector",
            "_editionId": None,
            "_connectorId": connector_id,
        }
        self._data.collections["licenses"].insert(newest_first(now), obj, connector_id)
        return json_response(201, obj)

    def _update(self, license_id: str, body: dict[str, Any]) -> ApiResponse:
        if "email" in body or "user" in body:
            return integrator_error(422, "invalid_value", "The licensee of a license cannot be changed.")
        problem = _invalid(body)
        if problem is not None:
            return integrator_error(422, "invalid_value", problem)
        changes = {name: body[name] for name in CHANGEABLE if name in body}
        for name in ("expires", "trialEndDate"):
            if name in changes:
                changes[name] = _instant(changes[name])
        return json_response(200, self._data.update("licenses", license_id, changes))


def _invalid(body: dict[str, Any]) -> str | None:
    for name in ("expires", "trialEndDate"):
        value = body.get(name)
        if value is not None:
            try:
                parse_iso(str(value))
            except ValueError:
                return f"{name} must be an ISO 8601 date-time; got {value!r}."
    if body.get("opts") is not None and not isinstance(body["opts"], dict):
        return "opts must be an object."
    return None


def _instant(value: Any) -> str | None:
    """An instant as integrator.io writes them (milliseconds, ``Z``); None stays None."""
    return None if value is None else millis(parse_iso(str(value)))
