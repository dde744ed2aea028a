"""Error classification, retries and response parsing shared by the three APIs.

Each API declares its own status mapping (what a 401 or 403 means for it, in words the user can act on);
this module supplies what is common: transport failures and bodies that are not JSON are retried, 429 and
5xx are retried with `Retry-After` honoured or exponential backoff with jitter, and every retry loop is
bounded in attempts and time.
"""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import (
    BackoffStrategy,
    ErrorResolution,
    HttpStatusErrorHandler,
    ResponseAction,
)

from source_billing.runtime.progress import StreamStats

ErrorMapping = Mapping[int | str | type[Exception], ErrorResolution]

MAX_RETRIES = 8
MAX_RETRY_TIME = timedelta(minutes=10)
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
_PARSED_BODY = "_source_billing_body"


def retry(message: str) -> ErrorResolution:
    """A transient failure worth another attempt."""
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, message)


def fail(message: str, failure_type: FailureType = FailureType.system_error) -> ErrorResolution:
    """A failure that retrying cannot fix."""
    return ErrorResolution(ResponseAction.FAIL, failure_type, message)


def rate_limited(api: str) -> ErrorResolution:
    """The API asked us to slow down."""
    return ErrorResolution(
        ResponseAction.RATE_LIMITED,
        FailureType.transient_error,
        f"{api} rate limit reached (HTTP 429); waiting before retrying.",
    )


def common_error_mapping(api: str) -> dict[int | str | type[Exception], ErrorResolution]:
    """Statuses and transport errors that mean the same thing for every API."""
    unavailable = f"{api} is temporarily unavailable"
    return {
        requests.exceptions.InvalidSchema: fail(
            f"The {api} base URL is not an http(s) URL.", FailureType.config_error
        ),
        requests.exceptions.InvalidURL: fail(
            f"The {api} base URL is not a valid URL.", FailureType.config_error
        ),
        requests.exceptions.RequestException: retry(
            f"The connection to {api} failed (network error or timeout)."
        ),
        408: retry(f"{api} timed out answering (HTTP 408)."),
        409: retry(f"{api} reported a conflicting concurrent request (HTTP 409)."),
        429: rate_limited(api),
        500: retry(f"{unavailable} (HTTP 500)."),
        502: retry(f"{unavailable} (HTTP 502)."),
        503: retry(f"{unavailable} (HTTP 503)."),
        504: retry(f"{unavailable} (HTTP 504)."),
    }


def response_json(response: requests.Response) -> Any:
    """The response's JSON body, parsed once per response (the error handler has usually parsed it
    already)."""
    cached = response.__dict__.get(_PARSED_BODY)
    if cached is None:
        cached = orjson.loads(response.content) if response.content else None
        response.__dict__[_PARSED_BODY] = cached
    return cached


class ApiErrorHandler(HttpStatusErrorHandler):
    """Maps a response or exception to an action, by status code or by the exception's class hierarchy.

    The CDK's handler looks exceptions up by exact class, so a `ConnectionError` or `ReadTimeout` would fall
    through to its generic branch; here the nearest mapped base class decides. A 2xx whose body is not JSON
    (truncated or malformed) is retried like a 5xx: the request is safe to repeat and the data is not lost.
    """

    def __init__(
        self,
        logger: logging.Logger,
        api: str,
        error_mapping: ErrorMapping,
        error_detail: Callable[[Any], str | None],
        max_retries: int = MAX_RETRIES,
        stats: StreamStats | None = None,
    ) -> None:
        self._api = api
        self._error_detail = error_detail
        self._stats = stats
        super().__init__(
            logger=logger, error_mapping=error_mapping, max_retries=max_retries, max_time=MAX_RETRY_TIME
        )

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None = None
    ) -> ErrorResolution:
        resolution = self._resolve(response_or_exception)
        if self._stats is not None:
            action = resolution.response_action
            self._stats.count_response(
                retry=action in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED),
                rate_limited=action == ResponseAction.RATE_LIMITED,
            )
        return resolution

    def _resolve(self, response_or_exception: requests.Response | Exception | None) -> ErrorResolution:
        if isinstance(response_or_exception, requests.exceptions.SSLError):
            # An untrusted certificate is not transient: without this, it was retried for minutes as a
            # "network error". The handshake failed, so nothing (no key) was sent.
            rejected = _certificate_rejection(response_or_exception)
            if rejected is not None:
                host = urlsplit(str(getattr(response_or_exception.request, "url", ""))).hostname
                return fail(
                    f"The TLS certificate of {host} could not be verified ({rejected.verify_message}), so "
                    f"nothing was sent to {self._api}: check the {self._api} base URL, or the proxy in "
                    "between.",
                    FailureType.config_error,
                )
        if isinstance(response_or_exception, Exception):
            for cls in type(response_or_exception).__mro__:
                resolution = self._error_mapping.get(cls)
                if resolution is not None:
                    return resolution
        elif (
            isinstance(response_or_exception, requests.Response)
            and 200 <= response_or_exception.status_code < 204
        ):
            try:
                response_json(response_or_exception)
            except orjson.JSONDecodeError:
                return retry(f"{self._api} answered with a malformed or truncated body.")
        resolution = super().interpret_response(response_or_exception)
        if resolution.response_action == ResponseAction.FAIL and isinstance(
            response_or_exception, requests.Response
        ):
            # The API's own words usually say exactly what to fix (which permission, which parameter).
            detail = self._api_message(response_or_exception)
            if detail:
                return fail(
                    f"{resolution.error_message} {self._api} said: {detail}",
                    resolution.failure_type or FailureType.system_error,
                )
        return resolution

    def _api_message(self, response: requests.Response) -> str | None:
        try:
            return self._error_detail(response_json(response))
        except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError, IndexError):
            return None


def _certificate_rejection(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind an SSL error (requests and urllib3 wrap it a few levels
    deep); None for other SSL errors, such as a connection cut during the handshake, which are transient."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        pending += [link for link in linked if isinstance(link, BaseException)]
    return None


class RetryAfterBackoff(BackoffStrategy):
    """Waits what `Retry-After` asks, else exponentially longer with jitter, capped.

    Jitter spreads the retries of concurrent workers so they do not hit a recovering API at the same instant.
    """

    def __init__(
        self, base_seconds: float = 1.0, cap_seconds: float = 60.0, max_retry_after_seconds: float = 300.0
    ) -> None:
        self._base = base_seconds
        self._cap = cap_seconds
        self._max_retry_after = max_retry_after_seconds

    def backoff_time(
        self, response_or_exception: requests.Response | requests.RequestException | None, attempt_count: int
    ) -> float | None:
        response = response_or_exception if isinstance(response_or_exception, requests.Response) else None
        if response is None and isinstance(response_or_exception, requests.RequestException):
            response = response_or_exception.response
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return float(min(retry_after, self._max_retry_after))
        ceiling: float = min(self._cap, self._base * 2.0 ** max(attempt_count - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date (RFC 9110); None when absent
    or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)
