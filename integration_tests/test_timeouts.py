"""A server that accepts connections and never answers does not hang the connector.

Every request carries a connect and a read timeout (10 s and 60 s); a timed-out request is retried a
bounded number of times with backoff, then the stream fails with a `transient_error` that names the API.
To keep the tests short, time is compressed `COMPRESSION` times (`TransportProbe` shortens the timeouts,
`compressed_retry_waits` the waits between attempts); the bounds asserted are the production bounds
compressed by the same factor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airbyte_cdk.models import FailureType, Status, Type

from integration_tests.reliability_sync import (
    catalog_of,
    request_log,
    run_entrypoint,
    stream_errors,
    sync,
)
from integration_tests.reliability_transport import SilentServer, TransportProbe, compressed_retry_waits
from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing.check import CHECK_RETRIES
from source_billing.errors import CONNECT_TIMEOUT_SECONDS, MAX_RETRIES, READ_TIMEOUT_SECONDS

COMPRESSION = 120
READ_TIMEOUT = READ_TIMEOUT_SECONDS / COMPRESSION
CONNECT_TIMEOUT = CONNECT_TIMEOUT_SECONDS / COMPRESSION
# The longest a stream's request waits between attempts: `RetryAfterBackoff` caps at 60 s, the CDK adds 1 s;
# for `check`, the cap is 4 s.
LONGEST_WAIT = 61.0
CHECK_LONGEST_WAIT = 5.0
# Interpreter, sandbox and scheduling overhead on a busy two-core machine.
SLACK_SECONDS = 5.0


def per_request_bound(attempts: int, longest_wait: float, compression: float = COMPRESSION) -> float:
    """The longest one request can take against a server that never answers, compressed: every attempt
    waits for its read timeout, with the longest wait between attempts."""
    return (attempts * READ_TIMEOUT_SECONDS + (attempts - 1) * longest_wait) / compression


@pytest.fixture(scope="module")
def hung_sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=5, max_seconds=900) as running:
        yield running


@pytest.fixture
def hanging(hung_sandbox: SandboxProcess) -> Iterator[SandboxProcess]:
    """The sandbox's Orb accepts every request and never answers, until the test ends."""
    hung_sandbox.control("DELETE", "/_control/requests")
    hung_sandbox.control("POST", "/_control/faults", {"hang": True, "apis": ["orb"]})
    yield hung_sandbox
    hung_sandbox.control("DELETE", "/_control/faults")


@pytest.mark.parametrize(
    "compression",
    [
        pytest.param(COMPRESSION, id="compressed"),
        # The production timeouts and waits, uncompressed: about 11 minutes.
        pytest.param(1.0, id="real time", marks=pytest.mark.soak),
    ],
)
def test_given_an_api_that_never_answers_when_a_stream_is_read_then_it_fails_within_its_bound_clearly(
    hanging: SandboxProcess, compression: float
) -> None:
    config = {"orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": hanging.base_url("orb")}}
    probe = TransportProbe(
        connect_timeout=CONNECT_TIMEOUT_SECONDS / compression, read_timeout=READ_TIMEOUT_SECONDS / compression
    )
    started = time.monotonic()
    with probe.active(), compressed_retry_waits(1 / compression):
        output = sync(config, catalog_of(config, ["orb_items"]))
    elapsed = time.monotonic() - started

    assert elapsed <= per_request_bound(MAX_RETRIES + 1, LONGEST_WAIT, compression) + SLACK_SECONDS, elapsed
    ((failure, message),) = stream_errors(output)
    assert failure == FailureType.transient_error
    assert "The connection to Orb failed (network error or timeout)" in message
    assert not output.records
    # Every attempt reached the server and is still held unanswered; none was sent without its timeouts.
    attempts = [entry for entry in request_log(hanging) if entry["path"] == "/v1/items"]
    assert len(attempts) == MAX_RETRIES + 1
    assert {entry["status"] for entry in attempts} == {None}
    assert not probe.without_timeouts()
    assert {request.timeout for request in probe.sent} == {(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)}


def test_given_an_api_that_never_answers_when_a_stream_of_many_slices_is_read_then_it_gives_up_at_once(
    hanging: SandboxProcess,
) -> None:
    # The open invoices, then three yearly windows of `invoice_date`: four slices, read one at a time.
    start = pendulum.now("UTC").subtract(years=2, days=180).format("YYYY-MM-DDTHH:mm:ss[Z]")
    config = {
        "orb": {
            "api_key": credentials.ORB_API_KEY,
            "api_base_url": hanging.base_url("orb"),
            "start_date": start,
        },
        "max_concurrency": 1,
    }
    probe = TransportProbe(connect_timeout=CONNECT_TIMEOUT / 5, read_timeout=READ_TIMEOUT / 5)
    with probe.active(), compressed_retry_waits(1 / COMPRESSION / 5):
        output = sync(config, catalog_of(config, ["orb_invoices"]))
    errors = stream_errors(output)
    assert errors
    assert {failure for failure, _ in errors} == {FailureType.transient_error}
    # The first slice gives up after its retries; the API's circuit breaker fails the other three at once.
    assert "The connection to Orb failed (network error or timeout)" in errors[0][1]
    assert len(errors) == 4
    assert all("Orb stopped answering" in message for _, message in errors[1:])
    assert not output.records
    attempts = [entry for entry in request_log(hanging) if entry["path"] == "/v1/invoices"]
    # Once one request has given up, the stream's other windows do not each try again.
    assert len(attempts) == MAX_RETRIES + 1


def _check(config: dict[str, Any], folder: Path) -> list[Any]:
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return run_entrypoint(["check", "--config", str(path)])


def test_given_apis_that_accept_and_never_answer_when_checked_then_failed_within_bound_naming_each(
    tmp_path: Path,
) -> None:
    with SilentServer() as server:
        config = {
            "stripe": {"client_secret": credentials.STRIPE_TEST_KEY, "api_base_url": f"{server.url}/stripe"},
            "orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": f"{server.url}/orb"},
            "integrator_io": {
                "api_token": credentials.INTEGRATOR_TOKEN,
                "api_base_url": f"{server.url}/integrator",
            },
        }
        started = time.monotonic()
        with TransportProbe(CONNECT_TIMEOUT, READ_TIMEOUT).active(), compressed_retry_waits(1 / COMPRESSION):
            messages = _check(config, tmp_path)
        elapsed = time.monotonic() - started
        connections = server.connections

    # The three probes run one after the other, each bounded.
    assert elapsed <= 3 * per_request_bound(CHECK_RETRIES + 1, CHECK_LONGEST_WAIT) + SLACK_SECONDS, elapsed
    (status,) = [m.connectionStatus for m in messages if m.type == Type.CONNECTION_STATUS]
    assert status is not None
    assert status.status == Status.FAILED
    for api, path in (("Stripe", "stripe"), ("Orb", "orb"), ("integrator.io", "integrator")):
        assert f"{api}: could not get an answer from {server.url}/{path}" in (status.message or "")
    assert connections == 3 * (CHECK_RETRIES + 1)
