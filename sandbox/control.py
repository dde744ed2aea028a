"""The control API under ``/_control``: health, objects, mutations, request log, stats, faults, clock.

It is never subject to faults, auth, latency or rate limits, and its calls are not logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.app import Emulator, Sandbox
from sandbox.faults import FaultConfig
from sandbox.wire import ApiResponse, json_response

Query = dict[str, list[str]]


class Control:
    """Routes control requests.

    Args:
        sandbox: The shared state.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle(self, method: str, path: str, query: Query, body: bytes) -> ApiResponse:
        """Answer one control request.

        Args:
            method: HTTP method.
            path: Path below ``/_control``.
            query: Parsed query.
            body: Raw body (JSON).

        Returns:
            A JSON response; 400 for bad input, 404 for unknown paths or objects.
        """
        parts = [part for part in path.split("/") if part]
        try:
            data = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            handler = self._route(method, parts)
            if handler is None:
                return json_response(404, {"error": f"unknown control endpoint {method} /_control{path}"})
            return handler(parts, query, data)
        except KeyError as error:
            return json_response(404, {"error": str(error.args[0]) if error.args else "not found"})
        except (ValueError, TypeError) as error:
            return json_response(400, {"error": str(error)})

    def _route(
        self, method: str, parts: list[str]
    ) -> Callable[[list[str], Query, dict[str, Any]], ApiResponse] | None:
        head = parts[0] if parts else ""
        table: dict[tuple[str, str, int], Callable[[list[str], Query, dict[str, Any]], ApiResponse]] = {
            ("GET", "health", 1): self._health,
            ("GET", "objects", 3): self._objects,
            ("GET", "requests", 1): self._requests,
            ("DELETE", "requests", 1): self._clear_requests,
            ("GET", "stats", 1): self._stats,
            ("POST", "faults", 1): self._set_faults,
            ("DELETE", "faults", 1): self._clear_faults,
            ("GET", "clock", 1): self._get_clock,
            ("POST", "clock", 1): self._advance_clock,
            ("POST", "config", 1): self._set_config,
        }
        handler = table.get((method, head, len(parts)))
        if handler is not None:
            return handler
        if head in self.sandbox.apis:
            mutations = {("POST", 2): self._create, ("POST", 3): self._update, ("DELETE", 3): self._delete}
            return mutations.get((method, len(parts)))
        return None

    def _admin(self, api: str) -> Emulator:
        emulator = self.sandbox.apis.get(api)
        if emulator is None:
            raise KeyError(f"unknown api {api!r}; use stripe, orb or integrator")
        return emulator

    # Handlers ---------------------------------------------------------------------------------------

    def _health(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        return json_response(
            200, {"status": "ok", "now": self.sandbox.clock.now(), "apis": sorted(self.sandbox.apis)}
        )

    def _objects(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        account = query.get("account", [None])[0]
        objects = self._admin(parts[1]).control_objects(parts[2], account)
        return json_response(200, {"data": objects, "count": len(objects)})

    def _create(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        account = query.get("account", [None])[0]
        return json_response(200, self._admin(parts[0]).control_create(parts[1], data, account))

    def _update(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        account = query.get("account", [None])[0]
        return json_response(200, self._admin(parts[0]).control_update(parts[1], parts[2], data, account))

    def _delete(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        account = query.get("account", [None])[0]
        return json_response(200, self._admin(parts[0]).control_delete(parts[1], parts[2], account))

    def _requests(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        since = int(query.get("since", ["0"])[0])
        limit = int(query.get("limit", ["100000"])[0])
        entries, next_seq = self.sandbox.log.since(since, limit)
        return json_response(200, {"requests": entries, "next": next_seq})

    def _clear_requests(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        self.sandbox.log.clear()
        return json_response(200, {"cleared": True})

    def _stats(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        return json_response(200, {"apis": self.sandbox.stats.snapshot()})

    def _set_faults(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        self.sandbox.faults.configure(FaultConfig.from_json(data))
        return json_response(200, self.sandbox.faults.config.to_json())

    def _clear_faults(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        self.sandbox.faults.clear()
        return json_response(200, self.sandbox.faults.config.to_json())

    def _get_clock(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        clock = self.sandbox.clock
        return json_response(200, {"now": clock.now(), "offset": clock.offset})

    def _advance_clock(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        now = self.sandbox.clock.advance(float(data.get("advance_seconds", 0)))
        return json_response(200, {"now": now, "offset": self.sandbox.clock.offset})

    def _set_config(self, parts: list[str], query: Query, data: dict[str, Any]) -> ApiResponse:
        unknown = set(data) - {"latency_ms", "rate_limits"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        sandbox = self.sandbox
        if "latency_ms" in data:
            sandbox.latency_ms = max(0.0, float(data["latency_ms"]))
        if "rate_limits" in data:
            sandbox.limiter.enabled = bool(data["rate_limits"])
            sandbox.limiter.reset()
        return json_response(200, {"latency_ms": sandbox.latency_ms, "rate_limits": sandbox.limiter.enabled})
