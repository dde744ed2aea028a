"""integrator.io's base stream: region host, auth, `Link` pagination, errors and rate budget.

Reference: https://docs.celigo.com/hc/en-us/sections/360007478991-API-reference (lists are JSON arrays; the
next page is the URL in `Link: <...>; rel="next"`, an opaque cursor to follow as given; an empty list may
come as 204 No Content; 429 carries `Retry-After`). No list documents a page-size parameter, so none is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator

from source_billing.config import IntegratorIoConfig
from source_billing.http.base_stream import ApiStream
from source_billing.http.breaker import CircuitBreaker
from source_billing.http.budget import LayeredBudget, Limit
from source_billing.http.context import ApiContext
from source_billing.http.errors import ErrorMapping, common_error_mapping, fail
from source_billing.http.pages import LinkHeader
from source_billing.incremental.cursors import DEFAULT_PARTITION, PartitionedCursor, parse_iso_timestamp
from source_billing.incremental.slice_results import SliceResults

# The documented bucket holds 1,000 requests and refills at 300/s; the budget spaces requests at the refill
# rate, so the bucket never drains, and its 1,000 absorb the jitter with which the requests reach the API.
REQUESTS_PER_SECOND = 300
BUCKET_REQUESTS = 1_000
# Everything under /connectors needs a full-access token of the publishing account (the ISV's).
CONNECTORS_ROOT = "connectors"


def integrator_io_error_mapping(config: IntegratorIoConfig, path: str) -> ErrorMapping:
    """What each failure of a request to `/v1/{path}` means for an integrator.io user.

    Args:
        config: the `integrator_io` section (a 401 names its region and host, the usual culprit).
        path: the endpoint, with placeholders for ids (`connectors/{connector_id}/licenses`).
    """
    host = urlsplit(config.api_base_url).hostname
    parts = path.split("/")
    under_connectors = parts[0] == CONNECTORS_ROOT
    if under_connectors:
        forbidden = (
            "integrator.io refused access (HTTP 403): connector, license and install base endpoints need a "
            "full-access API token of the account that publishes the connectors (the ISV account)."
        )
    else:
        forbidden = (
            f"integrator.io refused access to /v1/{path} (HTTP 403): the API token lacks this permission; "
            "use a full-access token (integrator.io > Resources > API tokens) or deselect the stream."
        )
    if under_connectors and len(parts) > 1:
        # The connector list answered a moment ago, so the host is right: the connector was deleted since.
        not_found = ErrorResolution(
            ResponseAction.IGNORE,
            None,
            f"integrator.io answered 404 for a connector's {parts[-1]} (HTTP 404): the connector was deleted "
            "during the sync, so it has none to read; skipping it.",
        )
    else:
        not_found = fail(
            f"integrator.io answered 404 for /v1/{path}: check `integrator_io.api_base_url` (the API root "
            "without /v1) or `integrator_io.region`.",
            FailureType.config_error,
        )
    return common_error_mapping("integrator.io") | {
        400: fail("integrator.io rejected a request the connector made (HTTP 400); please report this."),
        401: fail(
            f"integrator.io rejected the API token (HTTP 401) at {host} (region `{config.region}`): check "
            "`integrator_io.api_token`, and that `integrator_io.region` is the account's region: a token of "
            "the US region is rejected by the EU host and the reverse.",
            FailureType.config_error,
        ),
        403: fail(forbidden, FailureType.config_error),
        404: not_found,
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


IntegratorIoApi = ApiContext[IntegratorIoConfig]


def integrator_io_api(config: IntegratorIoConfig) -> IntegratorIoApi:
    """What the integrator.io streams of one sync share."""
    return ApiContext(
        config=config,
        authenticator=TokenAuthenticator(config.api_token),
        budget=LayeredBudget(config.api_base_url, [Limit(REQUESTS_PER_SECOND, bucket=BUCKET_REQUESTS)]),
        breaker=CircuitBreaker("integrator.io"),
    )


class IntegratorIoStream(ApiStream):
    """An integrator.io list endpoint: a JSON array per page, the next page in the `Link` header.

    Args:
        api: the sync's shared integrator.io context.
        name: the stream name.
        path: the endpoint below `/v1/`; `{connector_id}` stands for a parent's id in error messages.
    """

    api_name = "integrator.io"
    schema_package = "source_billing.integrator_io"
    primary_key = "_id"
    _api: IntegratorIoApi

    def __init__(self, *, api: IntegratorIoApi, name: str, path: str) -> None:
        self._name = name
        self._path = path
        self.paginator = LinkHeader(name, api.same_origin)
        super().__init__(api=api, error_mapping=integrator_io_error_mapping(api.config, path))

    error_detail = staticmethod(integrator_io_error_detail)

    @property
    def name(self) -> str:
        return self._name

    def path(self, **_: Any) -> str:
        return self._path


class CursoredStream(IntegratorIoStream):
    """An integrator.io stream read in one slice per sync, whose state is the newest `cursor_field` value its
    read reached (`reached`, kept until the slice closes: a read that breaks off commits nothing)."""

    _cursor: PartitionedCursor

    def __init__(self, *, api: IntegratorIoApi, name: str, path: str, cursor_field: str) -> None:
        self._cursor = PartitionedCursor(name, cursor_field, parse_iso_timestamp)
        self.reached = SliceResults()
        super().__init__(api=api, name=name, path=path)

    @property
    def cursor_field(self) -> str:
        return self._cursor.cursor_field

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        self._cursor.observe(DEFAULT_PARTITION, self.reached.pop(stream_slice))
