"""Bad configurations, generated over the spec (hypothesis), through the connector's entrypoint as Airbyte
runs it: `check` answers FAILED and `discover` / `read` end with a `config_error` trace, always with a
message a user can act on: not empty, not the CDK's "Something went wrong", no traceback, no secret. No
request is sent (any would mean a bad configuration was accepted).

Kinds of bad input: values of the wrong JSON type for every field of the spec, unknown regions, invalid and
future dates, non-http(s) base URLs and plain http to non-loopback hosts, empty or missing sections and
secrets, out-of-range numbers, malformed Connect account ids. Unknown Connect accounts need the API: see
`integration_tests/test_secrets.py`. The generators draw only configurations the connector must refuse: a
null optional field (or section) means unset, so null is a wrong type only for a required field; that
decision has tests of its own at the end.

The examples are the same every run (the `repeatable` hypothesis profile of `unit_tests/conftest.py`); the
cases worth keeping are explicit `@example`s.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pendulum
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteMessageSerializer,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from requests import PreparedRequest
from requests.adapters import HTTPAdapter

from source_billing import SourceBilling
from source_billing.config import (
    INTEGRATOR_IO_BASE_URLS,
    ORB_DEFAULT_BASE_URL,
    STRIPE_DEFAULT_API_VERSION,
    STRIPE_DEFAULT_BASE_URL,
    BillingConfig,
)
from source_billing.runtime.inputs import spec_violation
from source_billing.runtime.run import BillingEntrypoint

SENTINELS = {
    "stripe": ("client_secret", "sk_test_S3NT1NEL0f00d"),
    "orb": ("api_key", "S3NT1NEL0orb0f00d"),
    "integrator_io": ("api_token", "S3NT1NEL0integrator0f00d"),
}
VALID: dict[str, dict[str, Any]] = {
    section: {key: secret, "api_base_url": f"https://{section.replace('_', '-')}.example.com"}
    for section, (key, secret) in SENTINELS.items()
}
SPEC = SourceBilling().spec(logging.getLogger("airbyte")).connectionSpecification
PROPERTIES: dict[str, dict[str, Any]] = {
    section: SPEC["properties"][section]["properties"] for section in SENTINELS
}
REQUIRED: dict[str, list[str]] = {section: SPEC["properties"][section]["required"] for section in SENTINELS}
GENERIC_FAILURE = "Something went wrong"
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "')
SETTINGS = settings(
    settings.get_profile("repeatable"),
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SOAK_SETTINGS = settings(SETTINGS, max_examples=3000)

# --- strategies -----------------------------------------------------------------------------------------

JSON_VALUES = {
    "string": st.text(max_size=20),
    "integer": st.integers(min_value=-(10**6), max_value=10**6),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not float(x).is_integer()),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(st.integers(), max_size=3),
    "object": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
}


def _wrong_type_for(schema: Mapping[str, Any], required: bool) -> st.SearchStrategy[Any]:
    """Any JSON value whose type the field's schema does not allow; null only for a required field (a null
    optional field means unset)."""
    allowed = schema.get("type", [])
    allowed = {allowed} if isinstance(allowed, str) else set(allowed)
    if not required:
        allowed.add("null")
    # "number" here means a float with a fraction, which an "integer" field refuses too.
    return st.one_of([strategy for kind, strategy in JSON_VALUES.items() if kind not in allowed])


def _sections() -> st.SearchStrategy[dict[str, Any]]:
    """A valid configuration of one to three APIs."""
    return st.sets(st.sampled_from(sorted(SENTINELS)), min_size=1).map(
        lambda chosen: {section: copy.deepcopy(VALID[section]) for section in sorted(chosen)}
    )


@st.composite
def wrong_types(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    section = draw(st.sampled_from(sorted(config)))
    key = draw(st.sampled_from(sorted(PROPERTIES[section])))
    config[section][key] = draw(_wrong_type_for(PROPERTIES[section][key], key in REQUIRED[section]))
    return config


@st.composite
def unknown_regions(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    region = draw(st.text(max_size=10).filter(lambda value: value not in ("us", "eu", "")))
    config["integrator_io"] = {"api_token": SENTINELS["integrator_io"][1], "region": region}
    return config


RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
# Dates drawn from fixed ranges, so that the draws and what they mean do not depend on the day of the run:
# the impossible ones are built in years long past (a real instant among them is dropped), the future ones
# start in 2100.
PAST_YEARS = (1900, 2025)
FUTURE = pendulum.datetime(2100, 1, 1)


def _invalid_dates() -> st.SearchStrategy[str]:
    impossible = st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format,
        st.integers(*PAST_YEARS),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
    ).filter(lambda text: not _real_past_instant(text))
    future = st.datetimes(min_value=FUTURE.naive(), max_value=pendulum.datetime(9999, 1, 1).naive()).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    dates_without_time = st.dates().map(lambda day: day.isoformat())
    return st.one_of(
        st.text(max_size=25).filter(lambda text: text and not _real_past_instant(text)),
        impossible,
        future,
        dates_without_time,
    )


def _real_past_instant(text: str) -> bool:
    try:
        parsed = pendulum.parse(text, strict=True)
    except Exception:  # any parser error means "not a date"
        return False
    return isinstance(parsed, pendulum.DateTime) and "T" in text.upper() and parsed < pendulum.now("UTC")


@st.composite
def bad_dates(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    section = draw(st.sampled_from([s for s in ("stripe", "orb") if s in config] or ["stripe"]))
    config.setdefault(section, copy.deepcopy(VALID[section]))["start_date"] = draw(_invalid_dates())
    return config


def _non_loopback_hosts() -> st.SearchStrategy[str]:
    names = st.from_regex(r"\A[a-z][a-z0-9-]{0,15}(\.[a-z]{2,6}){1,2}\Z").filter(lambda h: h != "localhost")
    addresses = (
        st.ip_addresses()
        .filter(lambda ip: not ip.is_loopback)
        .map(lambda ip: f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip))
    )
    lookalikes = st.sampled_from(
        ["localhost.example.com", "127.0.0.1.nip.io", "2130706433", "0x7f000001", "127.1", "localhost."]
    )
    return st.one_of(names, addresses, lookalikes)


def _bad_base_urls() -> st.SearchStrategy[str]:
    schemes = st.sampled_from(["ftp", "file", "ws", "wss", "gopher", "javascript", "data", "httpx", ""])
    host = st.one_of(_non_loopback_hosts(), st.just("127.0.0.1"))
    other_scheme = st.builds("{}://{}/api".format, schemes, host)
    plain_http = st.builds("http://{}".format, _non_loopback_hosts())
    decorated = st.builds(
        "{}{}".format,
        st.sampled_from(["https://api.example.com", "http://127.0.0.1:8080"]),
        st.sampled_from(["/v1", "/v1/", "?key=1", "#top"]),
    )
    credentials = st.builds(
        "https://user:{}@api.example.com".format, st.text("abc123", min_size=1, max_size=5)
    )
    not_a_url = st.text(max_size=20).filter(lambda text: "://" not in text and text != "")
    return st.one_of(other_scheme, plain_http, decorated, credentials, not_a_url)


@st.composite
def bad_base_urls(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    section = draw(st.sampled_from(sorted(config)))
    config[section]["api_base_url"] = draw(_bad_base_urls())
    return config


@st.composite
def empty_sections(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    section = draw(st.sampled_from(sorted(config)))
    key = SENTINELS[section][0]
    config[section] = draw(
        st.sampled_from(
            [
                {},
                {"api_base_url": VALID[section]["api_base_url"]},
                {key: ""},
                {key: "   "},
                {key: f" {SENTINELS[section][1]}"},
                {key: f"{SENTINELS[section][1][:6]} {SENTINELS[section][1][6:]}"},
                {key: f"{SENTINELS[section][1]}\n"},
            ]
        )
    )
    return config


@st.composite
def sections_of_the_wrong_type(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    section = draw(st.sampled_from(sorted(config)))
    config[section] = draw(
        st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.lists(st.integers()))
    )
    return config


@st.composite
def no_api(draw: st.DrawFn) -> dict[str, Any]:
    nulls = draw(st.sets(st.sampled_from(sorted(SENTINELS))))
    extra = draw(st.dictionaries(st.sampled_from(["max_concurrency", "unknown"]), st.integers(1, 64)))
    return {**{section: None for section in nulls}, **extra}


# Every whole-number field with bounds, as (section, or "" at the top level; field; minimum; maximum), read
# from the spec: bounds written here went stale when `max_concurrency`'s maximum grew from 64 to 128.
BOUNDED_INTEGERS = [
    (section, key, schema["minimum"], schema["maximum"])
    for section, fields in [("", SPEC["properties"]), *PROPERTIES.items()]
    for key, schema in fields.items()
    if schema.get("type") == "integer" and "minimum" in schema and "maximum" in schema
]


@st.composite
def out_of_range(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    section, key, minimum, maximum = draw(st.sampled_from(BOUNDED_INTEGERS))
    value = draw(st.one_of(st.integers(max_value=minimum - 1), st.integers(min_value=maximum + 1)))
    if section:
        config.setdefault(section, copy.deepcopy(VALID[section]))[key] = value
    else:
        config[key] = value
    return config


@st.composite
def bad_account_ids(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(_sections())
    good = st.from_regex(r"\Aacct_[A-Za-z0-9]{4,12}\Z")
    bad = st.text(max_size=12).filter(lambda text: not text.startswith("acct_"))
    ids = draw(
        st.one_of(
            st.lists(good, min_size=1, max_size=3).map(lambda accounts: [*accounts, accounts[0]]),
            st.lists(st.one_of(good, bad), min_size=1, max_size=3).filter(
                lambda accounts: any(not account.startswith("acct_") for account in accounts)
            ),
        )
    )
    config.setdefault("stripe", copy.deepcopy(VALID["stripe"]))["account_ids"] = ids
    return config


BAD_CONFIGS = st.one_of(
    wrong_types(),
    unknown_regions(),
    bad_dates(),
    bad_base_urls(),
    empty_sections(),
    sections_of_the_wrong_type(),
    no_api(),
    out_of_range(),
    bad_account_ids(),
)

# --- running the entrypoint -------------------------------------------------------------------------------


class RequestSent(AssertionError):
    """A bad configuration got as far as sending a request."""


@pytest.fixture(autouse=True)
def offline() -> Iterator[list[PreparedRequest]]:
    """The requests the connector tried to send: none leaves, the first raises `RequestSent`."""
    tried: list[PreparedRequest] = []

    def refuse(_: HTTPAdapter, request: PreparedRequest, **__: Any) -> Any:
        tried.append(request)
        raise RequestSent("a request was sent: the configuration was accepted")

    with mock.patch.object(HTTPAdapter, "send", refuse):
        yield tried


def _entrypoint(args: list[str]) -> list[AirbyteMessage]:
    """What a command prints, in this process; an exception that ends it becomes the trace the CDK's
    exception hook would print, as for the `source-billing` executable."""
    messages = []
    try:
        for line in BillingEntrypoint(SourceBilling()).run(AirbyteEntrypoint.parse_args(args)):
            messages.append(AirbyteMessageSerializer.load(json.loads(line)))
    except RequestSent:
        raise
    except Exception as error:
        traced = (
            error
            if isinstance(error, AirbyteTracedException)
            else AirbyteTracedException.from_exception(error)
        )
        messages.append(traced.as_sanitized_airbyte_message())
    return messages


def _run(command: str, config: Any, folder: Path) -> list[AirbyteMessage]:
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "catalog.json").write_text(json.dumps({"streams": []}))
    args = [command, "--config", str(folder / "config.json")]
    if command == "read":
        args += ["--catalog", str(folder / "catalog.json")]
    return _entrypoint(args)


def _refusal(command: str, messages: list[AirbyteMessage]) -> str:
    """The message refusing the configuration; fails unless it is the right kind of refusal."""
    if command == "check":
        statuses = [m.connectionStatus for m in messages if m.type == Type.CONNECTION_STATUS]
        assert len(statuses) == 1, messages
        assert statuses[0] is not None
        assert statuses[0].status == Status.FAILED
        return statuses[0].message or ""
    errors = [m.trace.error for m in messages if m.type == Type.TRACE and m.trace and m.trace.error]
    assert len(errors) == 1, messages
    assert errors[0] is not None
    assert errors[0].failure_type == FailureType.config_error, errors[0]
    assert not [m for m in messages if m.type in (Type.RECORD, Type.CATALOG)]
    return errors[0].message


def _assert_actionable(message: str) -> None:
    assert message.strip()
    assert GENERIC_FAILURE not in message
    for marker in TRACEBACK_MARKERS:
        assert marker not in message
    for _, secret in SENTINELS.values():
        assert secret not in message
        assert secret.removeprefix("sk_test_") not in message


def _assert_refused_clearly(config: Any, folder: Path) -> None:
    for command in ("check", "discover", "read"):
        _assert_actionable(_refusal(command, _run(command, config, folder)))


@SETTINGS
@given(config=BAD_CONFIGS)
# Null is unset for an optional field or section, but refused for a required field.
@example(config={"stripe": {**VALID["stripe"], "client_secret": None}})
@example(config={"integrator_io": {"api_token": None, "region": "us"}})
@example(config={"stripe": None, "orb": None, "integrator_io": None, "max_concurrency": None})
# Just past the bounds (`max_concurrency` allows up to 128).
@example(config={**VALID, "max_concurrency": 129})
@example(config={"orb": {**VALID["orb"], "lookback_window_days": 3651}})
@example(config={"stripe": {**VALID["stripe"], "requests_per_second": 0}})
# Dates that look right: a day the month lacks, no time of day, the future.
@example(config={"stripe": {**VALID["stripe"], "start_date": "2024-02-30T00:00:00Z"}})
@example(config={"orb": {**VALID["orb"], "start_date": "2024-01-01"}})
@example(config={"stripe": {**VALID["stripe"], "start_date": "2100-01-01T00:00:00Z"}})
# Hosts that look like loopback but are not, and a region in the wrong case.
@example(config={"orb": {**VALID["orb"], "api_base_url": "http://127.1"}})
@example(config={"stripe": {**VALID["stripe"], "api_base_url": "http://localhost.example.com"}})
@example(config={"integrator_io": {**VALID["integrator_io"], "region": "EU"}})
# A key pasted with a space or a line break, a Connect account listed twice.
@example(config={"orb": {"api_key": f"{SENTINELS['orb'][1]}\n"}})
@example(config={"stripe": {**VALID["stripe"], "account_ids": ["acct_1abc", "acct_1abc"]}})
def test_given_any_bad_configuration_when_checked_discovered_or_read_then_a_clear_config_error(
    config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _assert_refused_clearly(config, tmp_path_factory.mktemp("config"))


@pytest.mark.soak
@SOAK_SETTINGS
@given(config=BAD_CONFIGS)
def test_soak_given_any_bad_configuration_then_a_clear_config_error(
    config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _assert_refused_clearly(config, tmp_path_factory.mktemp("config"))


# --- messages that name the field -------------------------------------------------------------------------

NAMED_FIELDS = [
    pytest.param({"stripe": {**VALID["stripe"], "start_date": "2999-01-01T00:00:00Z"}}, "stripe.start_date"),
    pytest.param({"orb": {**VALID["orb"], "start_date": "2024-02-30T00:00:00Z"}}, "orb.start_date"),
    pytest.param({"orb": {**VALID["orb"], "api_base_url": "ftp://example.com"}}, "orb.api_base_url"),
    pytest.param({"orb": {**VALID["orb"], "api_base_url": "http://example.com"}}, "orb.api_base_url"),
    pytest.param({"stripe": {**VALID["stripe"], "account_ids": ["acct_1", "acct_1"]}}, "stripe.account_ids"),
    pytest.param({"orb": {"api_key": "  "}}, "orb.api_key"),
    pytest.param({}, "`stripe`, `orb` or `integrator_io`"),
    # Refused by the spec's JSON schema: the field and what it expects, never the value.
    pytest.param(
        {"stripe": {**VALID["stripe"], "lookback_window_days": "3"}},
        "`stripe.lookback_window_days` must be a whole number, not a string.",
    ),
    pytest.param(
        {"integrator_io": {"api_token": "t0k3n", "region": "apac"}},
        "`integrator_io.region` must be one of: us, eu.",
    ),
    pytest.param(
        {"stripe": {**VALID["stripe"], "slice_range_days": 0}},
        "`stripe.slice_range_days` must be between 1 and 3650.",
    ),
    pytest.param({"orb": []}, "`orb` must be an object with `api_key`, not a list."),
    pytest.param(
        {"stripe": SENTINELS["stripe"][1]}, "`stripe` must be an object with `client_secret`, not a string."
    ),
]


@pytest.mark.parametrize(("config", "field"), NAMED_FIELDS)
@pytest.mark.parametrize("command", ["check", "read"])
def test_given_a_bad_value_when_checked_or_read_then_the_message_names_the_field(
    config: dict[str, Any], field: str, command: str, tmp_path: Path
) -> None:
    assert field in _refusal(command, _run(command, config, tmp_path))


# --- a null optional field means unset ------------------------------------------------------------------


def _with_optional_fields_null(section: str) -> dict[str, Any]:
    """A section with its secret and every optional field of the spec set to null."""
    key, secret = SENTINELS[section]
    return {key: secret, **{field: None for field in PROPERTIES[section] if field not in REQUIRED[section]}}


OPTIONAL_FIELDS_NULL = {
    **{section: _with_optional_fields_null(section) for section in SENTINELS},
    "max_concurrency": None,
}
SECRETS_ONLY = {section: {key: secret} for section, (key, secret) in SENTINELS.items()}
DEFAULT_BASE_URLS = {
    "stripe": STRIPE_DEFAULT_BASE_URL,
    "orb": ORB_DEFAULT_BASE_URL,
    "integrator_io": INTEGRATOR_IO_BASE_URLS["us"],
}


def test_given_null_optional_fields_when_validated_and_parsed_then_accepted_as_if_left_out() -> None:
    assert spec_violation(OPTIONAL_FIELDS_NULL, SPEC) is None
    assert BillingConfig.parse(OPTIONAL_FIELDS_NULL) == BillingConfig.parse(SECRETS_ONLY)


def test_given_null_sections_beside_a_configured_one_when_parsed_then_only_that_api_is_configured() -> None:
    config = {"stripe": None, "orb": None, "integrator_io": SECRETS_ONLY["integrator_io"]}

    assert spec_violation(config, SPEC) is None
    assert BillingConfig.parse(config).configured_apis == ("integrator_io",)


def test_given_null_optional_fields_when_discovered_then_the_catalog_of_the_same_config_without_them(
    tmp_path: Path,
) -> None:
    def catalog(config: dict[str, Any]) -> Any:
        (message,) = [m for m in _run("discover", config, tmp_path) if m.type == Type.CATALOG]
        return AirbyteMessageSerializer.dump(message)["catalog"]

    with_nulls = catalog(OPTIONAL_FIELDS_NULL)

    assert with_nulls["streams"]
    assert with_nulls == catalog(SECRETS_ONLY)


@pytest.mark.parametrize("section", sorted(SENTINELS))
def test_given_null_optional_fields_when_checked_then_the_request_goes_to_the_default_host(
    section: str, offline: list[PreparedRequest], tmp_path: Path
) -> None:
    with pytest.raises(RequestSent):
        _run("check", {section: _with_optional_fields_null(section)}, tmp_path)

    (request,) = offline
    assert str(request.url).startswith(DEFAULT_BASE_URLS[section] + "/")
    if section == "stripe":
        assert request.headers["Stripe-Version"] == STRIPE_DEFAULT_API_VERSION
