"""Builders for the integrator.io unit tests: configurations, objects and the API's answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.test.mock_http import HttpResponse

from source_billing.config import BillingConfig, IntegratorIoConfig
from unit_tests.entrypoint import NOW

BASE = "https://api.integrator.io"
EU_BASE = "https://api.eu.integrator.io"
TOKEN = "SENTINEL0integrator0token"
NOW_MILLIS = NOW.replace("Z", ".000Z")
"""The frozen clock as integrator.io writes a moment: where a sync's jobs end (`createdAt_lte`)."""


def settings(**section: Any) -> dict[str, Any]:
    """A configuration with only an integrator.io section."""
    return {"integrator_io": {"api_token": TOKEN, **section}}


def config(**section: Any) -> IntegratorIoConfig:
    parsed = BillingConfig.parse(settings(**section))
    assert parsed.integrator_io is not None
    return parsed.integrator_io


def answer(body: Any = None, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    """One answer of the API: `body` as JSON, none at all without one (a 204)."""
    return HttpResponse("" if body is None else json.dumps(body), status, headers or {})


def connector(n: int, last_modified: str = "2024-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {"_id": f"c{n:023d}", "name": f"Connector {n}", "lastModified": last_modified}


def job(n: int, created: str, **fields: Any) -> dict[str, Any]:
    return {"_id": f"j{n:023d}", "type": "flow", "createdAt": created, "endedAt": created, **fields}


def link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="next"'}
