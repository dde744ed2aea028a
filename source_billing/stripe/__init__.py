"""Stripe: payments and subscription billing (https://docs.stripe.com/api)."""

from __future__ import annotations

import logging

import pendulum
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction

from source_billing.config import StripeConfig
from source_billing.http.check import probe
from source_billing.http.errors import response_json
from source_billing.incremental.cursors import DEFAULT_PARTITION
from source_billing.stripe.api import stripe_api, stripe_error_detail, stripe_error_mapping, stripe_headers
from source_billing.stripe.base import StripeStream
from source_billing.stripe.declarations import Parent
from source_billing.stripe.event_feed import EventFeed
from source_billing.stripe.extra import custom_row, extra_streams
from source_billing.stripe.meters import METER_EVENT_SUMMARIES, MeterEventSummaries
from source_billing.stripe.streams import STREAMS

__all__ = ["check", "streams"]


def streams(config: StripeConfig) -> list[StripeStream]:
    """The Stripe streams for this configuration, sharing one rate budget."""
    custom = {f"/v1/{custom_row(stream).path}" for stream in config.custom_streams}
    api = stripe_api(config, endpoints() | custom)
    # Every events window of the sync ends when its streams are made.
    events = EventFeed(until=int(pendulum.now("UTC").timestamp()))
    declared = [StripeStream(api=api, events=events, row=row) for row in STREAMS]
    declared.append(MeterEventSummaries(api=api, events=events))
    return declared + extra_streams(api, events, config)


def endpoints() -> set[str]:
    """Every endpoint template the streams call, each with its own per-endpoint rate limit."""
    found = {"/v1/events"}
    for row in (*STREAMS, METER_EVENT_SUMMARIES):
        if row.path:
            found.add(f"/v1/{row.path}")
        parent: Parent | None = row.parent
        while parent is not None:
            found.update((f"/v1/{parent.path}", f"/v1/{parent.child_path}"))
            parent = parent.through
    return found


def check(config: StripeConfig, logger: logging.Logger) -> str | None:
    """None when the key works (for every Connect account listed), else what is wrong.

    `GET /v1/account` is the cheapest authenticated call. A restricted key may lack the permission to read
    the account object itself: that 403 still proves the key is valid, unless Stripe says the Connect
    account is not reachable (`account_invalid`).
    """
    api = stripe_api(config)
    mapping = {**stripe_error_mapping(), 403: ErrorResolution(ResponseAction.IGNORE, None, "checked below")}
    for account in config.account_ids or (DEFAULT_PARTITION,):
        headers = stripe_headers(config, account)
        response = probe(api, "account", mapping, stripe_error_detail, logger, headers)
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
