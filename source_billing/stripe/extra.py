"""The streams a user adds in the configuration: Stripe Search queries and any Stripe list endpoint.

Search: https://docs.stripe.com/search (`GET /v1/{object}/search`, `page` -> `next_page`; eventually
consistent). Custom endpoints: whatever `GET /v1/...` list Stripe offers; `endpoints.json` (generated from
the pinned `stripe` SDK, for the default API version) says which schema its objects share and whether it
accepts `created` filters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from source_billing.config import (
    STRIPE_DEFAULT_API_VERSION,
    StripeConfig,
    StripeCustomStream,
    StripeSearchStream,
    config_error,
)
from source_billing.http.pages import NextPage
from source_billing.stripe.api import StripeApi
from source_billing.stripe.base import StripeStream
from source_billing.stripe.declarations import StripeObject
from source_billing.stripe.event_feed import EventFeed

SEARCH_REFERENCE = "https://docs.stripe.com/search"


@cache
def list_endpoints() -> Mapping[str, Mapping[str, Any]]:
    """Stripe's list endpoints without path parameters: `{path: {"schema", "created"}}`."""
    text = resources.files("source_billing.stripe").joinpath("endpoints.json").read_text(encoding="utf-8")
    endpoints: Mapping[str, Mapping[str, Any]] = json.loads(text)["endpoints"]
    return endpoints


class StripeSearch(StripeStream):
    """The objects one Stripe Search query finds, read in full every sync (search results lag behind)."""

    paginator = NextPage()

    def __init__(self, *, api: StripeApi, events: EventFeed, search: StripeSearchStream) -> None:
        row = StripeObject(
            search.name,
            SEARCH_REFERENCE,
            path=f"{search.object}/search",
            cursor=None,
            created_filter=False,
            params={"query": search.query},
            schema=search.object,
        )
        super().__init__(api=api, events=events, row=row)


def custom_row(custom: StripeCustomStream) -> StripeObject:
    """The declaration of a custom endpoint stream."""
    known = list_endpoints().get(custom.path)
    if known is None:
        raise config_error(
            f"`stripe.custom_streams`: {custom.path} is not a Stripe list endpoint of API version "
            f"{STRIPE_DEFAULT_API_VERSION} without path parameters; check the path in Stripe's API reference."
        )
    created = bool(known["created"])
    return StripeObject(
        custom.name,
        f"https://docs.stripe.com/api (GET {custom.path})",
        path=custom.path.removeprefix("/v1/"),
        cursor="created" if created else None,
        created_filter=created,
        params=dict(custom.params),
        schema=known["schema"] or "",
    )


def extra_streams(api: StripeApi, events: EventFeed, config: StripeConfig) -> list[StripeStream]:
    """The configured search and custom endpoint streams."""
    extra: list[StripeStream] = [
        StripeSearch(api=api, events=events, search=search) for search in config.search_streams
    ]
    extra += [
        StripeStream(api=api, events=events, row=custom_row(custom)) for custom in config.custom_streams
    ]
    return extra
