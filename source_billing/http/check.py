"""The `check` probe: one cheap authenticated request per configured API, through the same error mapping,
retries and timeouts as the streams, but with few retries so a wrong host fails fast."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from requests.auth import AuthBase

from source_billing.http.errors import REQUEST_TIMEOUT, ApiErrorHandler, ErrorMapping, RetryAfterBackoff

CHECK_RETRIES = 2


def probe(
    *,
    api: str,
    url: str,
    authenticator: AuthBase,
    error_mapping: ErrorMapping,
    error_detail: Callable[[Any], str | None],
    logger: logging.Logger,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Send one GET; return the response, or raise the mapped `AirbyteTracedException`."""
    client = HttpClient(
        name=f"{api} check",
        logger=logger,
        error_handler=ApiErrorHandler(logger, api, error_mapping, error_detail, max_retries=CHECK_RETRIES),
        backoff_strategy=RetryAfterBackoff(cap_seconds=4.0, max_retry_after_seconds=10.0),
        authenticator=authenticator,
    )
    _, response = client.send_request(
        "GET", url, request_kwargs={"timeout": REQUEST_TIMEOUT}, headers=dict(headers or {})
    )
    return response
