"""Secrets never shown: `spec`, `check`, `discover` and `read` of the real executable, on success and on
every failure path (rejected keys, unreachable and hung hosts, faults until retries are exhausted, every
kind of bad configuration, malformed catalog and state), with sentinel secrets; none appears anywhere in
stdout or stderr, URLs, exception texts and `--debug` logs included.

Paths that take minutes in real time (timeouts, exhausted retries) run the same entry point with its clock
compressed (`reliability_launcher`). The runs are independent and run a few at a time.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from airbyte_cdk.models import FailureType, Status, Type

from integration_tests.conftest import sandbox_config
from integration_tests.connector import Run, catalog_for, run_connector
from integration_tests.reliability_launcher import run_launched
from integration_tests.reliability_transport import SilentServer
from sandbox import credentials
from sandbox.process import SandboxProcess

# Compressed so that a read's many slices each exhausting their retries take seconds, not hours.
COMPRESSION = 600.0
SENTINELS = {
    "stripe": ("client_secret", "sk_test_S3NT1NEL0stripe0f00d"),
    "orb": ("api_key", "S3NT1NEL0orb0f00d"),
    "integrator_io": ("api_token", "S3NT1NEL0integrator0f00d"),
}
SANDBOX_SECRETS = (
    credentials.STRIPE_TEST_KEY,
    credentials.STRIPE_LIVE_KEY,
    credentials.ORB_API_KEY,
    credentials.INTEGRATOR_TOKEN,
)
READ_STREAMS = ("customers", "orb_customers", "integrator_io_connectors")
# Failing reads read one single-slice stream per API: every slice of a failing stream fails alike.
FAILING_READ_STREAMS = ("accounts", "orb_items", "integrator_io_integrations")


@dataclass(frozen=True)
class Places:
    """Where each kind of run points its APIs."""

    sandbox: SandboxProcess
    faulted: SandboxProcess
    refused: str
    silent: str
    catalog: dict[str, Any]
    small_catalog: dict[str, Any]


def _with_sentinels(base_url: Callable[[str], str]) -> dict[str, Any]:
    apis = {"stripe": "stripe", "orb": "orb", "integrator_io": "integrator"}
    return {
        section: {key: secret, "api_base_url": base_url(apis[section])}
        for section, (key, secret) in SENTINELS.items()
    }


def _edit(config: dict[str, Any], section: str, **changes: Any) -> dict[str, Any]:
    edited = copy.deepcopy(config)
    edited[section] = {**edited[section], **changes}
    return edited


@dataclass(frozen=True)
class Case:
    """One command on one path, and what it must do (so that a clean scan is not a vacuous one)."""

    name: str
    command: str
    config: Callable[[Places], dict[str, Any] | None]
    outcome: str  # "ok", "failed" (check), or a failure type of the read's traces
    compressed: bool = False
    debug: bool = False
    state: list[dict[str, Any]] | None = None
    catalog: Callable[[Places], dict[str, Any]] | None = None
    says: str = ""  # what the check's message or one of the read's errors must say


def _sentinels_at_sandbox(places: Places) -> dict[str, Any]:
    return _with_sentinels(places.sandbox.base_url)


def _bad(section: str, **changes: Any) -> Callable[[Places], dict[str, Any]]:
    return lambda places: _edit(_sentinels_at_sandbox(places), section, **changes)


BAD_CONFIGS: dict[str, Callable[[Places], dict[str, Any]]] = {
    "wrong type": _bad("stripe", lookback_window_days="3"),
    "unknown region": lambda places: {
        **_sentinels_at_sandbox(places),
        "integrator_io": {"api_token": SENTINELS["integrator_io"][1], "region": "apac"},
    },
    "future date": _bad("stripe", start_date="2999-01-01T00:00:00Z"),
    "invalid date": _bad("orb", start_date="2024-02-30T00:00:00Z"),
    "non-http base URL": _bad("orb", api_base_url="ftp://127.0.0.1/orb"),
    "plain http to a remote host": _bad("integrator_io", api_base_url="http://api.integrator.io"),
    "empty section": lambda places: {**_sentinels_at_sandbox(places), "orb": {}},
    "secret of the wrong type": _bad("stripe", client_secret=[SENTINELS["stripe"][1]]),
    "unknown Connect account": lambda places: {
        **sandbox_config(places.sandbox),
        "stripe": {**sandbox_config(places.sandbox)["stripe"], "account_ids": ["acct_unknown0f00d"]},
    },
}
CASES = [
    Case("spec", "spec", lambda _: None, "ok"),
    Case("check succeeds", "check", lambda p: sandbox_config(p.sandbox), "ok"),
    Case("discover succeeds", "discover", lambda p: sandbox_config(p.sandbox), "ok"),
    Case("read succeeds", "read", lambda p: sandbox_config(p.sandbox), "ok"),
    Case("read succeeds, debug logs", "read", lambda p: sandbox_config(p.sandbox), "ok", debug=True),
    Case("check, keys rejected", "check", _sentinels_at_sandbox, "failed", says="401"),
    Case("read, keys rejected", "read", _sentinels_at_sandbox, FailureType.config_error.value),
    Case(
        "check, host refuses",
        "check",
        lambda p: _with_sentinels(lambda a: f"{p.refused}/{a}"),
        "failed",
        compressed=True,
    ),
    Case(
        "read, host refuses",
        "read",
        lambda p: _with_sentinels(lambda a: f"{p.refused}/{a}"),
        FailureType.transient_error.value,
        compressed=True,
    ),
    Case(
        "check, host never answers",
        "check",
        lambda p: _with_sentinels(lambda a: f"{p.silent}/{a}"),
        "failed",
        compressed=True,
    ),
    Case(
        "read, host never answers",
        "read",
        lambda p: _with_sentinels(lambda a: f"{p.silent}/{a}"),
        FailureType.transient_error.value,
        compressed=True,
    ),
    Case(
        "check, every request faulted",
        "check",
        lambda p: sandbox_config(p.faulted),
        "failed",
        compressed=True,
    ),
    Case(
        "read, every request faulted",
        "read",
        lambda p: sandbox_config(p.faulted),
        FailureType.transient_error.value,
        compressed=True,
    ),
    Case(
        "read, malformed state",
        "read",
        lambda p: sandbox_config(p.sandbox),
        FailureType.config_error.value,
        state=[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": 7}}],
        says="the state of stream customers must be an object",
    ),
    Case(
        "read, malformed catalog",
        "read",
        lambda p: sandbox_config(p.sandbox),
        FailureType.config_error.value,
        catalog=lambda _: {"streams": [{"stream": {"name": "customers"}}]},
        says="is not an Airbyte configured catalog",
    ),
]
# Each way a configuration is refused, by each command: the spec's schema (the CDK's validation), the
# connector's own checks, and the API (a Connect account the key cannot reach). Every kind of bad value is
# scanned for secrets in-process by the property tests (`unit_tests/test_config_properties.py`).
SAYS = {
    "secret of the wrong type": "`stripe.client_secret` must be a string, not a list.",
    "future date": "`stripe.start_date`",
    "plain http to a remote host": "`integrator_io.api_base_url`",
}
for problem, says in SAYS.items():
    CASES.append(Case(f"check, {problem}", "check", BAD_CONFIGS[problem], "failed", says=says))
    CASES.append(
        Case(f"read, {problem}", "read", BAD_CONFIGS[problem], FailureType.config_error.value, says=says)
    )
for problem in ("secret of the wrong type", "future date"):
    CASES.append(
        Case(f"discover, {problem}", "discover", BAD_CONFIGS[problem], FailureType.config_error.value)
    )
CASES.append(
    Case("check, unknown Connect account", "check", BAD_CONFIGS["unknown Connect account"], "failed")
)
CASES.append(
    Case(
        "read, unknown Connect account",
        "read",
        BAD_CONFIGS["unknown Connect account"],
        FailureType.config_error.value,
        catalog=lambda places: places.catalog,  # `accounts` is read with the platform key only
        says="acct_unknown0f00d",
    )
)


# Every secret a run may have been given, and the unique part of each sentinel (a partial leak shows it).
ALL_SECRETS = (
    *SANDBOX_SECRETS,
    *(secret for _, secret in SENTINELS.values()),
    *(secret.removeprefix("sk_test_") for _, secret in SENTINELS.values()),
)


def _run(case: Case, places: Places) -> Run:
    config = case.config(places)
    if case.catalog:
        catalog = case.catalog(places)
    else:
        catalog = places.catalog if case.outcome == "ok" else places.small_catalog
    return run_launched(
        COMPRESSION if case.compressed else None,
        case.command,
        config,
        catalog=catalog if case.command == "read" else None,
        state=case.state,
        extra_args=("--debug",) if case.debug else (),
    )


def _refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    with (
        SandboxProcess(scale=5, max_seconds=900) as sandbox,
        SandboxProcess(scale=5, max_seconds=900) as faulted,
        SilentServer() as silent,
    ):
        faulted.control(
            "POST", "/_control/faults", {"rate": 1.0, "kinds": ["500", "malformed", "truncated", "drop"]}
        )
        streams = run_connector("discover", sandbox_config(sandbox)).catalog_streams()
        catalog = catalog_for([s for s in streams if s["name"] in READ_STREAMS], "incremental")
        small = catalog_for([s for s in streams if s["name"] in FAILING_READ_STREAMS])
        places = Places(sandbox, faulted, _refused_url(), silent.url, catalog, small)
        with ThreadPoolExecutor(max_workers=3) as pool:
            done = pool.map(lambda case: _run(case, places), CASES)
            results = dict(zip([case.name for case in CASES], done, strict=True))
        yield results


def _assert_outcome(case: Case, run: Run) -> None:
    if case.command == "spec":
        assert run.of_type(Type.SPEC)
    elif case.command == "check":
        (message,) = run.of_type(Type.CONNECTION_STATUS)
        assert message.connectionStatus is not None
        expected = Status.SUCCEEDED if case.outcome == "ok" else Status.FAILED
        assert message.connectionStatus.status == expected, message.connectionStatus.message
        assert case.says in (message.connectionStatus.message or "")
    elif case.outcome == "ok":
        assert run.returncode == 0, run.stderr[-2000:]
        assert not run.errors()
        assert run.of_type(Type.CATALOG) or run.records()
    else:
        assert run.returncode != 0
        errors = [m.trace.error for m in run.errors() if m.trace and m.trace.error]
        assert case.outcome in {error.failure_type.value for error in errors if error.failure_type}, errors
        assert any(case.says in error.message for error in errors), errors


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_given_sentinel_secrets_when_a_command_runs_then_no_secret_appears_in_its_output(
    runs: dict[str, Run], case: Case
) -> None:
    run = runs[case.name]
    _assert_outcome(case, run)
    for secret in ALL_SECRETS:
        assert secret not in run.stdout, f"{case.name}: a secret in stdout"
        assert secret not in run.stderr, f"{case.name}: a secret in stderr"


@pytest.mark.parametrize("command", ["check", "read"])
def test_given_a_key_pasted_as_a_whole_section_when_run_then_it_is_not_shown(command: str) -> None:
    secret = SENTINELS["stripe"][1]
    run = run_connector(command, {"stripe": secret}, catalog={"streams": []} if command == "read" else None)
    assert secret not in run.stdout
    assert secret not in run.stderr
    refusal = "`stripe` must be an object with `client_secret`, not a string."
    if command == "check":
        (message,) = run.of_type(Type.CONNECTION_STATUS)
        assert message.connectionStatus is not None
        assert message.connectionStatus.status == Status.FAILED
        assert message.connectionStatus.message == refusal
    else:
        errors = [m.trace.error for m in run.errors() if m.trace and m.trace.error]
        assert [(error.failure_type, error.message) for error in errors] == [
            (FailureType.config_error, refusal)
        ]
