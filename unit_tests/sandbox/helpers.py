"""Helpers for the sandbox's own tests: a keep-alive HTTP client and list walkers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox.app import Sandbox
from sandbox.credentials import INTEGRATOR_TOKEN, ORB_API_KEY, STRIPE_TEST_KEY
from sandbox.process import control_call
from sandbox.server import SandboxServer

DEFAULT_KEYS = {"stripe": STRIPE_TEST_KEY, "orb": ORB_API_KEY, "integrator": INTEGRATOR_TOKEN}


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names) and the raw and decoded body."""

    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.raw)


class Client:
    """A small keep-alive HTTP client for one sandbox.

    Args:
        port: The sandbox's port.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)

    def request(
        self,
        method: str,
        api: str,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        key: str | None = "default",
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Reply:
        """Call ``/{api}{path}``; ``key="default"`` sends the API's valid credential, None sends none."""
        url = f"/{api}{path}"
        if params:
            url += "?" + urlencode(params, doseq=True)
        sent = dict(headers or {})
        token = DEFAULT_KEYS[api] if key == "default" else key
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            sent["Content-Type"] = "application/json"
        self._connection.request(method, url, body=data, headers=sent)
        response = self._connection.getresponse()
        raw = response.read()
        return Reply(response.status, {name.lower(): value for name, value in response.getheaders()}, raw)

    def get(self, api: str, path: str, params: Any = None, **kwargs: Any) -> Reply:
        """GET shortcut."""
        return self.request("GET", api, path, params, **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API."""
        return control_call(self.base, method, path, body)

    def close(self) -> None:
        """Close the kept-alive connection."""
        self._connection.close()


@dataclass
class Running:
    """A running in-process sandbox."""

    server: SandboxServer
    client: Client

    @property
    def sandbox(self) -> Sandbox:
        """Its shared state."""
        return self.server.sandbox


SandboxFactory = Callable[..., Running]


def walk_stripe(client: Client, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
    """Follow ``starting_after`` to the end of a Stripe list and return all objects."""
    objects: list[Any] = []
    query = dict(params or {})
    query.setdefault("limit", 100)
    while True:
        reply = client.get("stripe", path, query, **kwargs)
        assert reply.status == 200, reply.raw
        page = reply.json
        objects.extend(page["data"])
        if not page["has_more"]:
            return objects
        query["starting_after"] = page["data"][-1]["id"]
