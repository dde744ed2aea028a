"""Stripe: payments and subscription billing (https://docs.stripe.com/api)."""

from __future__ import annotations

import logging

from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction

from source_billing.check import probe
from source_billing.config import StripeConfig
from source_billing.errors import response_json
from source_billing.stripe.base import StripeApi, StripeStream, stripe_error_detail, stripe_error_mapping
from source_billing.stripe.streams import build_streams

__all__ = ["check", "streams"]


def streams(config: StripeConfig) -> list[StripeStream]:
    """The Stripe streams for this configuration."""
    return build_streams(StripeApi.from_config(config))


def check(config: StripeConfig, logger: logging.Logger) -> str | None:
    """None when the key works (for every Connect account listed), else what is wrong.

    `GET /v1/account` is the cheapest authenticated call. A restricted key may lack the permission to read
    the account object itself: that 403 still proves the key is valid, unless Stripe says the Connect
    account is not reachable (`account_invalid`).
    """
    api = StripeApi.from_config(config)
    mapping = {**stripe_error_mapping(), 403: ErrorResolution(ResponseAction.IGNORE, None, "checked below")}
    for account in config.account_ids or (None,):
        response = probe(
            api="Stripe",
            url=f"{api.url_base}account",
            authenticator=api.authenticator,
            error_mapping=mapping,
            error_detail=stripe_error_detail,
            logger=logger,
            headers={
                "Stripe-Version": config.api_version,
                **({"Stripe-Account": account} if account else {}),
            },
        )
        if response.status_code == 403:
            body = response_json(response)
            if body.get("error", {}).get("code") == "account_invalid":
                detail = stripe_error_detail(body)
                return (
                    f"Stripe: the key cannot access Connect account {account}: check "
                    f"`stripe.account_ids`. Stripe said: {detail}"
                )
            logger.warning(
                "Stripe: the restricted key may not read the account object; streams it may not read "
                "will fail."
            )
    return None
