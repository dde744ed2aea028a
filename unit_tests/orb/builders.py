"""Builders for Orb reads through the connector's entry point: configurations, requests with their exact
query, and Orb-shaped answers and objects."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from unit_tests.entrypoint import MockedApi

V1 = "https://api.withorb.com/v1"
API_KEY = "orb_SENTINEL0key"
LIMIT = {"limit": "100"}
"""The query of a list's first page: Orb's largest page."""

AUTHORIZED = {"Authorization": f"Bearer {API_KEY}"}
"""The header of every request to Orb."""

REJECTED = "Orb rejected a request the connector made (HTTP 400)"
"""What a stream's failure says of Orb's 400."""

Query = Mapping[str, str | list[str]]


def orb_config(**settings: Any) -> dict[str, Any]:
    """A configuration with only an Orb section."""
    return {"orb": {"api_key": API_KEY, **settings}}


def answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    """An answer with a JSON body."""
    return HttpResponse(json.dumps(body), status, headers or {})


def page(items: Sequence[Mapping[str, Any]], next_cursor: str | None = None) -> HttpResponse:
    """One page of an Orb list."""
    return answer(
        {
            "data": list(items),
            "pagination_metadata": {"has_more": next_cursor is not None, "next_cursor": next_cursor},
        }
    )


def error(status: int, detail: str = "the API's own words") -> HttpResponse:
    """An Orb error answer."""
    return answer({"status": status, "title": "T", "detail": detail}, status)


def request(path: str, query: Query | None = None, body: Mapping[str, Any] | None = None) -> HttpRequest:
    """A request to Orb's `/v1/{path}` with the API key: with exactly the query given (none when None), or
    with a JSON body."""
    return HttpRequest(f"{V1}/{path}", query_params=query, headers=AUTHORIZED, body=body)


def pages(api: MockedApi, path: str, query: Query, objects: Sequence[Mapping[str, Any]]) -> None:
    """A list as Orb pages it: 100 objects a page, each next page asked for with the first page's query and
    the `cursor` the page before gave (here the offset)."""
    for at in range(0, max(len(objects), 1), 100):
        following = str(at + 100) if at + 100 < len(objects) else None
        cursor = {"cursor": str(at)} if at else {}
        api.get(request(path, {**query, **cursor}), page(objects[at : at + 100], following))


def customer(n: int, created_at: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"id": f"cus_{n}", "created_at": created_at, "email": f"user{n}@example.com"}


def invoice(n: int, status: str, invoice_date: str = "2024-06-01T00:00:00Z") -> dict[str, Any]:
    return {"id": f"inv_{n}", "status": status, "invoice_date": invoice_date, "total": "10.00"}


def entry(
    n: int,
    created_at: str = "2024-06-01T00:00:00Z",
    event_id: str | None = None,
    entry_status: str = "committed",
    entry_type: str = "decrement",
) -> dict[str, Any]:
    """A credit ledger entry."""
    return {
        "id": f"le_{n}",
        "created_at": created_at,
        "entry_type": entry_type,
        "entry_status": entry_status,
        "amount": -1.0,
        "event_id": event_id,
    }


def ids(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(record["id"]) for record in records]
