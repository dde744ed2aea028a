"""One HTTP client per API for the destination, built from the source's pieces: its credentials and rate
budgets (each API's `ApiContext`), its error mappings, retries with `Retry-After` and
backoff, timeouts and error-message parsing (`source_billing.http.errors`).

Reads (GET) retry as the source's do. Writes retry only where a repeat cannot apply twice: a Stripe POST
carries an `Idempotency-Key` (Stripe replays the first answer), and every write retries a 429 or a connect
timeout, which the API never received. A write answered 5xx, cut off or timed out while waiting for the
answer may have been applied: it is never repeated; the run stops, and the next run reads the object first
and sees what was done. A 4xx rejects that record only, with the API's own words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.auth import AuthBase

from source_billing.config import IntegratorIoConfig, OrbConfig, StripeConfig
from source_billing.http.budget import LayeredBudget
from source_billing.http.context import ApiContext
from source_billing.http.errors import (
    REQUEST_TIMEOUT,
    ApiErrorHandler,
    ErrorMapping,
    RetryAfterBackoff,
    fail,
    response_json,
    retry,
)
from source_billing.incremental.cursors import DEFAULT_PARTITION
from source_billing.integrator_io.base import (
    integrator_io_api,
    integrator_io_error_detail,
    integrator_io_error_mapping,
)
from source_billing.orb.base import orb_api, orb_error_detail, orb_error_mapping
from source_billing.stripe.api import stripe_api, stripe_error_detail, stripe_error_mapping, stripe_headers

# The statuses the write mappings decide themselves: the CDK retries a status its mapping lacks.
HTTP_ERRORS = range(400, 600)
# Statuses that mean the API did not act on the request, so a write may be sent again.
NOT_APPLIED = (408, 429)
ACCESS_DENIED = (401, 403)
LICENSES_PATH = "connectors/{connector_id}/licenses"
_NOT_FOUND = ErrorResolution(ResponseAction.IGNORE, None, "Not found.")
_REJECTED = ErrorResolution(
    ResponseAction.IGNORE, None, "The API refused the record: it is reported as rejected."
)


@dataclass(frozen=True)
class WriteRequest:
    """One write: `path` is relative to the API's `/v1/`."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the API's answer, or the reason it rejected the record."""

    body: Any = None
    rejected: str | None = None


@dataclass(frozen=True)
class Api:
    """What the destination needs of one API, taken from the source's per-API context.

    Attributes:
        name: the API's name as users know it.
        url_base: the API root with `/v1/`.
        authenticator: the source's token authenticator.
        budget: the source's rate budget for this API.
        read_mapping: the source's error mapping for this API.
        error_detail: the source's parser of this API's error bodies.
        form_encoded: bodies are `application/x-www-form-urlencoded` (Stripe), else JSON.
        idempotent_posts: POSTs carry an `Idempotency-Key` whose replay the API guarantees, so they retry.
        headers: headers of every request (Stripe's pinned version).
        context: the source's per-API context, for reading lists with the source's own streams.
    """

    name: str
    url_base: str
    authenticator: AuthBase
    budget: LayeredBudget
    read_mapping: ErrorMapping
    error_detail: Callable[[Any], str | None]
    form_encoded: bool = False
    idempotent_posts: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    context: ApiContext[Any] | None = None

    @classmethod
    def stripe(cls, config: StripeConfig, endpoints: Iterable[str]) -> Api:
        context = stripe_api(config, endpoints)
        return cls(
            name="Stripe",
            url_base=context.url_base,
            authenticator=context.authenticator,
            budget=context.budget,
            read_mapping=stripe_error_mapping(),
            error_detail=stripe_error_detail,
            form_encoded=True,
            idempotent_posts=True,
            headers=stripe_headers(config, DEFAULT_PARTITION),
            context=context,
        )

    @classmethod
    def orb(cls, config: OrbConfig) -> Api:
        context = orb_api(config)
        return cls(
            name="Orb",
            url_base=context.url_base,
            authenticator=context.authenticator,
            budget=context.budget,
            read_mapping=orb_error_mapping(),
            error_detail=orb_error_detail,
            context=context,
        )

    @classmethod
    def integrator_io(cls, config: IntegratorIoConfig) -> Api:
        context = integrator_io_api(config)
        return cls(
            name="integrator.io",
            url_base=context.url_base,
            authenticator=context.authenticator,
            budget=context.budget,
            read_mapping=integrator_io_error_mapping(config, LICENSES_PATH),
            error_detail=integrator_io_error_detail,
            context=context,
        )


def write_error_mapping(api: Api, repeatable: bool) -> ErrorMapping:
    """How a write's failures are handled: 4xx rejects the record (the caller reports it); 401 and 403 stop
    the run as the source's mapping says; 408 and 429 retry; 5xx and transport failures retry only a
    `repeatable` write, else stop the run as a transient error (the write may have been applied)."""
    mapping: dict[int | str | type[Exception], ErrorResolution] = dict(api.read_mapping)
    ambiguous = fail(
        f"{api.name} did not answer a write clearly (it may have been applied), so the run stopped here "
        "instead of sending it again. Run the sync again: every record is read again first, and what was "
        "applied is left unchanged.",
        FailureType.transient_error,
    )
    for status in HTTP_ERRORS:
        if status in ACCESS_DENIED or status in NOT_APPLIED:
            continue
        if status >= 500:
            mapping[status] = mapping.get(status, ambiguous) if repeatable else ambiguous
        elif status == 409 and repeatable:
            continue  # Stripe: another request with the same idempotency key is still running
        else:
            mapping[status] = _REJECTED
    if not repeatable:
        mapping[requests.exceptions.RequestException] = ambiguous
        mapping[requests.exceptions.ConnectTimeout] = retry(f"The connection to {api.name} timed out.")
    return mapping


class WriteErrorHandler(ApiErrorHandler):
    """The source's handler, except that any 2xx is a success: a write that was applied is never sent
    again because its answer's body was cut short."""

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None = None
    ) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.ok:
            return ErrorResolution(ResponseAction.SUCCESS, None, None)
        return super().interpret_response(response_or_exception)


class ApiClient:
    """GETs and writes to one API, sharing its session, authentication and rate budget.

    Args:
        api: the API.
        logger: the connector's logger.
        read_only: refuse every write (a dry run): a programming error then fails loudly instead of writing.
    """

    def __init__(self, api: Api, logger: logging.Logger, *, read_only: bool) -> None:
        self.api = api
        self.read_only = read_only
        self._session = requests.Session()
        not_found: dict[int | str | type[Exception], ErrorResolution] = {404: _NOT_FOUND}
        self._read = self._client(
            ApiErrorHandler(logger, api.name, {**api.read_mapping, **not_found}, api.error_detail), logger
        )
        self._repeatable = self._client(
            WriteErrorHandler(logger, api.name, write_error_mapping(api, True), api.error_detail), logger
        )
        self._once = self._client(
            WriteErrorHandler(logger, api.name, write_error_mapping(api, False), api.error_detail), logger
        )

    def _client(self, handler: ApiErrorHandler, logger: logging.Logger) -> HttpClient:
        return HttpClient(
            name=self.api.name,
            logger=logger,
            error_handler=handler,
            backoff_strategy=RetryAfterBackoff(),
            api_budget=self.api.budget,
            session=self._session,
            authenticator=self.api.authenticator,
        )

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any | None:
        """The JSON body of `GET /v1/{path}`, or None when the API answers 404."""
        _, response = self._read.send_request(
            "GET",
            self.api.url_base + path,
            request_kwargs={"timeout": REQUEST_TIMEOUT},
            headers=dict(self.api.headers),
            params=dict(params or {}),
        )
        if response.status_code == 404:
            return None
        return response_json(response)

    def write(self, request: WriteRequest) -> WriteResult:
        """Send one write; a 4xx answer comes back as `rejected`, with the API's message.

        Raises:
            AirbyteTracedException: access refused (`config_error`), or an answer that leaves unclear whether
                the write was applied (`transient_error`).
        """
        if self.read_only:
            raise AirbyteTracedException(
                message="Internal error: a dry run tried to write.",
                failure_type=FailureType.system_error,
            )
        headers = dict(self.api.headers)
        repeatable = False
        if request.idempotency_key is not None and request.method == "POST":
            headers["Idempotency-Key"] = request.idempotency_key
            repeatable = self.api.idempotent_posts
        data: str | None = None
        json: Mapping[str, Any] | None = None
        if request.body is not None and self.api.form_encoded:
            data = urlencode(form_fields(request.body))
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif request.body is not None:
            json = request.body
        _, response = (self._repeatable if repeatable else self._once).send_request(
            request.method,
            self.api.url_base + request.path,
            request_kwargs={"timeout": REQUEST_TIMEOUT},
            headers=headers,
            json=json,
            data=data,
        )
        if response.ok:
            return WriteResult(body=_body_or_none(response))
        return WriteResult(rejected=self.reason(response))

    def reason(self, response: requests.Response) -> str:
        """Why the API refused a request, in its own words."""
        try:
            detail = self.api.error_detail(response_json(response))
        except Exception:  # a body that is not the API's error shape: its status says enough
            detail = None
        return f"{self.api.name} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")


def _body_or_none(response: requests.Response) -> Any:
    try:
        return response_json(response)
    except ValueError:
        return None  # applied; the body was empty or cut short


def form_fields(body: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A JSON-like body as Stripe's form fields: `metadata[key]=value`, `items[0][price]=...`; null becomes
    the empty string, which unsets a field; booleans are `true`/`false`."""
    fields: list[tuple[str, str]] = []
    for key, value in body.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            fields += form_fields(value, name)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    fields += form_fields(item, f"{name}[{index}]")
                else:
                    fields.append((f"{name}[{index}]", _form_value(item)))
        else:
            fields.append((name, _form_value(value)))
    return fields


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
