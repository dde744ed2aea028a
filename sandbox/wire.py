"""Plain request and response values passed between the HTTP server and the API emulators."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiRequest:
    """One HTTP request, already split into the parts the emulators need.

    Attributes:
        method: Upper-case HTTP method.
        path: Path below the API prefix, e.g. ``/v1/customers`` for ``/stripe/v1/customers``.
        query: Query parameters in order of appearance, each name with all its values.
        headers: Request headers with lower-case names.
        body: Raw request body (empty when there is none).
        host: The ``Host`` header, used to build absolute ``Link`` URLs that stay on the sandbox.
        prefix: The API prefix the request came in on, e.g. ``/integrator``.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    host: str = "127.0.0.1"
    prefix: str = ""

    def first(self, name: str) -> str | None:
        """Return the first value of a query parameter, or None when it is absent."""
        values = self.query.get(name)
        return values[0] if values else None

    def json_body(self) -> Any:
        """Decode the body as JSON (None when empty).

        Raises:
            ValueError: If the body is not valid JSON.
        """
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class ApiResponse:
    """An HTTP response ready to be written.

    Attributes:
        status: HTTP status code.
        body: Serialised body bytes; empty for 204.
        headers: Extra headers (Content-Type and Content-Length are added by the server).
        content_type: The Content-Type to send with a non-empty body.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


def dumps(value: Any) -> bytes:
    """Serialise a value as compact JSON bytes (the sandbox's one JSON encoding).

    Args:
        value: Any JSON-compatible value.

    Returns:
        UTF-8 bytes without insignificant whitespace.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    """Build a JSON response.

    Args:
        status: HTTP status code.
        value: The body value.
        headers: Extra headers.

    Returns:
        The response.
    """
    return ApiResponse(status=status, body=dumps(value), headers=list(headers or []))
