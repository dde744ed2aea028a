"""integrator.io end to end, over real HTTP against a sandbox of its own: more than 1,000 licenses across
several `Link` pages, a connector without licenses (204), more jobs than one answer holds (with several
jobs sharing the oldest timestamp of the first answer), incremental jobs, and the 401 and 403 messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest
from airbyte_cdk.models import AirbyteStateMessage, FailureType, Status, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from jsonschema import Draft7Validator

from sandbox import credentials
from sandbox.integrator_api import PARENT_JOB_FILTERS
from sandbox.process import SandboxProcess
from source_billing import SourceBilling
from source_billing.integrator_io.jobs import JOBS_PAGE_CAP, format_timestamp
from source_billing.schemas import load_schema

PAGE_SIZE = 200
LICENSES = 1500
LISTS = {
    "integrator_io_connectors": "connectors",
    "integrator_io_licenses": "licenses",
    "integrator_io_install_base": "install_base",
    "integrator_io_integrations": "integrations",
    "integrator_io_flows": "flows",
    "integrator_io_jobs": "jobs",
}
FULL_ACCESS_MESSAGE = "full-access API token of the account that publishes the connectors"


@pytest.fixture(scope="module")
def licensing_sandbox() -> Iterator[SandboxProcess]:
    """Four connectors (the last without licenses), 1,500 licenses over the other three, 2,500 jobs."""
    scale_for = {"integrator.connectors": 4, "integrator.licenses": LICENSES, "integrator.jobs": 2500}
    with SandboxProcess(scale=40, scale_for=scale_for, integrator_page_size=PAGE_SIZE) as running:
        yield running


@pytest.fixture(scope="module")
def licensing_config(licensing_sandbox: SandboxProcess) -> dict[str, Any]:
    return {
        "integrator_io": {
            "api_token": credentials.INTEGRATOR_TOKEN,
            "api_base_url": licensing_sandbox.base_url("integrator"),
        }
    }


@pytest.fixture(scope="module")
def tie_at_first_boundary(licensing_sandbox: SandboxProcess) -> str:
    """Three more jobs created at the same millisecond as the oldest job of the first jobs answer, so that
    the jobs sharing that timestamp straddle the end of the answer. Returns that timestamp."""
    newest_first = sorted(_objects(licensing_sandbox, "jobs"), key=lambda job: job["createdAt"], reverse=True)
    boundary = str(newest_first[JOBS_PAGE_CAP - 1]["createdAt"])
    for _ in range(3):
        licensing_sandbox.control("POST", "/_control/integrator/jobs", {"createdAt": boundary})
    return boundary


def _objects(sandbox: SandboxProcess, resource: str) -> list[dict[str, Any]]:
    return list(sandbox.control("GET", f"/_control/objects/integrator/{resource}")["data"])


def _requests(sandbox: SandboxProcess, since: int = 0) -> list[dict[str, Any]]:
    return [
        entry
        for entry in sandbox.control("GET", f"/_control/requests?since={since}")["requests"]
        if entry["api"] == "integrator"
    ]


def _last_request_seq(sandbox: SandboxProcess) -> int:
    return int(sandbox.control("GET", "/_control/requests?since=0")["next"])


def _assert_parent_jobs_rule_kept(requests: list[dict[str, Any]]) -> None:
    """Every jobs request named a parent-jobs filter, and the sandbox, enforcing the rule, accepted it."""
    jobs = [entry for entry in requests if entry["path"].endswith("/v1/jobs")]
    assert jobs
    assert all(set(entry["query"]) & set(PARENT_JOB_FILTERS) for entry in jobs)
    assert {entry["status"] for entry in jobs} == {200}


def _read(
    config: dict[str, Any],
    streams: list[str],
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: list[AirbyteStateMessage] | None = None,
) -> EntrypointOutput:
    catalog = CatalogBuilder()
    for name in streams:
        catalog = catalog.with_stream(name, sync_mode)
    return read(SourceBilling(), config, catalog.build(), state)


def _records(output: EntrypointOutput, stream: str) -> list[dict[str, Any]]:
    return [dict(m.record.data) for m in output.records if m.record is not None and m.record.stream == stream]


def _error_messages(output: EntrypointOutput) -> list[str]:
    return [m.trace.error.message for m in output.errors if m.trace is not None and m.trace.error is not None]


def test_given_more_than_1000_licenses_over_link_pages_when_read_then_every_object_once_and_valid(
    licensing_config: dict[str, Any], licensing_sandbox: SandboxProcess
) -> None:
    since = _last_request_seq(licensing_sandbox)
    streams = [name for name in LISTS if name != "integrator_io_jobs"]

    output = _read(licensing_config, streams)

    assert not output.errors, _error_messages(output)
    for stream in streams:
        records = _records(output, stream)
        ids = [record["_id"] for record in records]
        assert len(ids) == len(set(ids)), f"{stream} emitted a record twice"
        assert set(ids) == {o["_id"] for o in _objects(licensing_sandbox, LISTS[stream])}, stream
        validator = Draft7Validator(load_schema("source_billing.integrator_io", stream))
        assert not [error.message for record in records for error in validator.iter_errors(record)], stream
    licenses = _records(output, "integrator_io_licenses")
    assert len(licenses) == LICENSES
    # Each license names its connector: as the API sent it, or taken from the parent when it omitted it.
    connectors = {c["_id"] for c in _objects(licensing_sandbox, "connectors")}
    sent = {lic["_id"]: lic.get("_connectorId") for lic in _objects(licensing_sandbox, "licenses")}
    assert any(connector is None for connector in sent.values()), "the licensing_sandbox omits some"
    for lic in licenses:
        assert lic["_connectorId"] in connectors
        assert sent[lic["_id"]] in (None, lic["_connectorId"])
    followed = [
        entry
        for entry in _requests(licensing_sandbox, since)
        if entry["path"].endswith("/licenses") and "cursor" in entry["query"]
    ]
    assert len(followed) >= LICENSES // PAGE_SIZE - 3, "licenses came over several Link pages per connector"


def test_given_a_connector_without_licenses_when_read_then_its_204_yields_nothing_and_no_error(
    licensing_config: dict[str, Any], licensing_sandbox: SandboxProcess
) -> None:
    since = _last_request_seq(licensing_sandbox)

    output = _read(licensing_config, ["integrator_io_licenses"])

    assert not output.errors, _error_messages(output)
    empty = {
        entry["path"].split("/")[3]
        for entry in _requests(licensing_sandbox, since)
        if entry["path"].endswith("/licenses") and entry["status"] == 204
    }
    assert len(empty) == 1
    assert not [lic for lic in _records(output, "integrator_io_licenses") if lic["_connectorId"] in empty]


def test_given_more_jobs_than_one_answer_and_a_tie_at_its_end_when_read_then_every_job_exactly_once(
    licensing_config: dict[str, Any], licensing_sandbox: SandboxProcess, tie_at_first_boundary: str
) -> None:
    since = _last_request_seq(licensing_sandbox)

    output = _read(licensing_config, ["integrator_io_jobs"])

    assert not output.errors, _error_messages(output)
    ids = [job["_id"] for job in _records(output, "integrator_io_jobs")]
    assert len(ids) == len(set(ids)), "a job was emitted twice"
    assert set(ids) == {job["_id"] for job in _objects(licensing_sandbox, "jobs")}
    requests = _requests(licensing_sandbox, since)
    _assert_parent_jobs_rule_kept(requests)
    bounds = [entry["query"].get("createdAt_lte") for entry in requests]
    assert len(bounds) == 3
    assert bounds[1] == [tie_at_first_boundary], "the second answer starts at the first one's oldest job"


def test_given_a_jobs_state_when_new_jobs_are_created_then_an_incremental_sync_returns_only_jobs_since_it(
    licensing_config: dict[str, Any], licensing_sandbox: SandboxProcess
) -> None:
    since = _last_request_seq(licensing_sandbox)
    first = _read(licensing_config, ["integrator_io_jobs"], SyncMode.incremental)
    assert not first.errors, _error_messages(first)
    assert {job["_id"] for job in _records(first, "integrator_io_jobs")} == {
        job["_id"] for job in _objects(licensing_sandbox, "jobs")
    }, "a first incremental sync, without a cursor, reads every job"
    state = first.state_messages[-1].state
    assert state is not None
    assert state.stream is not None
    assert state.stream.stream_state is not None
    cursor = state.stream.stream_state.default["createdAt"]
    ended = {"status": "completed", "endedAt": format_timestamp(pendulum.now("UTC"))}
    created = [licensing_sandbox.control("POST", "/_control/integrator/jobs", ended)["_id"] for _ in range(2)]

    second = _read(licensing_config, ["integrator_io_jobs"], SyncMode.incremental, [state])

    assert not second.errors, _error_messages(second)
    ids = [job["_id"] for job in _records(second, "integrator_io_jobs")]
    assert len(ids) == len(set(ids))
    jobs = _objects(licensing_sandbox, "jobs")
    assert set(ids) == {job["_id"] for job in jobs if job["createdAt"] >= cursor}
    assert set(created) <= set(ids)
    assert len(ids) < len(jobs) // 2, "the second sync did not read everything again"
    _assert_parent_jobs_rule_kept(_requests(licensing_sandbox, since))


def test_given_a_token_without_connector_access_when_read_then_the_full_access_message(
    licensing_config: dict[str, Any],
) -> None:
    limited = {
        "integrator_io": {
            **licensing_config["integrator_io"],
            "api_token": credentials.INTEGRATOR_LIMITED_TOKEN,
        }
    }

    output = _read(limited, ["integrator_io_connectors", "integrator_io_licenses", "integrator_io_flows"])

    per_stream = {
        m.trace.error.stream_descriptor.name: m.trace.error
        for m in output.errors
        if m.trace and m.trace.error and m.trace.error.stream_descriptor
    }
    assert set(per_stream) == {"integrator_io_connectors", "integrator_io_licenses"}
    for error in per_stream.values():
        assert error.failure_type == FailureType.config_error
        assert FULL_ACCESS_MESSAGE in error.message
    assert _records(output, "integrator_io_flows"), "flows need no connector access"


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (
            "SENTINEL0wrong0token",
            "integrator.io rejected the API token (HTTP 401) at 127.0.0.1 (region `us`)",
        ),
        (credentials.INTEGRATOR_LIMITED_TOKEN, FULL_ACCESS_MESSAGE),
    ],
    ids=["401 on tokenInfo", "403 on connectors"],
)
def test_given_a_rejected_token_when_checked_then_failed_with_the_specific_message(
    licensing_config: dict[str, Any], token: str, expected: str
) -> None:
    wrong = {"integrator_io": {**licensing_config["integrator_io"], "api_token": token}}

    status = SourceBilling().check(logging.getLogger("airbyte"), wrong)

    assert status.status == Status.FAILED
    assert (status.message or "").startswith("integrator.io: ")
    assert expected in (status.message or "")
    assert token not in (status.message or "")
