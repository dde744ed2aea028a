"""What every Stripe stream of one sync shares: settings, credentials, errors, the rate budget.

Reference: https://docs.stripe.com/api/errors, https://docs.stripe.com/rate-limits,
https://docs.stripe.com/connect/authentication.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator

from source_billing.config import SEARCHABLE_STRIPE_OBJECTS, StripeConfig
from source_billing.http.breaker import CircuitBreaker
from source_billing.http.budget import LayeredBudget, Limit
from source_billing.http.context import ApiContext
from source_billing.http.errors import ErrorMapping, common_error_mapping, fail
from source_billing.incremental.cursors import DEFAULT_PARTITION

SEARCH_AND_FILES_REQUESTS_PER_SECOND = 20


def stripe_error_mapping() -> ErrorMapping:
    """What each failure means for a Stripe user, and what to do about it."""
    return common_error_mapping("Stripe") | {
        400: fail("Stripe rejected a request the connector made (HTTP 400); please report this."),
        401: fail(
            "Stripe rejected the API key (HTTP 401): check `stripe.client_secret` "
            "(Dashboard > Developers > API keys).",
            FailureType.config_error,
        ),
        403: fail(
            "Stripe refused access (HTTP 403): the key lacks a read permission for this object, or cannot "
            "act on the Connect account; grant the permission on the restricted key or remove the account.",
            FailureType.config_error,
        ),
        404: fail(
            "Stripe answered 404 for a list endpoint: check `stripe.api_base_url` "
            "(the API root without /v1).",
            FailureType.config_error,
        ),
    }


def stripe_error_detail(body: Any) -> str | None:
    """Stripe errors read `{"error": {"message", "code", "type"}}`."""
    error = body["error"]
    code = error.get("code")
    return f"{error['message']} ({code})" if code else str(error["message"])


StripeApi = ApiContext[StripeConfig]


def stripe_api(config: StripeConfig, endpoints: Iterable[str] = ()) -> StripeApi:
    """What the Stripe streams of one sync share. `endpoints` are the path templates (`/v1/...`) the streams
    call, each with its own 25/s."""
    per_account = config.account_requests_per_second
    # Search is one limit for all its endpoints; Files has its own.
    searches = tuple(f"/v1/{searched}/search" for searched in SEARCHABLE_STRIPE_OBJECTS)
    search_and_files = min(SEARCH_AND_FILES_REQUESTS_PER_SECOND, config.endpoint_requests_per_second)
    limits = [Limit(search_and_files, endpoints) for endpoints in (searches, ("/v1/files",))]
    limits += [Limit(config.endpoint_requests_per_second, (endpoint,)) for endpoint in sorted(set(endpoints))]
    limits.append(Limit(per_account))
    return ApiContext(
        config=config,
        authenticator=TokenAuthenticator(config.client_secret),
        budget=LayeredBudget(config.api_base_url, limits),
        breaker=CircuitBreaker("Stripe"),
    )


def stripe_headers(config: StripeConfig, partition: str) -> dict[str, str]:
    """Headers of every request: the pinned API version, and the Connect account when there is one."""
    headers = {"Stripe-Version": config.api_version}
    if partition != DEFAULT_PARTITION:
        headers["Stripe-Account"] = partition
    return headers
