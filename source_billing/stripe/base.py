"""Stripe's base stream: URL, auth, `starting_after` pagination, Connect accounts, errors and rate budget.

Reference: https://docs.stripe.com/api/pagination, https://docs.stripe.com/connect/authentication,
https://docs.stripe.com/rate-limits.
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
from source_billing.config import StripeConfig
from source_billing.errors import ErrorMapping, common_error_mapping, fail, response_json
from source_billing.incremental import DEFAULT_PARTITION

PAGE_SIZE = 100  # Stripe's maximum
LIVE_REQUESTS_PER_SECOND = 100
TEST_REQUESTS_PER_SECOND = 25
ACCOUNT_ID_FIELD = "stripe_account_id"


def stripe_error_mapping() -> ErrorMapping:
    """What each failure means for a Stripe user, and what to do about it."""
    return common_error_mapping("Stripe") | {
        400: fail("Stripe rejected a request the connector made (HTTP 400); please report this."),
        401: fail(
            "Stripe rejected the API key (HTTP 401): check `stripe.client_secret` (Dashboard > "
            "Developers > API keys).",
            FailureType.config_error,
        ),
        403: fail(
            "Stripe refused access (HTTP 403): the key lacks a read permission for this object, or "
            "cannot act on "
            "the Connect account; grant the permission on the restricted key or remove the account.",
            FailureType.config_error,
        ),
        404: fail(
            "Stripe answered 404 for a list endpoint: check `stripe.api_base_url` (the API root "
            "without /v1).",
            FailureType.config_error,
        ),
    }


def stripe_error_detail(body: Any) -> str | None:
    """Stripe errors read `{"error": {"message", "code", "type"}}`."""
    error = body["error"]
    code = error.get("code")
    return f"{error['message']} ({code})" if code else str(error["message"])


@dataclass(frozen=True)
class StripeApi:
    """What every Stripe stream of one sync shares: settings, credentials and the rate budget."""

    config: StripeConfig
    authenticator: TokenAuthenticator
    budget: HttpAPIBudget

    @classmethod
    def from_config(cls, config: StripeConfig) -> StripeApi:
        rate = LIVE_REQUESTS_PER_SECOND if config.is_live_mode else TEST_REQUESTS_PER_SECOND
        budget = HttpAPIBudget(
            policies=[
                MovingWindowCallRatePolicy(
                    rates=[Rate(limit=rate, interval=timedelta(seconds=1))],
                    matchers=[HttpRequestRegexMatcher(url_base=config.api_base_url)],
                )
            ]
        )
        return cls(config=config, authenticator=TokenAuthenticator(config.client_secret), budget=budget)

    @property
    def url_base(self) -> str:
        return f"{self.config.api_base_url}/v1/"


class StripeStream(WindowedStream):
    """A Stripe list endpoint read in windows of `created`, per Connect account."""

    api_name = "Stripe"
    schema_package = "source_billing.stripe"
    primary_key = "id"
    epoch: ClassVar[pendulum.DateTime] = pendulum.datetime(2011, 1, 1)  # before Stripe's public launch

    def __init__(self, *, api: StripeApi, name: str, path: str, cursor_field: str) -> None:
        self._api = api
        self._name = name
        self._path = path
        self._cursor_field = cursor_field
        super().__init__(
            authenticator=api.authenticator,
            api_budget=api.budget,
            error_mapping=stripe_error_mapping(),
            start_date=api.config.start_date,
            lookback_window_days=api.config.lookback_window_days,
            slice_range_days=api.config.slice_range_days,
        )

    error_detail = staticmethod(stripe_error_detail)

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

    def format_cursor(self, moment: pendulum.DateTime) -> int:
        return int(moment.timestamp())

    def parse_cursor(self, value: Any) -> pendulum.DateTime:
        return pendulum.from_timestamp(int(value))

    def partitions(self) -> Iterable[str]:
        return self._api.config.account_ids or (DEFAULT_PARTITION,)

    def request_headers(
        self,
        stream_state: Mapping[str, Any] | None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        headers = {"Stripe-Version": self._api.config.api_version}
        account = (stream_slice or {}).get("partition", DEFAULT_PARTITION)
        if account != DEFAULT_PARTITION:
            headers["Stripe-Account"] = account
        return headers

    def request_params(
        self,
        stream_state: Mapping[str, Any] | None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> MutableMapping[str, Any]:
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if stream_slice:
            params["created[gte]"] = stream_slice["start"]
            if stream_slice["end"] is not None:
                params["created[lt]"] = stream_slice["end"]
        if next_page_token:
            params.update(next_page_token)
        return params

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        body = response_json(response)
        data = body["data"]
        if body.get("has_more") and data:
            return {"starting_after": data[-1]["id"]}
        return None

    def parse_response(
        self,
        response: requests.Response,
        *,
        stream_state: Mapping[str, Any],
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        account = (stream_slice or {}).get("partition", DEFAULT_PARTITION)
        account_id = None if account == DEFAULT_PARTITION else account
        for record in response_json(response)["data"]:
            # A list read sees each object as it is now; `created` is the one change time it shows.
            record["updated"] = record["created"]
            record[ACCOUNT_ID_FIELD] = account_id
            yield record
