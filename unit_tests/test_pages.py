"""Each API's paginator: the records of an answer and the request of the next page."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.http.pages import LinkHeader, NextPage, OrbCursor, Paginator, Request, StartingAfter

LIST = Request("https://api.example.com/v1/things", {"limit": 100, "created[gte]": 1})


def _answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b"" if body is None else json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


def _following(paginator: Paginator, body: Any, **headers: str) -> Request | None:
    response = _answer(body, headers=headers)
    return paginator.following(LIST, response, paginator.records(response))


@pytest.mark.parametrize(
    ("paginator", "more", "done", "asked"),
    [
        (
            StartingAfter(),
            {"data": [{"id": "a"}, {"id": "b"}], "has_more": True},
            {"data": [{"id": "a"}], "has_more": False},
            {"starting_after": "b"},
        ),
        (
            NextPage(),
            {"data": [{"id": "a"}], "has_more": True, "next_page": "p2"},
            {"data": [{"id": "a"}], "has_more": False, "next_page": None},
            {"page": "p2"},
        ),
        (
            OrbCursor(),
            {"data": [{"id": "a"}], "pagination_metadata": {"has_more": True, "next_cursor": "c2"}},
            {"data": [{"id": "a"}], "pagination_metadata": {"has_more": False, "next_cursor": None}},
            {"cursor": "c2"},
        ),
    ],
    ids=["stripe list", "stripe search", "orb"],
)
def test_given_an_answer_with_more_when_paged_then_the_next_request_keeps_the_filters_and_adds_the_cursor(
    paginator: Paginator, more: dict[str, Any], done: dict[str, Any], asked: dict[str, Any]
) -> None:
    assert paginator.records(_answer(more)) == more["data"]
    following = _following(paginator, more)
    assert following == Request(LIST.url, {**LIST.params, **asked})
    assert _following(paginator, done) is None


def test_given_an_empty_stripe_page_that_says_more_when_paged_then_it_ends() -> None:
    assert _following(StartingAfter(), {"data": [], "has_more": True}) is None


def test_given_an_integrator_io_link_when_paged_then_the_link_is_the_whole_next_request() -> None:
    paginator = LinkHeader("integrator_io_flows", lambda url: url.startswith("https://api.example.com/"))
    link = '<https://api.example.com/v1/flows?cursor=x>; rel="next"'
    assert _following(paginator, [{"_id": "1"}], Link=link) == Request(
        "https://api.example.com/v1/flows?cursor=x"
    )
    assert _following(paginator, [{"_id": "1"}]) is None
    assert paginator.records(_answer(None, status=204)) == []


def test_given_an_integrator_io_link_to_another_host_when_paged_then_it_is_refused_by_name() -> None:
    paginator = LinkHeader("integrator_io_flows", lambda url: url.startswith("https://api.example.com/"))
    with pytest.raises(AirbyteTracedException, match="integrator_io_flows to another host"):
        _following(paginator, [{"_id": "1"}], Link='<https://elsewhere.example/v1/flows>; rel="next"')


def test_given_an_integrator_io_answer_not_a_list_when_read_then_a_system_error_names_the_stream() -> None:
    paginator = LinkHeader("integrator_io_flows", lambda _: True)
    with pytest.raises(AirbyteTracedException, match="integrator_io_flows with something other than a JSON"):
        paginator.records(_answer({"message": "?"}))
