"""Orb's error responses, in its one shape, for the Orb emulator's modules."""

from __future__ import annotations

from sandbox.clock import parse_iso
from sandbox.store import JsonObject
from sandbox.wire import ApiResponse, json_response

ERROR_DOCS = "https://docs.withorb.com/reference/error-responses#"


class OrbError(Exception):
    """An Orb error response to send.

    Args:
        status: HTTP status.
        kind: Anchor of the error type in Orb's docs, e.g. ``400-constraint-violation``.
        title: Orb's title for that type.
        detail: What went wrong.
    """

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail


def bad_request(detail: str) -> OrbError:
    """A 400 request validation error (bad parameter)."""
    return OrbError(400, "400-request-validation-errors", "Request validation error", detail)


def constraint(detail: str) -> OrbError:
    """A 400 constraint violation (a limit of the API)."""
    return OrbError(400, "400-constraint-violation", "Constraint violation", detail)


def orb_error(error: OrbError, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    """Render an error in Orb's one shape: ``{"type", "status", "title", "detail"}``."""
    body: JsonObject = {"type": ERROR_DOCS + error.kind, "status": error.status, "title": error.title}
    body["detail"] = error.detail
    if error.kind == "400-request-validation-errors":
        body["validation_errors"] = [error.detail]
    return json_response(error.status, body, headers)


def epoch(text: str, name: str) -> float:
    try:
        return parse_iso(str(text))
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 date-time; got {text!r}.") from None
