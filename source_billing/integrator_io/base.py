"""integrator.io's base stream: region host, auth, `Link` pagination, errors and rate budget.

Reference: https://docs.celigo.com/hc/en-us/sections/360007478991-API-reference (lists are JSON arrays; the
next page is the URL in `Link: <...>; rel="next"`, an opaque cursor to follow as given; an empty list may
come as 204 No Content; 429 carries `Retry-After`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import (
    HttpAPIBudget,
    HttpRequestRegexMatcher,
    MovingWindowCallRatePolicy,
    Rate,
)
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.base_stream import ApiStream
from source_billing.config import IntegratorIoConfig
from source_billing.errors import ErrorMapping, common_error_mapping, fail, response_json

# The documented bucket holds 1,000 requests and refills at 300/s; staying under the refill rate
# never drains it.
REQUESTS_PER_SECOND = 280


def integrator_io_error_mapping(config: IntegratorIoConfig) -> ErrorMapping:
    """What each failure means for an integrator.io user; a 401 names the region, the usual culprit."""
    host = urlsplit(config.api_base_url).hostname
    return common_error_mapping("integrator.io") | {
        400: fail("integrator.io rejected a request the connector made (HTTP 400); please report this."),
        401: fail(
            f"integrator.io rejected the API token (HTTP 401) at {host} (region `{config.region}`): check "
            "`integrator_io.api_token`, and that `integrator_io.region` is the account's region: a token of "
            "the US region is rejected by the EU host and the reverse.",
            FailureType.config_error,
        ),
        403: fail(
            "integrator.io refused access (HTTP 403): connector, license and install base endpoints need a "
            "full-access API token of the account that publishes the connectors (the ISV account).",
            FailureType.config_error,
        ),
        404: fail(
            "integrator.io answered 404 for a list endpoint: check `integrator_io.api_base_url` (the "
            "API root "
            "without /v1) or the region.",
            FailureType.config_error,
        ),
    }


def integrator_io_error_detail(body: Any) -> str | None:
    """Errors read `{"errors": [{"code", "message", "field"?}]}`, some 401s `{"message": ...}`."""
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        messages = [
            str(error.get("message") or error.get("code"))
            for error in body["errors"]
            if isinstance(error, Mapping)
        ]
        return "; ".join(messages) or None
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])
    return None


@dataclass(frozen=True)
class IntegratorIoApi:
    """What every integrator.io stream of one sync shares: settings, credentials and the rate budget."""

    config: IntegratorIoConfig
    authenticator: TokenAuthenticator
    budget: HttpAPIBudget

    @classmethod
    def from_config(cls, config: IntegratorIoConfig) -> IntegratorIoApi:
        budget = HttpAPIBudget(
            policies=[
                MovingWindowCallRatePolicy(
                    rates=[Rate(limit=REQUESTS_PER_SECOND, interval=timedelta(seconds=1))],
                    matchers=[HttpRequestRegexMatcher(url_base=config.api_base_url)],
                )
            ]
        )
        return cls(config=config, authenticator=TokenAuthenticator(config.api_token), budget=budget)

    @property
    def url_base(self) -> str:
        return f"{self.config.api_base_url}/v1/"

    def same_origin(self, url: str) -> bool:
        """Whether a URL points at the configured API host (the only host that may see the token)."""
        ours, theirs = urlsplit(self.config.api_base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)


class IntegratorIoStream(ApiStream):
    """An integrator.io list endpoint: a JSON array per page, the next page in the `Link` header."""

    api_name = "integrator.io"
    schema_package = "source_billing.integrator_io"
    primary_key = "_id"

    def __init__(self, *, api: IntegratorIoApi, name: str, path: str) -> None:
        self._api = api
        self._name = name
        self._path = path
        super().__init__(
            authenticator=api.authenticator,
            api_budget=api.budget,
            error_mapping=integrator_io_error_mapping(api.config),
        )

    error_detail = staticmethod(integrator_io_error_detail)

    @property
    def name(self) -> str:
        return self._name

    @property
    def url_base(self) -> str:
        return self._api.url_base

    def path(self, *, next_page_token: Mapping[str, Any] | None = None, **_: Any) -> str:
        # An absolute next-page URL replaces the base entirely when joined.
        return str(next_page_token["next_url"]) if next_page_token else self._path

    def request_params(
        self,
        stream_state: Mapping[str, Any] | None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> MutableMapping[str, Any]:
        return {}  # the next-page URL carries every parameter it needs

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return None
        if not self._api.same_origin(next_url):
            # Following it would send the token to another host; stopping silently would lose data.
            raise AirbyteTracedException(
                message=(
                    f"integrator.io linked the next page of {self.name} to another host; the "
                    "connector does not send the token there."
                ),
                internal_message=f"Refused next-page link to {urlsplit(next_url).netloc}",
                failure_type=FailureType.system_error,
            )
        return {"next_url": next_url}

    def parse_response(
        self,
        response: requests.Response,
        *,
        stream_state: Mapping[str, Any],
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[MutableMapping[str, Any]]:
        if response.status_code == 204:
            return  # integrator.io's empty list
        yield from response_json(response)
