"""Orb's base stream: URL, auth, cursor pagination, errors and rate budget.

Reference: https://docs.withorb.com/api-reference (pagination: `limit` up to 100, `cursor`,
`pagination_metadata.next_cursor`; lists are newest first; timestamps are ISO 8601).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pendulum
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import (
    HttpAPIBudget,
    HttpRequestRegexMatcher,
    MovingWindowCallRatePolicy,
    Rate,
)
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator

from source_billing.base_stream import WindowedStream
from source_billing.config import OrbConfig
from source_billing.errors import ErrorMapping, common_error_mapping, fail, response_json

PAGE_SIZE = 100  # Orb's maximum
REQUESTS_PER_SECOND = 100


def orb_error_mapping() -> ErrorMapping:
    """What each failure means for an Orb user."""
    return common_error_mapping("Orb") | {
        400: fail("Orb rejected a request the connector made (HTTP 400); please report this."),
        401: fail(
            "Orb rejected the API key (HTTP 401): check `orb.api_key` (Orb > Developers > API keys).",
            FailureType.config_error,
        ),
        403: fail(
            "Orb refused access (HTTP 403): the API key may not read this resource.", FailureType.config_error
        ),
        404: fail(
            "Orb answered 404 for a list endpoint: check `orb.api_base_url` (the API root without /v1).",
            FailureType.config_error,
        ),
    }


def orb_error_detail(body: Any) -> str | None:
    """Orb errors read `{"type", "status", "title", "detail"}`."""
    detail = body.get("detail") or body.get("title")
    return str(detail) if detail else None


@dataclass(frozen=True)
class OrbApi:
    """What every Orb stream of one sync shares: settings, credentials and the rate budget."""

    config: OrbConfig
    authenticator: TokenAuthenticator
    budget: HttpAPIBudget

    @classmethod
    def from_config(cls, config: OrbConfig) -> OrbApi:
        budget = HttpAPIBudget(
            policies=[
                MovingWindowCallRatePolicy(
                    rates=[Rate(limit=REQUESTS_PER_SECOND, interval=timedelta(seconds=1))],
                    matchers=[HttpRequestRegexMatcher(url_base=config.api_base_url)],
                )
            ]
        )
        return cls(config=config, authenticator=TokenAuthenticator(config.api_key), budget=budget)

    @property
    def url_base(self) -> str:
        return f"{self.config.api_base_url}/v1/"


def orb_timestamp(moment: pendulum.DateTime) -> str:
    """A moment as Orb writes it: ISO 8601 in UTC with a `Z`."""
    return moment.in_tz("UTC").format("YYYY-MM-DDTHH:mm:ss[Z]")


class OrbStream(WindowedStream):
    """An Orb list endpoint read in windows of its creation-time filter."""

    api_name = "Orb"
    schema_package = "source_billing.orb"
    primary_key = "id"
    epoch: ClassVar[pendulum.DateTime] = pendulum.datetime(2020, 1, 1)  # before Orb's first customer
    filter_field: ClassVar[str] = "created_at"

    def __init__(self, *, api: OrbApi, name: str, path: str, cursor_field: str = "created_at") -> None:
        self._api = api
        self._name = name
        self._path = path
        self._cursor_field = cursor_field
        super().__init__(
            authenticator=api.authenticator,
            api_budget=api.budget,
            error_mapping=orb_error_mapping(),
            start_date=api.config.start_date,
            lookback_window_days=api.config.lookback_window_days,
            slice_range_days=365,
        )

    error_detail = staticmethod(orb_error_detail)

    @property
    def name(self) -> str:
        return self._name

    @property
    def cursor_field(self) -> str:
        return self._cursor_field

    @property
    def url_base(self) -> str:
        return self._api.url_base

    def path(self, **_: Any) -> str:
        return self._path

    def format_cursor(self, moment: pendulum.DateTime) -> str:
        return orb_timestamp(moment)

    def parse_cursor(self, value: Any) -> pendulum.DateTime:
        parsed = pendulum.parse(str(value))
        if not isinstance(parsed, pendulum.DateTime):
            raise ValueError(f"Not an Orb timestamp: {value!r}")
        return parsed

    def request_params(
        self,
        stream_state: Mapping[str, Any] | None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> MutableMapping[str, Any]:
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if stream_slice:
            params[f"{self.filter_field}[gte]"] = stream_slice["start"]
            if stream_slice["end"] is not None:
                params[f"{self.filter_field}[lt]"] = stream_slice["end"]
        if next_page_token:
            params.update(next_page_token)
        return params

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        pagination = response_json(response).get("pagination_metadata") or {}
        if pagination.get("has_more") and pagination.get("next_cursor"):
            return {"cursor": pagination["next_cursor"]}
        return None

    def parse_response(
        self,
        response: requests.Response,
        *,
        stream_state: Mapping[str, Any],
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        yield from response_json(response)["data"]
