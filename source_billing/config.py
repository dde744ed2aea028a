"""The connector's configuration: parsed once, validated with messages a user can act on.

The JSON schema in `spec.yaml` is the one check of shapes (types, enums, patterns, bounds), run before
any of this; this module adds what a schema cannot say clearly: that at least one API is configured, that
a key has no white space and is of the right kind, that dates are real RFC 3339 instants in the past, that
a base URL is http(s) and plain http only on loopback. Every problem is raised as a `config_error` trace
naming the field, never quoting a secret.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pendulum
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

STRIPE_DEFAULT_API_VERSION = "2026-10-28.endive"  # the schemas' version: stripe/endpoints.json `api_version`
STRIPE_DEFAULT_BASE_URL = "https://api.stripe.com"
ORB_DEFAULT_BASE_URL = "https://api.withorb.com"
INTEGRATOR_IO_BASE_URLS = {"us": "https://api.integrator.io", "eu": "https://api.eu.integrator.io"}
DEFAULT_MAX_CONCURRENCY = 32
MOST_CONCURRENCY = 128  # the spec's `max_concurrency` maximum
# Stripe's documented limits (https://docs.stripe.com/rate-limits); an account may have them raised.
STRIPE_LIVE_REQUESTS_PER_SECOND = 100
STRIPE_TEST_REQUESTS_PER_SECOND = 25
STRIPE_ENDPOINT_REQUESTS_PER_SECOND = 25
NO_API_CONFIGURED = (
    "No API is configured: add a `stripe`, `orb` or `integrator_io` section with its API key "
    "(at least one of the three)."
)


def config_error(message: str) -> AirbyteTracedException:
    """An error the user must fix in the connector's configuration."""
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )


# The objects Stripe Search covers (the spec's `search_streams` enum), each with Search's own rate limit.
SEARCHABLE_STRIPE_OBJECTS = (
    "charges",
    "customers",
    "invoices",
    "payment_intents",
    "prices",
    "products",
    "subscriptions",
)


@dataclass(frozen=True)
class StripeSearchStream:
    """A stream of the objects a Stripe Search query finds (`stripe.search_streams`)."""

    name: str
    object: str
    query: str


@dataclass(frozen=True)
class StripeCustomStream:
    """A stream of any Stripe list endpoint (`stripe.custom_streams`)."""

    name: str
    path: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StripeConfig:
    """The `stripe` section."""

    client_secret: str
    account_ids: tuple[str, ...] = ()
    start_date: pendulum.DateTime | None = None
    lookback_window_days: int = 0
    # None: each list is one window from the start date, split as it turns out dense.
    slice_range_days: int | None = None
    # How often incremental syncs re-read the streams nothing shows the changes of (0: every sync).
    refresh_interval_hours: int = 24
    api_version: str = STRIPE_DEFAULT_API_VERSION
    api_base_url: str = STRIPE_DEFAULT_BASE_URL
    search_streams: tuple[StripeSearchStream, ...] = ()
    custom_streams: tuple[StripeCustomStream, ...] = ()
    requests_per_second: int | None = None
    endpoint_requests_per_second: int = STRIPE_ENDPOINT_REQUESTS_PER_SECOND

    @property
    def is_live_mode(self) -> bool:
        """Live keys get Stripe's live rate limit (100/s); test keys get 25/s."""
        return self.client_secret.startswith(("sk_live_", "rk_live_"))

    @property
    def account_requests_per_second(self) -> int:
        """The account-wide limit the sync keeps under: as configured (Stripe raises some accounts'
        limits), else Stripe's documented limit for the key's mode."""
        if self.requests_per_second is not None:
            return self.requests_per_second
        return STRIPE_LIVE_REQUESTS_PER_SECOND if self.is_live_mode else STRIPE_TEST_REQUESTS_PER_SECOND


@dataclass(frozen=True)
class OrbConfig:
    """The `orb` section."""

    api_key: str
    start_date: pendulum.DateTime | None = None
    lookback_window_days: int = 0
    numeric_event_properties_keys: tuple[str, ...] = ()
    string_event_properties_keys: tuple[str, ...] = ()
    subscription_usage_grouping_key: str | None = None
    plan_id: str | None = None
    api_base_url: str = ORB_DEFAULT_BASE_URL


@dataclass(frozen=True)
class IntegratorIoConfig:
    """The `integrator_io` section."""

    api_token: str
    region: str = "us"
    api_base_url: str = INTEGRATOR_IO_BASE_URLS["us"]


@dataclass(frozen=True)
class BillingConfig:
    """The whole configuration; `None` for an API the user did not configure."""

    stripe: StripeConfig | None = None
    orb: OrbConfig | None = None
    integrator_io: IntegratorIoConfig | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    configured_apis: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> BillingConfig:
        """The typed config of a raw one that meets the spec (both connectors' entry points check it
        first: `runtime.inputs.spec_violation`), with the checks the spec's schema cannot make.

        Raises:
            AirbyteTracedException: a `config_error` naming the field and what to change.
        """
        stripe = _parse_stripe(raw.get("stripe"))
        orb = _parse_orb(raw.get("orb"))
        integrator_io = _parse_integrator_io(raw.get("integrator_io"))
        apis = tuple(
            name
            for name, section in (("stripe", stripe), ("orb", orb), ("integrator_io", integrator_io))
            if section
        )
        if not apis:
            raise config_error(NO_API_CONFIGURED)
        return cls(
            stripe=stripe,
            orb=orb,
            integrator_io=integrator_io,
            max_concurrency=_given(raw, "max_concurrency", DEFAULT_MAX_CONCURRENCY),
            configured_apis=apis,
        )


def without_unset_fields(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` without the optional fields it sets to null, at every level `schema` declares.

    A null optional field means unset, as if it were left out (a form or an API client may send null for a
    field the user cleared); the parsing here already reads it so, and the spec check must not refuse it. A
    required field set to null stays, for that check to refuse.
    """
    if isinstance(value, Mapping):
        fields: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return {
            key: without_unset_fields(item, fields[key]) if key in fields else item
            for key, item in value.items()
            if item is not None or key not in fields or key in required
        }
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        return [without_unset_fields(item, items) for item in value]
    return value


def _given(section: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """A setting's value; `default` when it is left out, null or empty (all mean unset)."""
    value = section.get(key)
    return default if value is None or value == "" else value


def _secret(section: Mapping[str, Any], key: str, api: str, where_to_find: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise config_error(f"`{api}.{key}` is missing or empty: {where_to_find}")
    if value != value.strip() or any(ch.isspace() for ch in value):
        # A key pasted with a newline or space would be sent as is and rejected as invalid.
        raise config_error(
            f"`{api}.{key}` contains white space: paste the key again without spaces or line breaks."
        )
    return value


def _start_date(section: Mapping[str, Any], api: str) -> pendulum.DateTime | None:
    value = _given(section, "start_date")
    if value is None:
        return None
    example = "for example 2024-01-01T00:00:00Z"
    try:
        parsed = pendulum.parse(value, strict=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        parsed = None  # a date the spec's pattern lets through, such as 2024-13-01T00:00:00Z
    if not isinstance(parsed, pendulum.DateTime):
        raise config_error(f"`{api}.start_date` is not an RFC 3339 date-time ({example}): {value!r}.")
    parsed = parsed.in_tz("UTC")
    if parsed > pendulum.now("UTC"):
        raise config_error(
            f"`{api}.start_date` {value!r} is in the future: use a past date, or leave it empty for "
            "all history."
        )
    return parsed


def _base_url(section: Mapping[str, Any], api: str, default: str) -> str:
    value = _given(section, "api_base_url")
    if value is None:
        return default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config_error(
            f"`{api}.api_base_url` must be an http(s) URL such as {default}; got a value with scheme "
            f"{parts.scheme!r}."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise config_error(
            f"`{api}.api_base_url` must be a plain base URL such as {default}, without query, "
            "fragment or credentials."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise config_error(
            f"`{api}.api_base_url` uses plain http to {parts.hostname}: API keys must travel over "
            "TLS, so use https "
            "(plain http is accepted only for loopback addresses such as a local test server)."
        )
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        raise config_error(
            f"`{api}.api_base_url` must be the API root without `/v1` (the connector appends it), "
            f"such as {default}."
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _parse_stripe(section: Mapping[str, Any] | None) -> StripeConfig | None:
    if section is None:
        return None
    secret = _secret(
        section,
        "client_secret",
        "stripe",
        "copy a secret (sk_...) or restricted (rk_...) key from Stripe's Dashboard, Developers > API keys.",
    )
    if not secret.startswith(("sk_", "rk_")):
        raise config_error(
            "`stripe.client_secret` must be a Stripe secret key (starting with sk_) or restricted "
            "key (rk_); publishable keys (pk_) cannot read data."
        )
    account_ids = tuple(_given(section, "account_ids", ()))
    if len(set(account_ids)) != len(account_ids):
        raise config_error(
            "`stripe.account_ids` lists the same account twice: list each Connect account once."
        )
    return StripeConfig(
        client_secret=secret,
        account_ids=account_ids,
        start_date=_start_date(section, "stripe"),
        lookback_window_days=_given(section, "lookback_window_days", 0),
        slice_range_days=_given(section, "slice_range_days"),
        refresh_interval_hours=_given(section, "refresh_interval_hours", 24),
        api_version=_given(section, "api_version", STRIPE_DEFAULT_API_VERSION),
        api_base_url=_base_url(section, "stripe", STRIPE_DEFAULT_BASE_URL),
        search_streams=tuple(
            _search_stream(entry, index) for index, entry in enumerate(_given(section, "search_streams", ()))
        ),
        custom_streams=tuple(
            _custom_stream(entry, index) for index, entry in enumerate(_given(section, "custom_streams", ()))
        ),
        requests_per_second=_given(section, "requests_per_second"),
        endpoint_requests_per_second=_given(
            section, "endpoint_requests_per_second", STRIPE_ENDPOINT_REQUESTS_PER_SECOND
        ),
    )


def _search_stream(entry: Mapping[str, Any], index: int) -> StripeSearchStream:
    query = entry["query"]
    if not query.strip():
        raise config_error(
            f"`stripe.search_streams[{index}].query` is empty: write a Stripe Search query such as "
            "`status:'succeeded' AND amount>1000` (https://docs.stripe.com/search#search-query-language)."
        )
    return StripeSearchStream(name=entry["name"], object=entry["object"], query=query)


def _custom_stream(entry: Mapping[str, Any], index: int) -> StripeCustomStream:
    params = entry.get("params") or {}
    reserved = {"limit", "starting_after", "ending_before"} & set(params)
    if reserved or any(str(key).startswith("created") for key in params):
        raise config_error(
            f"`stripe.custom_streams[{index}].params` may not set pagination or `created` (the connector "
            "sets them)."
        )
    return StripeCustomStream(
        name=entry["name"],
        path=entry["path"],
        params=tuple(
            sorted((str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items())
        ),
    )


def _parse_orb(section: Mapping[str, Any] | None) -> OrbConfig | None:
    if section is None:
        return None
    return OrbConfig(
        api_key=_secret(
            section, "api_key", "orb", "create an API key in Orb's web app under Developers > API keys."
        ),
        start_date=_start_date(section, "orb"),
        lookback_window_days=_given(section, "lookback_window_days", 0),
        numeric_event_properties_keys=tuple(_given(section, "numeric_event_properties_keys", ())),
        string_event_properties_keys=tuple(_given(section, "string_event_properties_keys", ())),
        subscription_usage_grouping_key=_given(section, "subscription_usage_grouping_key"),
        plan_id=_given(section, "plan_id"),
        api_base_url=_base_url(section, "orb", ORB_DEFAULT_BASE_URL),
    )


def _parse_integrator_io(section: Mapping[str, Any] | None) -> IntegratorIoConfig | None:
    if section is None:
        return None
    region = _given(section, "region", "us")
    return IntegratorIoConfig(
        api_token=_secret(
            section,
            "api_token",
            "integrator_io",
            "create a full-access API token in integrator.io under Resources > API tokens, in the "
            "publishing account.",
        ),
        region=region,
        api_base_url=_base_url(section, "integrator_io", INTEGRATOR_IO_BASE_URLS[region]),
    )
