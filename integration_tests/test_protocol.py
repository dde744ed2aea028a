"""The real `source-billing` executable against the sandbox: spec, check, discover and read, as Airbyte
runs them. Every printed line must parse as an Airbyte protocol message (see `connector.run_connector`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from airbyte_cdk.models import FailureType, Status, Type

from integration_tests.connector import Run, catalog_for, run_connector
from sandbox.process import SandboxProcess

FOUNDATION_STREAMS = {
    "customers",
    "orb_customers",
    "integrator_io_connectors",
    "integrator_io_licenses",
    "integrator_io_install_base",
}
SENTINELS = {
    "stripe": ("client_secret", "sk_test_SENTINEL0stripe0secret"),
    "orb": ("api_key", "SENTINEL0orb0api0key"),
    "integrator_io": ("api_token", "SENTINEL0integrator0token"),
}


def _secrets_of(config: dict[str, Any]) -> list[str]:
    return [config[api][key] for api, (key, _) in SENTINELS.items() if api in config]


def _assert_no_secret(run: Run, config: dict[str, Any]) -> None:
    for secret in _secrets_of(config):
        assert secret not in run.stdout
        assert secret not in run.stderr


def _with_wrong_key(config: dict[str, Any], api: str) -> dict[str, Any]:
    wrong = copy.deepcopy(config)
    key, sentinel = SENTINELS[api]
    wrong[api][key] = sentinel
    return wrong


def test_given_spec_when_run_then_one_spec_with_the_three_sections_and_secrets_marked() -> None:
    run = run_connector("spec")
    assert run.returncode == 0
    (message,) = run.of_type(Type.SPEC)
    assert message.spec is not None
    properties = message.spec.connectionSpecification["properties"]
    assert {"stripe", "orb", "integrator_io", "max_concurrency"} <= set(properties)
    for api, (key, _) in SENTINELS.items():
        assert properties[api]["properties"][key]["airbyte_secret"] is True


def test_given_sandbox_config_when_check_then_succeeded(config: dict[str, Any]) -> None:
    run = run_connector("check", config)
    (message,) = run.of_type(Type.CONNECTION_STATUS)
    assert message.connectionStatus is not None
    assert message.connectionStatus.status == Status.SUCCEEDED
    _assert_no_secret(run, config)


@pytest.mark.parametrize(
    ("api", "named"), [("stripe", "Stripe"), ("orb", "Orb"), ("integrator_io", "integrator.io")]
)
def test_given_one_wrong_key_when_check_then_failed_naming_that_api_only(
    config: dict[str, Any], api: str, named: str
) -> None:
    wrong = _with_wrong_key(config, api)
    run = run_connector("check", wrong)
    (message,) = run.of_type(Type.CONNECTION_STATUS)
    assert message.connectionStatus is not None
    assert message.connectionStatus.status == Status.FAILED
    text = message.connectionStatus.message or ""
    assert text.startswith(f"{named}: ")
    assert "401" in text
    others = {"Stripe", "Orb", "integrator.io"} - {named}
    assert not any(f"{other}: " in text for other in others)
    _assert_no_secret(run, wrong)


def test_given_unreachable_host_when_check_then_failed_naming_the_api_and_host(
    config: dict[str, Any],
) -> None:
    unreachable = {"orb": {**config["orb"], "api_base_url": "http://127.0.0.1:9"}}
    run = run_connector("check", unreachable)
    (message,) = run.of_type(Type.CONNECTION_STATUS)
    assert message.connectionStatus is not None
    assert message.connectionStatus.status == Status.FAILED
    assert (message.connectionStatus.message or "").startswith(
        "Orb: could not get an answer from http://127.0.0.1:9"
    )
    _assert_no_secret(run, unreachable)


def test_given_no_api_section_when_check_then_failed_telling_what_to_add() -> None:
    run = run_connector("check", {"max_concurrency": 4})
    (message,) = run.of_type(Type.CONNECTION_STATUS)
    assert message.connectionStatus is not None
    assert message.connectionStatus.status == Status.FAILED
    assert "add a `stripe`, `orb` or `integrator_io` section" in (message.connectionStatus.message or "")


def test_given_no_api_section_when_read_then_config_error_trace_telling_what_to_add() -> None:
    run = run_connector("read", {}, catalog={"streams": []})
    assert run.returncode != 0
    (error,) = run.errors()
    assert error.trace is not None
    assert error.trace.error is not None
    assert error.trace.error.failure_type == FailureType.config_error
    assert "add a `stripe`, `orb` or `integrator_io` section" in error.trace.error.message


def test_given_one_api_when_discover_then_only_its_streams(config: dict[str, Any]) -> None:
    run = run_connector("discover", {"orb": config["orb"]})
    (message,) = run.of_type(Type.CATALOG)
    assert message.catalog is not None
    names = {stream.name for stream in message.catalog.streams}
    assert names
    assert all(name.startswith("orb_") for name in names)


def test_given_all_apis_when_read_full_refresh_then_every_foundation_stream_matches_the_sandbox(
    config: dict[str, Any], sandbox: SandboxProcess
) -> None:
    streams = [
        s for s in run_connector("discover", config).catalog_streams() if s["name"] in FOUNDATION_STREAMS
    ]
    assert {s["name"] for s in streams} == FOUNDATION_STREAMS
    run = run_connector("read", config, catalog=catalog_for(streams))
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.errors()
    expected = {
        "customers": ("stripe", "customers", "id"),
        "orb_customers": ("orb", "customers", "id"),
        "integrator_io_connectors": ("integrator", "connectors", "_id"),
        "integrator_io_licenses": ("integrator", "licenses", "_id"),
        "integrator_io_install_base": ("integrator", "install_base", "_id"),
    }
    for stream, (api, resource, key) in expected.items():
        ids = [r[key] for r in run.records(stream)]
        assert len(ids) == len(set(ids)), f"{stream} emitted a record twice"
        expected_ids = {o[key] for o in sandbox.control("GET", f"/_control/objects/{api}/{resource}")["data"]}
        assert set(ids) == expected_ids, stream
    connectors = {r["_id"] for r in run.records("integrator_io_connectors")}
    assert run.records("integrator_io_licenses")
    assert all(r["_connectorId"] in connectors for r in run.records("integrator_io_licenses"))
    _assert_no_secret(run, config)


def test_given_all_apis_and_one_wrong_key_when_read_then_that_api_fails_and_the_others_are_read_in_full(
    config: dict[str, Any], sandbox: SandboxProcess
) -> None:
    """Each API's streams are read in a process of their own: one API's failure ends its process with its
    error traces; the other processes read their streams to the end, and the sync exits non-zero."""
    names = {"customers", "orb_customers", "orb_plans", "integrator_io_connectors"}
    streams = [s for s in run_connector("discover", config).catalog_streams() if s["name"] in names]
    wrong = _with_wrong_key(config, "orb")
    run = run_connector("read", wrong, catalog=catalog_for(streams))
    assert run.returncode != 0
    logs = [m.log.message for m in run.of_type(Type.LOG) if m.log is not None]
    assert "Reading the streams of Stripe, Orb, integrator.io in a process per API." in logs
    statuses = {
        m.trace.stream_status.stream_descriptor.name: m.trace.stream_status.status.name
        for m in run.of_type(Type.TRACE)
        if m.trace is not None and m.trace.stream_status is not None
    }
    assert statuses == {
        "customers": "COMPLETE",
        "integrator_io_connectors": "COMPLETE",
        "orb_customers": "INCOMPLETE",
        "orb_plans": "INCOMPLETE",
    }
    for stream, (api, resource, key) in {
        "customers": ("stripe", "customers", "id"),
        "integrator_io_connectors": ("integrator", "connectors", "_id"),
    }.items():
        expected = {o[key] for o in sandbox.control("GET", f"/_control/objects/{api}/{resource}")["data"]}
        assert sorted(r[key] for r in run.records(stream)) == sorted(expected), stream
    assert not run.records("orb_customers")
    errors = [m.trace.error for m in run.errors() if m.trace is not None and m.trace.error is not None]
    assert errors
    assert {error.failure_type for error in errors} == {FailureType.config_error}
    assert all("orb" in error.message.lower() for error in errors), [error.message for error in errors]
    states = {state["stream"]["stream_descriptor"]["name"] for state in run.states()}
    assert {"customers", "integrator_io_connectors"} <= states
    _assert_no_secret(run, wrong)
