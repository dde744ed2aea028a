"""Configuration parsing: every bad input is a config_error that names the field and what to change."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing import SourceBilling
from source_billing.config import INTEGRATOR_IO_BASE_URLS, NO_API_CONFIGURED, BillingConfig
from source_billing.runtime.inputs import spec_violation

STRIPE = {"client_secret": "sk_test_sentinel"}
SPEC = SourceBilling().spec(logging.getLogger("test")).connectionSpecification


def _config_error(raw: Any) -> str:
    """The error of a config, checked as the entry point checks it: against the spec, then parsed."""
    problem = spec_violation(raw, SPEC)
    if problem is None:
        with pytest.raises(AirbyteTracedException) as caught:
            BillingConfig.parse(raw)
        problem = caught.value
    assert problem.failure_type == FailureType.config_error
    return str(problem.message)


def test_given_no_api_section_when_parsed_then_config_error_says_what_to_add() -> None:
    assert _config_error({}) == NO_API_CONFIGURED
    assert "`stripe`, `orb` or `integrator_io`" in NO_API_CONFIGURED


def test_given_only_stripe_when_parsed_then_only_stripe_is_configured_with_defaults() -> None:
    parsed = BillingConfig.parse({"stripe": STRIPE})
    assert parsed.configured_apis == ("stripe",)
    assert parsed.stripe is not None
    assert parsed.stripe.api_base_url == "https://api.stripe.com"
    assert parsed.stripe.slice_range_days is None  # one window from the start date, split when dense
    assert parsed.stripe.lookback_window_days == 0
    assert parsed.stripe.api_version == "2026-10-28.endive"
    assert not parsed.stripe.is_live_mode


@pytest.mark.parametrize("key", ["sk_live_x1", "rk_live_x1"])
def test_given_live_key_when_parsed_then_live_mode(key: str) -> None:
    parsed = BillingConfig.parse({"stripe": {"client_secret": key}})
    assert parsed.stripe is not None
    assert parsed.stripe.is_live_mode


@pytest.mark.parametrize(
    ("section", "account", "endpoint"),
    [
        ({"client_secret": "sk_live_x1"}, 100, 25),
        ({"client_secret": "sk_test_x1"}, 25, 25),
        (
            {"client_secret": "sk_live_x1", "requests_per_second": 400, "endpoint_requests_per_second": 100},
            400,
            100,
        ),
    ],
)
def test_given_stripe_limits_when_parsed_then_the_documented_ones_unless_raised(
    section: dict[str, Any], account: int, endpoint: int
) -> None:
    parsed = BillingConfig.parse({"stripe": section})
    assert parsed.stripe is not None
    assert parsed.stripe.account_requests_per_second == account
    assert parsed.stripe.endpoint_requests_per_second == endpoint


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"stripe": {}}, "`stripe.client_secret` is required"),
        ({"stripe": {"client_secret": ""}}, "`stripe.client_secret` is missing or empty: copy a secret"),
        ({"stripe": {"client_secret": "pk_test_1"}}, "publishable keys"),
        ({"stripe": {"client_secret": "sk_test_1 "}}, "white space"),
        (
            {"stripe": {**STRIPE, "account_ids": ["acc_1"]}},
            "`stripe.account_ids[0]` must have the form acct_",
        ),
        ({"stripe": {**STRIPE, "account_ids": ["acct_1", "acct_1"]}}, "same account twice"),
        ({"stripe": {**STRIPE, "start_date": "2024-13-01T00:00:00Z"}}, "not an RFC 3339"),
        (
            {"stripe": {**STRIPE, "start_date": "2024-01-01"}},
            "`stripe.start_date` must have the form YYYY-MM-DDTHH:mm:ssZ",
        ),
        ({"stripe": {**STRIPE, "start_date": "2999-01-01T00:00:00Z"}}, "in the future"),
        ({"stripe": {**STRIPE, "slice_range_days": 0}}, "`stripe.slice_range_days` must be between 1"),
        ({"stripe": {**STRIPE, "lookback_window_days": "3"}}, "whole number"),
        ({"stripe": {**STRIPE, "api_base_url": "ftp://example.com"}}, "must be an http(s) URL"),
        ({"stripe": {**STRIPE, "api_base_url": "http://example.com"}}, "plain http"),
        ({"stripe": {**STRIPE, "api_base_url": "https://api.stripe.com/v1"}}, "without `/v1`"),
        ({"orb": {"api_key": ""}}, "`orb.api_key` is missing"),
        (
            {"orb": {"api_key": "k", "numeric_event_properties_keys": "tokens"}},
            "`orb.numeric_event_properties_keys` must be a list",
        ),
        (
            {"integrator_io": {"api_token": "t", "region": "apac"}},
            "`integrator_io.region` must be one of: us, eu",
        ),
        ({"integrator_io": "token"}, "`integrator_io` must be an object with `api_token`"),
        ({"stripe": STRIPE, "max_concurrency": 0}, "`max_concurrency` must be between 1"),
        ({"stripe": {**STRIPE, "requests_per_second": 0}}, "`stripe.requests_per_second` must be between 1"),
        ({"stripe": {**STRIPE, "endpoint_requests_per_second": 2.5}}, "whole number"),
    ],
)
def test_given_bad_value_when_parsed_then_specific_config_error(raw: dict[str, Any], expected: str) -> None:
    assert expected in _config_error(raw)


def test_given_secret_with_bad_shape_when_parsed_then_message_never_quotes_it() -> None:
    message = _config_error({"stripe": {"client_secret": "pk_live_SENTINEL_SECRET"}})
    assert "SENTINEL" not in message


def test_given_loopback_http_base_url_when_parsed_then_accepted_without_trailing_slash() -> None:
    parsed = BillingConfig.parse({"stripe": {**STRIPE, "api_base_url": "http://127.0.0.1:8080/stripe/"}})
    assert parsed.stripe is not None
    assert parsed.stripe.api_base_url == "http://127.0.0.1:8080/stripe"


@pytest.mark.parametrize("region", ["us", "eu"])
def test_given_region_when_parsed_then_base_url_is_the_regions_host(region: str) -> None:
    parsed = BillingConfig.parse({"integrator_io": {"api_token": "t", "region": region}})
    assert parsed.integrator_io is not None
    assert parsed.integrator_io.api_base_url == INTEGRATOR_IO_BASE_URLS[region]


def test_given_region_and_base_url_when_parsed_then_base_url_overrides_region() -> None:
    raw = {
        "integrator_io": {
            "api_token": "t",
            "region": "eu",
            "api_base_url": "https://proxy.example.com/celigo",
        }
    }
    parsed = BillingConfig.parse(raw)
    assert parsed.integrator_io is not None
    assert parsed.integrator_io.api_base_url == "https://proxy.example.com/celigo"


def test_given_search_and_custom_streams_when_parsed_then_typed_entries() -> None:
    raw = {
        "stripe": {
            **STRIPE,
            "search_streams": [{"name": "big_charges", "object": "charges", "query": "amount>1000"}],
            "custom_streams": [
                {"name": "tax_codes", "path": "/v1/tax_codes", "params": {"active": True, "x": 3}}
            ],
        }
    }
    parsed = BillingConfig.parse(raw)
    assert parsed.stripe is not None
    (search,) = parsed.stripe.search_streams
    assert (search.name, search.object, search.query) == ("big_charges", "charges", "amount>1000")
    (custom,) = parsed.stripe.custom_streams
    assert (custom.name, custom.path, custom.params) == (
        "tax_codes",
        "/v1/tax_codes",
        (("active", "true"), ("x", "3")),
    )


@pytest.mark.parametrize(
    ("entry", "key", "expected"),
    [
        (
            {"name": "Big Charges", "object": "charges", "query": "a:1"},
            "search_streams",
            "must have the form lower_snake_case",
        ),
        ({"name": "x", "object": "refunds", "query": "a:1"}, "search_streams", "must be one of: charges"),
        ({"name": "x", "object": "charges", "query": " "}, "search_streams", "Stripe Search query"),
        (
            {"name": "x", "path": "/v1/customers/{id}/sources"},
            "custom_streams",
            "must have the form /v1/list_name",
        ),
        ({"name": "x", "path": "v1/tax_codes"}, "custom_streams", "must have the form /v1/list_name"),
        ({"name": "x", "path": "/v1/tax_codes", "params": {"limit": 5}}, "custom_streams", "pagination"),
        (
            {"name": "x", "path": "/v1/tax_codes", "params": {"created[gte]": 5}},
            "custom_streams",
            "pagination",
        ),
        (
            {"name": "x", "path": "/v1/tax_codes", "params": {"a": [1]}},
            "custom_streams",
            "must be a string, a whole number or a boolean",
        ),
    ],
)
def test_given_bad_extra_stream_when_parsed_then_config_error_names_the_entry(
    entry: dict[str, Any], key: str, expected: str
) -> None:
    message = _config_error({"stripe": {**STRIPE, key: [entry]}})
    assert f"stripe.{key}[0]" in message
    assert expected in message
