"""A server that accepts connections and never answers does not hang the connector.

Every request carries a connect and a read timeout (10 s and 60 s); a timed-out request is retried a
bounded number of times with backoff. Timeouts across all the requests to one API count toward that API's
circuit breaker: an API that answers nothing ends its part of the sync within 5 minutes, with a
`transient_error` that names it, while the other APIs complete; a page that answers after a timeout is
still read. To keep the tests short, time is compressed (`TransportProbe` shortens the timeouts,
`compressed_retry_waits` the waits between attempts, `compressed_breaker_clock` the breaker's silence); the
bounds asserted are the production bounds compressed by the same factor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalogSerializer,
    FailureType,
    Status,
    Type,
)

from integration_tests.conftest import sandbox_config
from integration_tests.reliability_launcher import run_launched
from integration_tests.reliability_sync import (
    catalog_of,
    record_set_problems,
    records_by_stream,
    request_log,
    run_entrypoint,
    stream_errors,
    sync,
)
from integration_tests.reliability_transport import (
    SilentServer,
    TransportProbe,
    compressed_breaker_clock,
    compressed_retry_waits,
)
from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing.http.breaker import MIN_FAILURES
from source_billing.http.check import CHECK_RETRIES
from source_billing.http.errors import CONNECT_TIMEOUT_SECONDS, MAX_RETRIES, READ_TIMEOUT_SECONDS

COMPRESSION = 120
READ_TIMEOUT = READ_TIMEOUT_SECONDS / COMPRESSION
CONNECT_TIMEOUT = CONNECT_TIMEOUT_SECONDS / COMPRESSION
# The longest a request waits between attempts in `check`: `RetryAfterBackoff` caps at 4 s there, the CDK
# adds 1 s.
CHECK_LONGEST_WAIT = 5.0
# What the connector promises: an API that answers nothing ends its part of the sync within 5 minutes.
HUNG_API_BOUND_SECONDS = 5 * 60.0
# Interpreter, sandbox and scheduling overhead on a busy two-core machine.
SLACK_SECONDS = 5.0
STOPPED = "Orb stopped answering earlier in this sync (no request to it was answered for 2 minutes"


def per_request_bound(attempts: int, longest_wait: float, compression: float = COMPRESSION) -> float:
    """The longest one request can take against a server that never answers, compressed: every attempt
    waits for its read timeout, with the longest wait between attempts."""
    return (attempts * READ_TIMEOUT_SECONDS + (attempts - 1) * longest_wait) / compression


@contextmanager
def compressed(compression: float) -> Iterator[TransportProbe]:
    """The connector's timeouts, retry waits and breaker silence divided by `compression`."""
    probe = TransportProbe(
        connect_timeout=CONNECT_TIMEOUT_SECONDS / compression, read_timeout=READ_TIMEOUT_SECONDS / compression
    )
    with probe.active(), compressed_retry_waits(1 / compression), compressed_breaker_clock(1 / compression):
        yield probe


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


@pytest.fixture
def slow_items(hung_sandbox: SandboxProcess) -> Iterator[SandboxProcess]:
    """The sandbox's Orb holds the first request for `/v1/items` past the read timeout, then answers the
    retry: the seeded draws of a `timeout` fault at rate 0.5 are first yes, then no."""
    hung_sandbox.control("DELETE", "/_control/requests")
    hung_sandbox.control(
        "POST",
        "/_control/faults",
        {
            "rate": 0.5,
            "seed": 4,
            "kinds": ["timeout"],
            "timeout_seconds": 2 * READ_TIMEOUT,
            "apis": ["orb"],
            "paths": ["^/v1/items$"],
        },
    )
    yield hung_sandbox
    hung_sandbox.control("DELETE", "/_control/faults")


@pytest.mark.parametrize(
    "compression",
    [
        pytest.param(COMPRESSION, id="compressed"),
        # The production timeouts, waits and silence, uncompressed: about 3 minutes.
        pytest.param(1.0, id="real time", marks=pytest.mark.soak),
    ],
)
def test_given_an_api_that_never_answers_when_a_stream_is_read_then_it_stops_within_the_bound_naming_it(
    hanging: SandboxProcess, compression: float
) -> None:
    config = {"orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": hanging.base_url("orb")}}
    started = time.monotonic()
    with compressed(compression) as probe:
        output = sync(config, catalog_of(config, ["orb_items"]))
    elapsed = time.monotonic() - started

    assert elapsed <= HUNG_API_BOUND_SECONDS / compression + SLACK_SECONDS, elapsed
    ((failure, message),) = stream_errors(output)
    assert failure == FailureType.transient_error
    assert message.startswith(STOPPED), message
    assert message.endswith("Retry the sync later.")
    assert not output.records
    # Every attempt reached the server and is still held unanswered; none was sent without its timeouts.
    # The request stopped once Orb had been silent for the breaker's bound, well before its last retry.
    attempts = [entry for entry in request_log(hanging) if entry["path"] == "/v1/items"]
    assert MIN_FAILURES <= len(attempts) < MAX_RETRIES + 1
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
    with compressed(COMPRESSION * 5):
        output = sync(config, catalog_of(config, ["orb_invoices"]))
    errors = stream_errors(output)
    # The first slice's request stops once Orb has been silent for the bound; the breaker then fails the
    # other three slices at once, before they send anything.
    assert len(errors) == 4
    assert {failure for failure, _ in errors} == {FailureType.transient_error}
    assert errors[0][1].startswith(STOPPED)
    assert all(message.startswith("Stream orb_invoices was not read in full: ") for _, message in errors[1:])
    assert all(STOPPED in message for _, message in errors[1:])
    assert not output.records
    attempts = [entry for entry in request_log(hanging) if entry["path"] == "/v1/invoices"]
    assert MIN_FAILURES <= len(attempts) < MAX_RETRIES + 1


# Compressed less than the other tests, so that the bound (10 s) stands well clear of the 24 s a dead API
# held a sync before its requests counted together; streams of each API, Orb's first page of each hung.
LAUNCHED_COMPRESSION = 30
ANSWERING_STREAMS = ["customers", "products", "integrator_io_connectors", "integrator_io_flows"]
HUNG_STREAMS = ["orb_customers", "orb_invoices", "orb_items", "orb_plans", "orb_credits_ledger_entries"]


def test_given_a_hung_api_when_three_apis_sync_then_it_ends_within_5_minutes_and_the_others_complete(
    hanging: SandboxProcess,
) -> None:
    config = sandbox_config(hanging)
    catalog = ConfiguredAirbyteCatalogSerializer.dump(catalog_of(config, ANSWERING_STREAMS + HUNG_STREAMS))
    started = time.time()
    run = run_launched(LAUNCHED_COMPRESSION, "read", config, catalog)
    elapsed = time.time() - started
    bound = HUNG_API_BOUND_SECONDS / LAUNCHED_COMPRESSION + SLACK_SECONDS

    assert run.returncode != 0
    assert elapsed <= bound, elapsed
    errors: dict[str, list[AirbyteErrorTraceMessage]] = {}
    for message in run.errors():
        assert message.trace is not None
        assert message.trace.error is not None
        error = message.trace.error
        if error.stream_descriptor is not None:
            errors.setdefault(error.stream_descriptor.name, []).append(error)
            # Orb's part ended within the bound (the first process had started, and more, before).
            assert message.trace.emitted_at / 1000 - started <= bound
    assert set(errors) == set(HUNG_STREAMS), errors
    for failures in errors.values():
        assert {error.failure_type for error in failures} == {FailureType.transient_error}
        assert all(STOPPED in error.message for error in failures), failures
    # The other APIs completed, with every record.
    statuses = {
        message.trace.stream_status.stream_descriptor.name: message.trace.stream_status.status
        for message in run.of_type(Type.TRACE)
        if message.trace is not None and message.trace.stream_status is not None
    }
    assert {name: statuses.get(name) for name in ANSWERING_STREAMS} == dict.fromkeys(
        ANSWERING_STREAMS, AirbyteStreamStatus.COMPLETE
    )
    found = {stream: run.records(stream) for stream in ANSWERING_STREAMS}
    assert all(found.values())
    assert not record_set_problems(hanging, found, ANSWERING_STREAMS)


def test_given_a_page_that_answers_after_one_timeout_when_read_then_its_records_are_read(
    slow_items: SandboxProcess,
) -> None:
    config = {"orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": slow_items.base_url("orb")}}
    with compressed(COMPRESSION):
        output = sync(config, catalog_of(config, ["orb_items"]))

    assert not output.errors
    assert not record_set_problems(slow_items, records_by_stream(output), ["orb_items"])
    first, retry = [entry for entry in request_log(slow_items) if entry["path"] == "/v1/items"]
    assert first["status"] in (None, 200)  # held past the read timeout; answered to no one, or not yet
    assert retry["status"] == 200
    assert retry["fault"] is None


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
