"""An incremental read through the connector's entry point (the CDK's `entrypoint_wrapper.read` and
`HttpMocker`, on a frozen clock): where it resumes from a saved state, and the state it saves."""

from __future__ import annotations

import json
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from unit_tests.entrypoint import NOW, MockedApi, final_state, read_stream, records

CUSTOMERS = "https://api.withorb.com/v1/customers"


def _orb(**settings: Any) -> dict[str, Any]:
    return {"orb": {"api_key": "orb_SENTINEL0key", **settings}}


def _page(*created: str) -> HttpResponse:
    data = [{"id": f"cus_{n}", "created_at": at} for n, at in enumerate(created)]
    return HttpResponse(
        json.dumps({"data": data, "pagination_metadata": {"has_more": False, "next_cursor": None}})
    )


def test_given_a_saved_cursor_and_a_lookback_when_read_then_resumes_before_it_and_saves_this_second(
    api: MockedApi,
) -> None:
    # Two days before the cursor, up to the sync's second (exclusive): what is created later in it is the
    # next sync's.
    window = {"limit": "100", "created_at[gte]": "2024-03-08T12:00:00Z", "created_at[lt]": NOW}
    api.get(HttpRequest(CUSTOMERS, query_params=window), _page("2024-03-09T00:00:00Z"))
    saved = {"default": {"created_at": "2024-03-10T12:00:00Z"}}
    output = read_stream(_orb(lookback_window_days=2), "orb_customers", SyncMode.incremental, saved)
    assert [record["id"] for record in records(output)] == ["cus_0"]
    assert final_state(output) == {"default": {"created_at": NOW}}


def test_given_no_state_and_a_start_date_when_read_then_one_window_from_the_start_date(
    api: MockedApi,
) -> None:
    window = {"limit": "100", "created_at[gte]": "2022-01-01T00:00:00Z", "created_at[lt]": NOW}
    api.get(HttpRequest(CUSTOMERS, query_params=window), _page())
    output = read_stream(_orb(start_date="2022-01-01T00:00:00Z"), "orb_customers", SyncMode.incremental)
    assert not output.records
    assert not output.errors
    assert final_state(output) == {"default": {"created_at": NOW}}
