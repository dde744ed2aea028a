"""Faults between the connector and the APIs, over real HTTP against the sandbox.

A sync of every stream of the three APIs while 5% of requests fail (500, 502, 503, dropped connections,
read timeouts, malformed and truncated bodies) and bursts of 429 arrive: it either completes with exactly
the sandbox's records, none twice, or stops with `transient_error` traces after states that a resumed sync
completes from. The sandbox's request log shows every failed request repeated by the same worker after a
wait that honours `Retry-After` or backs off with jitter. A request that keeps failing is given up after a
bounded number of attempts, and the state emitted before that is safe to resume from.

Timeouts are shortened (`TransportProbe`) so that a held request is a real read timeout within seconds.
`make soak` runs the same sync larger and with more faults.
"""

from __future__ import annotations

import statistics
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteStateMessage, FailureType
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from integration_tests.reliability_sync import (
    catalog_of,
    committed_records,
    duplicate_problems,
    everything_config,
    latest_states,
    record_set_problems,
    records_by_stream,
    request_log,
    same_request,
    stream_errors,
    sync,
    usage_ids,
)
from integration_tests.reliability_transport import THREAD_HEADER, TransportProbe, compressed_retry_waits
from sandbox import credentials
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.process import SandboxProcess
from source_billing.http.errors import MAX_RETRIES

KINDS = ("500", "502", "503", "drop", "timeout", "malformed", "truncated")
# The connector's timeouts, shortened so that the sandbox's held ("timeout") requests time out quickly.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 1.5
HOLD_SECONDS = 3.0
RETRY_AFTER = 1
# The CDK sleeps what the backoff strategy returns plus one second; the strategy's first wait is 0.5-1 s.
FIRST_RETRY_WAIT = (1.5, 2.0)
RATE_LIMITED_WAIT = RETRY_AFTER + 1.0
CLOCK_SLACK = 0.05
MAX_RESUMES = 3


@dataclass(frozen=True)
class Scenario:
    """One faulted sync: its size and how hard it is hit."""

    scale: int
    scale_for: dict[str, int]
    slice_range_days: int
    rate: float
    burst: int
    requests_between_bursts: int


# Bursts of 429 shorter than a request's retry budget (`MAX_RETRIES`): a burst that hits one request only
# is survived; a fault just before it may still exhaust the budget, which the test then resumes from.
BOUNDED = Scenario(
    scale=10,
    scale_for={"orb.customers": 30, "integrator.connectors": 6, "integrator.licenses": 60},
    slice_range_days=365,
    rate=0.05,
    burst=6,
    requests_between_bursts=200,
)
SOAK = Scenario(
    scale=80,
    scale_for={"orb.customers": 300, "integrator.connectors": 20, "integrator.licenses": 1000},
    slice_range_days=30,
    rate=0.10,
    burst=8,
    requests_between_bursts=400,
)
# Each API first gets a burst of its own (so every API is hit, whatever the interleaving), then bursts
# come for all of them together. The catalog lists Orb and integrator.io streams first so they start at once.
API_ORDER = ("orb", "integrator", "stripe")


def seed_covering_every_kind(rate: float, within: int) -> int:
    """The first seed whose fault sequence injects every kind within `within` requests. The sandbox draws
    in request order whatever the request, so this holds whichever requests the sync sends."""
    for seed in range(1, 10_000):
        injector = FaultInjector(FaultConfig(rate=rate, kinds=list(KINDS), seed=seed))
        drawn = {injector.decide("stripe", "/v1/customers") for _ in range(within)}
        if drawn >= set(KINDS):
            return seed
    raise AssertionError(f"no seed injects every kind within {within} requests at rate {rate}")


class Bursts:
    """Arms the sandbox's faults with a burst of 429s for one API after the other, then for all APIs every
    N requests served. Arming restarts the seeded sequence, so every stretch injects every kind."""

    def __init__(self, sandbox: SandboxProcess, scenario: Scenario) -> None:
        self._sandbox = sandbox
        self._scenario = scenario
        seed = seed_covering_every_kind(scenario.rate, scenario.requests_between_bursts)
        self._faults = FaultConfig(
            rate=scenario.rate,
            kinds=list(KINDS),
            seed=seed,
            retry_after=RETRY_AFTER,
            burst_429=scenario.burst,
            timeout_seconds=HOLD_SECONDS,
        ).to_json()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="429-bursts", daemon=True)
        self.count = 0

    def __enter__(self) -> Bursts:
        self._arm([API_ORDER[0]])
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sandbox.control("DELETE", "/_control/faults")

    def _arm(self, apis: list[str]) -> None:
        self._sandbox.control("POST", "/_control/faults", {**self._faults, "apis": apis})
        self.count += 1

    def _stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._sandbox.control("GET", "/_control/stats")["apis"]
        return stats

    def _run(self) -> None:
        for index, api in enumerate(API_ORDER):
            # Wait until this API's burst is spent, then arm the next one (all APIs after the last).
            while not self._stop.wait(0.05):
                if self._stats().get(api, {}).get("rate_limited", 0) >= self._scenario.burst:
                    break
            self._arm(list(API_ORDER[index + 1 : index + 2]))
        armed_at = sum(api["requests"] for api in self._stats().values())
        while not self._stop.wait(0.2):
            served = sum(api["requests"] for api in self._stats().values())
            if served - armed_at >= self._scenario.requests_between_bursts:
                self._arm([])
                armed_at = served


@dataclass
class FaultedRun:
    sandbox: SandboxProcess
    streams: list[str]
    syncs: list[EntrypointOutput]
    found: dict[str, list[Any]]
    log: list[dict[str, Any]]
    probe: TransportProbe
    usage_between: tuple[dict[str, set[str]], dict[str, set[str]]]
    bursts: int


def _faulted_run(scenario: Scenario) -> Iterator[FaultedRun]:
    with SandboxProcess(
        scale=scenario.scale, scale_for=scenario.scale_for, integrator_page_size=2, max_seconds=1800
    ) as sandbox:
        config = everything_config(sandbox, slice_range_days=scenario.slice_range_days)
        catalog = catalog_of(config)
        catalog.streams.sort(
            key=lambda configured: configured.stream.name.startswith(("orb_", "integrator_")), reverse=True
        )
        streams = [configured.stream.name for configured in catalog.streams]
        usage_before = usage_ids(config)
        sandbox.control("DELETE", "/_control/requests")

        probe = TransportProbe(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)
        syncs = []
        found: dict[str, list[Any]] = defaultdict(list)
        state: list[AirbyteStateMessage] | None = None
        with probe.active(), Bursts(sandbox, scenario) as bursts:
            for _ in range(MAX_RESUMES):
                output = sync(config, catalog, state)
                syncs.append(output)
                for stream, records in committed_records(output).items():
                    found[stream] += records
                if not output.errors:
                    break
                state = latest_states(output, state)
        log = request_log(sandbox)
        usage_between = (usage_before, usage_ids(config))
        yield FaultedRun(sandbox, streams, syncs, found, log, probe, usage_between, bursts.count)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(BOUNDED, id="bounded"),
        pytest.param(SOAK, id="soak", marks=pytest.mark.soak),
    ],
)
def faulted(request: pytest.FixtureRequest) -> Iterator[FaultedRun]:
    yield from _faulted_run(request.param)


def test_given_faults_and_429_bursts_when_every_stream_syncs_then_exactly_the_sandboxs_records(
    faulted: FaultedRun,
) -> None:
    for output in faulted.syncs[:-1]:
        # A sync that gave up did so on transient failures only, after retrying them.
        errors = stream_errors(output)
        assert errors
        assert {failure for failure, _ in errors} == {FailureType.transient_error}, errors
    assert not faulted.syncs[-1].errors, stream_errors(faulted.syncs[-1])
    problems = [problem for output in faulted.syncs for problem in duplicate_problems(output)]
    problems += record_set_problems(
        faulted.sandbox, faulted.found, faulted.streams, usage_between=faulted.usage_between
    )
    assert not problems, problems
    assert all(
        faulted.found.get(stream) for stream in ("customers", "orb_invoices", "integrator_io_licenses")
    )


def test_given_faults_and_429_bursts_when_every_stream_syncs_then_every_kind_was_injected(
    faulted: FaultedRun,
) -> None:
    injected: dict[str, int] = defaultdict(int)
    for entry in faulted.log:
        if entry["fault"]:
            injected[entry["fault"]] += 1
    assert set(injected) == {*KINDS, "429"}, dict(injected)
    assert faulted.bursts > len(API_ORDER), "bursts of 429s came in the middle of the sync"
    assert {entry["api"] for entry in faulted.log if entry["fault"] == "429"} == {
        "stripe",
        "orb",
        "integrator",
    }


def test_given_faults_when_requests_are_retried_then_by_the_same_worker_after_a_jittered_backoff(
    faulted: FaultedRun,
) -> None:
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in sorted(faulted.log, key=lambda entry: entry["seq"]):
        by_worker[entry["headers"][THREAD_HEADER]].append(entry)
    first_waits: list[float] = []
    given_up = 0
    for entries in by_worker.values():
        failed_in_a_row = 0
        for index, entry in enumerate(entries):
            if not entry["fault"]:
                failed_in_a_row = 0
                continue
            failed_in_a_row += 1
            if failed_in_a_row == MAX_RETRIES + 1:
                given_up += 1  # the retry budget is spent: the slice fails, the worker moves on
                failed_in_a_row = 0
                continue
            assert index + 1 < len(entries), f"{entry['path']} failed ({entry['fault']}) and was not retried"
            retry = entries[index + 1]
            assert same_request(entry, retry), f"{entry['path']} failed and its worker moved on without it"
            gap = retry["time"] - entry["time"]
            if entry["fault"] == "429":
                assert gap >= RATE_LIMITED_WAIT - CLOCK_SLACK, f"a 429 was retried after {gap:.2f}s"
            else:
                assert gap >= FIRST_RETRY_WAIT[0] - CLOCK_SLACK, f"{entry['fault']} retried after {gap:.2f}s"
            if failed_in_a_row == 1 and entry["fault"] in ("500", "502", "503", "malformed"):
                first_waits.append(gap)
    # A request given up ended its sync with a transient error, and the next sync resumed.
    assert given_up <= len(faulted.syncs) - 1
    assert len(first_waits) >= 5, first_waits
    # Jitter: first retries wait somewhere in 1.5-2 s, not all the same time.
    assert max(first_waits) - min(first_waits) > 0.1, first_waits
    assert statistics.pstdev(first_waits) > 0.02, first_waits


def test_given_faults_when_every_stream_syncs_then_every_request_had_timeouts_and_verified_tls(
    faulted: FaultedRun,
) -> None:
    assert faulted.probe.sent
    assert not faulted.probe.without_timeouts(), faulted.probe.without_timeouts()[:3]
    assert not faulted.probe.without_verification()
    # The key went with every request, and only to the configured host.
    assert {(request.netloc, request.authorized) for request in faulted.probe.sent} == {
        (f"127.0.0.1:{faulted.sandbox.port}", True)
    }


@pytest.fixture(scope="module")
def ledger_sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=8, max_seconds=900) as running:
        yield running


def test_given_one_ledger_that_always_fails_when_synced_then_bounded_attempts_transient_error_and_resumable(
    ledger_sandbox: SandboxProcess,
) -> None:
    """One customer's credit ledger answers 503 to every request: its slice gives up after a bounded number
    of attempts with a transient error; every other customer's ledger is read and checkpointed; a sync
    resumed from that state, once the API recovers, reads the rest."""
    sandbox = ledger_sandbox
    config = {"orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb")}}
    catalog = catalog_of(config, ["orb_credits_ledger_entries"])
    entries = sandbox.control("GET", "/_control/objects/orb/credit_ledger_entries")["data"]
    customers = {
        customer["id"] for customer in sandbox.control("GET", "/_control/objects/orb/customers")["data"]
    }
    failing = sorted({entry["customer"]["id"] for entry in entries})[0]
    failing_path = f"/v1/customers/{failing}/credits/ledger"
    sandbox.control("DELETE", "/_control/requests")
    sandbox.control(
        "POST", "/_control/faults", {"rate": 1.0, "kinds": ["503"], "paths": [f"^{failing_path}$"]}
    )
    with compressed_retry_waits(0.01) as waits:
        first = sync(config, catalog)
    sandbox.control("DELETE", "/_control/faults")

    errors = stream_errors(first)
    assert errors == [(FailureType.transient_error, errors[0][1])], errors
    assert "Orb is temporarily unavailable (HTTP 503)" in errors[0][1]
    attempts = [e for e in request_log(sandbox) if e["path"] == failing_path]
    assert len(attempts) == MAX_RETRIES + 1
    assert all(entry["fault"] == "503" for entry in attempts)
    # Backoff grows with each attempt (capped), each wait jittered within its step.
    backoffs = [wait - 1.0 for wait in waits]  # the CDK adds a second to what the strategy asks
    assert len(backoffs) == MAX_RETRIES
    for attempt, backoff in enumerate(backoffs, start=1):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        assert ceiling / 2 <= backoff <= ceiling, (attempt, backoff)

    state = latest_states(first)
    (saved,) = state
    assert saved.stream is not None
    cursors = saved.stream.stream_state.__dict__
    # Every other customer's ledgers were read in full and checkpointed (a cursor per customer and
    # currency); the failed one's were not.
    ledgers = {(entry["customer"]["id"], entry["currency"]) for entry in entries}
    assert {tuple(partition.split("|", 1)) for partition in cursors} == {
        (customer_id, "credits") for customer_id in customers - {failing}
    } | {(customer_id, currency) for customer_id, currency in ledgers if customer_id != failing}

    resumed = sync(config, catalog, state)
    assert not resumed.errors
    stream = saved.stream.stream_descriptor.name
    kept = {record["id"] for output in (first, resumed) for record in committed_records(output)[stream]}
    assert kept == {entry["id"] for entry in entries}
    resumed_ids = {record["id"] for record in records_by_stream(resumed)[stream]}
    assert {entry["id"] for entry in entries if entry["customer"]["id"] == failing} <= resumed_ids
