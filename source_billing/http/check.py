"""The `check` probe: one cheap authenticated request per configured API, through the same error mapping,
retries and timeouts as the streams, but with few retries so a wrong host fails fast."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests
from airbyte_cdk.sources.streams.http.http_client import HttpClient

from source_billing.http.context import ApiContext
from source_billing.http.errors import REQUEST_TIMEOUT, ApiErrorHandler, ErrorMapping, RetryAfterBackoff

CHECK_RETRIES = 2


def probe(
    api: ApiContext[Any],
    path: str,
    error_mapping: ErrorMapping,
    error_detail: Callable[[Any], str | None],
    logger: logging.Logger,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Send one GET to `path` below the API root; return the response, or raise the mapped
    `AirbyteTracedException`."""
    name = api.breaker.api
    client = HttpClient(
        name=f"{name} check",
        logger=logger,
        error_handler=ApiErrorHandler(logger, name, error_mapping, error_detail, max_retries=CHECK_RETRIES),
        backoff_strategy=RetryAfterBackoff(cap_seconds=4.0, max_retry_after_seconds=10.0),
        authenticator=api.authenticator,
    )
    _, response = client.send_request(
        "GET", api.url_base + path, request_kwargs={"timeout": REQUEST_TIMEOUT}, headers=dict(headers or {})
    )
    return response
