"""Crash and resume: the real `source-billing` executable, killed with SIGKILL at random moments of an
incremental sync and re-run each time from the last state it printed, loses no record.

Airbyte resumes a failed sync from the last state the destination committed. What the connector printed
before dying counts as emitted (the pipe keeps it), except a line cut short by the kill. Records of a stream
count as committed only up to that stream's last state: a destination may drop what came after it. So for
every incremental stream, the records committed by the killed runs plus everything the completing run
emitted must be exactly the sandbox's objects.

Full-refresh streams have no state under the concurrent framework: a restarted full refresh reads them
again from the start (see BEHAVIOR.md), which loses nothing, so they are left out here.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalogSerializer,
    SyncMode,
    Type,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder

from integration_tests.conftest import sandbox_config
from integration_tests.connector import EXECUTABLE, catalog_for, run_connector
from integration_tests.reliability_sync import everything_config, record_set_problems, run_entrypoint
from sandbox.process import SandboxProcess

# One stream of each way of reading incrementally: Stripe lists then events (with and without a creation
# event), children through their parents' events, append-only windows; Orb windows, open invoices and
# subscriptions tracked by id, one ledger cursor per customer; integrator.io's client-side connector
# filter and its jobs walk.
BOUNDED_STREAMS = (
    "customers",
    "charges",
    "invoices",
    "invoice_line_items",
    "subscription_items",
    "balance_transactions",
    "orb_customers",
    "orb_invoices",
    "orb_subscriptions",
    "orb_credits_ledger_entries",
    "integrator_io_connectors",
    "integrator_io_jobs",
)
# Usage rows are recomputed per day (the newest day is read again by design) and have no control-API
# listing to compare with; every other incremental stream is in the soak.
NOT_COMPARED = {"orb_subscription_usage", "billing_meter_event_summaries"}
RUN_TIMEOUT_SECONDS = 300
SECRET_FIELDS = (("stripe", "client_secret"), ("orb", "api_key"), ("integrator_io", "api_token"))


@dataclass(frozen=True)
class Scenario:
    scale: int
    slice_range_days: int
    kills: int
    streams: tuple[str, ...] | None  # None: every incremental stream
    seed: int


BOUNDED = Scenario(scale=10, slice_range_days=90, kills=20, streams=BOUNDED_STREAMS, seed=7)
SOAK = Scenario(scale=40, slice_range_days=30, kills=100, streams=None, seed=11)


@dataclass
class Printed:
    """What one run printed before it ended or was killed."""

    messages: list[dict[str, Any]]
    killed: bool
    output: str  # stdout and stderr as printed

    def states(self) -> dict[str, dict[str, Any]]:
        """The last state of each stream."""
        latest: dict[str, dict[str, Any]] = {}
        for message in self.messages:
            if message["type"] == "STATE":
                latest[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
        return latest

    def committed(self) -> dict[str, list[Mapping[str, Any]]]:
        """Per stream, the records a destination keeps: all of them if the run completed, else those
        before the stream's last state."""
        records: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        pending: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                pending[message["record"]["stream"]].append(message["record"]["data"])
            elif message["type"] == "STATE":
                name = message["state"]["stream"]["stream_descriptor"]["name"]
                records[name] += pending.pop(name, [])
        if not self.killed:
            for name, rest in pending.items():
                records[name] += rest
        return records

    def errors(self) -> list[str]:
        return [
            message["trace"]["error"]["message"]
            for message in self.messages
            if message["type"] == "TRACE" and message["trace"].get("error")
        ]


def run_read(
    config: Mapping[str, Any],
    catalog: Mapping[str, Any],
    state: list[dict[str, Any]],
    kill_at_line: int | None,
) -> Printed:
    """Run `read` and SIGKILL it as soon as it has printed `kill_at_line` lines (None: let it finish).
    The connector flushes its output every 0.1 s, so this is a random moment of the sync, not a pause
    between messages; whatever it printed before the kill is read too."""
    with tempfile.TemporaryDirectory() as folder:
        args = [str(EXECUTABLE), "read"]
        for name, value in (("config", config), ("catalog", catalog), ("state", state)):
            path = Path(folder) / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
        with (Path(folder) / "stderr.txt").open("wb") as stderr:
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr)
            watchdog = threading.Timer(RUN_TIMEOUT_SECONDS, process.kill)
            watchdog.start()
            assert process.stdout is not None
            lines: list[bytes] = []
            while kill_at_line is None or len(lines) < kill_at_line:
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line)
            if kill_at_line is not None and len(lines) >= kill_at_line:
                process.send_signal(signal.SIGKILL)  # a no-op if it has just finished by itself
            lines += process.stdout.read().splitlines(keepends=True)
            process.wait()
            watchdog.cancel()
        errors = (Path(folder) / "stderr.txt").read_text(errors="replace")
    killed = process.returncode == -signal.SIGKILL
    assert killed or process.returncode == 0, f"read exited with {process.returncode}: {errors[-2000:]}"
    # The kill can cut the last line short; a complete line ends with a newline.
    complete = [line for line in lines if line.endswith(b"\n") and line.strip()]
    output = b"".join(lines).decode(errors="replace") + errors
    return Printed([json.loads(line) for line in complete], killed, output)


@dataclass
class Chain:
    """One sync from no state to completion, killed along the way."""

    runs: list[Printed] = field(default_factory=list)
    found: dict[str, list[Mapping[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def kills(self) -> int:
        return sum(run.killed for run in self.runs)


def _sync_with_kills(
    config: Mapping[str, Any], catalog: Mapping[str, Any], rng: random.Random, longest: int
) -> Chain:
    chain = Chain()
    states: dict[str, dict[str, Any]] = {}
    while True:
        # Killed anywhere in what a whole sync prints; later runs have less left to do, so eventually one
        # finishes first.
        printed = run_read(config, catalog, list(states.values()), rng.randint(1, longest))
        chain.runs.append(printed)
        assert not printed.errors(), printed.errors()
        for stream, records in printed.committed().items():
            chain.found[stream] += records
        states.update(printed.states())
        if not printed.killed:
            return chain
        assert len(chain.runs) < 60, "the sync makes no progress between kills"


@dataclass
class CrashRun:
    scenario: Scenario
    config: dict[str, Any]
    sandbox: SandboxProcess
    streams: list[str]
    chains: list[Chain]


def _crash_run(scenario: Scenario) -> Iterator[CrashRun]:
    with SandboxProcess(scale=scenario.scale, integrator_page_size=5, max_seconds=3600) as sandbox:
        config = everything_config(sandbox, slice_range_days=scenario.slice_range_days)
        discovered = run_connector("discover", config).catalog_streams()
        chosen = [
            stream
            for stream in discovered
            if "incremental" in stream["supported_sync_modes"]
            and stream["name"] not in NOT_COMPARED
            and (scenario.streams is None or stream["name"] in scenario.streams)
        ]
        catalog = catalog_for(chosen, "incremental")
        reference = run_read(config, catalog, [], None)
        assert not reference.errors(), reference.errors()
        rng = random.Random(scenario.seed)
        chains: list[Chain] = []
        while sum(chain.kills for chain in chains) < scenario.kills:
            chains.append(_sync_with_kills(config, catalog, rng, len(reference.messages)))
        yield CrashRun(scenario, config, sandbox, [stream["name"] for stream in chosen], chains)


@pytest.fixture(
    scope="module",
    params=[pytest.param(BOUNDED, id="bounded"), pytest.param(SOAK, id="soak", marks=pytest.mark.soak)],
)
def crashed(request: pytest.FixtureRequest) -> Iterator[CrashRun]:
    yield from _crash_run(request.param)


def test_given_random_sigkills_when_each_run_resumes_from_the_last_state_then_no_record_is_lost(
    crashed: CrashRun,
) -> None:
    kills = sum(chain.kills for chain in crashed.chains)
    assert kills >= crashed.scenario.kills
    assert set(BOUNDED_STREAMS) <= set(crashed.streams)
    for chain in crashed.chains:
        problems = record_set_problems(crashed.sandbox, chain.found, crashed.streams)
        assert not problems, (len(chain.runs), problems)


def test_given_random_sigkills_then_no_run_printed_a_secret(crashed: CrashRun) -> None:
    secrets = [crashed.config[section][key] for section, key in SECRET_FIELDS]
    for run in (run for chain in crashed.chains for run in chain.runs):
        assert not [secret for secret in secrets if secret in run.output]


def test_given_random_sigkills_then_the_kills_landed_after_states_were_printed(crashed: CrashRun) -> None:
    # The kills are only a test of resuming if runs printed state before dying, and resumed from it.
    killed = [run for chain in crashed.chains for run in chain.runs if run.killed]
    assert sum(bool(run.states()) for run in killed) >= len(killed) // 2
    assert any(len(chain.runs) > 2 for chain in crashed.chains)


# --- what a restart is given: malformed catalog, malformed or outdated state ---------------------------

UNCLEAR = ("Something went wrong", "An unexpected error occurred")
RESUMED = ("customers", "orb_customers", "integrator_io_connectors")


@pytest.fixture(scope="module")
def restart_sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=5, max_seconds=900) as running:
        yield running


def _read_files(
    sandbox: SandboxProcess,
    folder: Path,
    catalog: Any = None,
    state: Any = None,
    raw_state: str | None = None,
) -> list[AirbyteMessage]:
    config = sandbox_config(sandbox)
    if catalog is None:
        catalog = CatalogBuilder()
        for name in RESUMED:
            catalog = catalog.with_stream(name, SyncMode.incremental)
        catalog = ConfiguredAirbyteCatalogSerializer.dump(catalog.build())
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "catalog.json").write_text(catalog if isinstance(catalog, str) else json.dumps(catalog))
    args = ["read", "--config", str(folder / "config.json"), "--catalog", str(folder / "catalog.json")]
    if state is not None or raw_state is not None:
        (folder / "state.json").write_text(raw_state if raw_state is not None else json.dumps(state))
        args += ["--state", str(folder / "state.json")]
    return run_entrypoint(args)


class _Logs(logging.Handler):
    """The connector's log lines (the CDK prints them rather than returning them as messages)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logs() -> Iterator[list[str]]:
    handler = _Logs()
    logger = logging.getLogger("airbyte")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def _stream_state(name: str, value: Any) -> dict[str, Any]:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": value}}


def _records(messages: list[AirbyteMessage], stream: str) -> list[Mapping[str, Any]]:
    return [m.record.data for m in messages if m.record is not None and m.record.stream == stream]


def _errors(messages: list[AirbyteMessage]) -> list[str]:
    return [m.trace.error.message for m in messages if m.trace is not None and m.trace.error is not None]


@pytest.mark.parametrize(
    "saved",
    [
        pytest.param({"updated": 1_700_000_000}, id="flat, without partitions"),
        pytest.param({"default": 1_700_000_000}, id="partition without cursor field"),
        pytest.param({"default": {"created": 1_700_000_000}}, id="another cursor field"),
    ],
)
def test_given_a_state_of_another_shape_when_read_then_that_stream_is_read_again_in_full(
    restart_sandbox: SandboxProcess, tmp_path: Path, saved: Any
) -> None:
    messages = _read_files(restart_sandbox, tmp_path, state=[_stream_state("customers", saved)])
    assert not _errors(messages)
    assert not record_set_problems(
        restart_sandbox, {"customers": _records(messages, "customers")}, ["customers"]
    )


def test_given_a_stripe_state_older_than_its_events_when_read_then_read_again_in_full_saying_so(
    restart_sandbox: SandboxProcess, tmp_path: Path, logs: list[str]
) -> None:
    outdated = int(time.time()) - 60 * 24 * 3600
    messages = _read_files(
        restart_sandbox, tmp_path, state=[_stream_state("customers", {"default": {"updated": outdated}})]
    )
    assert not _errors(messages)
    assert not record_set_problems(
        restart_sandbox, {"customers": _records(messages, "customers")}, ["customers"]
    )
    assert any("older than Stripe keeps events" in line for line in logs)


def test_given_state_and_catalog_entries_for_streams_the_connector_lacks_when_read_then_they_are_skipped(
    restart_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    catalog = (
        CatalogBuilder()
        .with_stream("customers", SyncMode.incremental)
        .with_stream("gone", SyncMode.full_refresh)
    )
    messages = _read_files(
        restart_sandbox,
        tmp_path,
        catalog=ConfiguredAirbyteCatalogSerializer.dump(catalog.build()),
        state=[_stream_state("gone_too", {"x": 1})],
    )
    assert not _errors(messages)
    assert _records(messages, "customers")
    statuses = [
        m.trace.stream_status.status
        for m in messages
        if m.trace is not None
        and m.trace.stream_status is not None
        and m.trace.stream_status.stream_descriptor.name == "gone"
    ]
    assert statuses == [AirbyteStreamStatus.INCOMPLETE]


def _assert_clear_error(messages: list[AirbyteMessage], subject: str) -> None:
    errors = _errors(messages)
    assert errors, "a malformed input must stop the read"
    assert not [m for m in messages if m.type == Type.RECORD]
    for error in errors:
        assert not error.startswith(UNCLEAR), error
    assert any(subject in error.lower() for error in errors), errors


@pytest.mark.parametrize(
    "catalog",
    [
        pytest.param("{not json", id="not JSON"),
        pytest.param({"streams": [{"stream": {"name": "x"}}]}, id="wrong shape"),
    ],
)
def test_given_a_malformed_catalog_when_read_then_a_clear_error_about_the_catalog(
    restart_sandbox: SandboxProcess, tmp_path: Path, catalog: Any
) -> None:
    _assert_clear_error(_read_files(restart_sandbox, tmp_path, catalog=catalog), "catalog")


@pytest.mark.parametrize(
    "raw_state",
    [
        pytest.param("{not json", id="not JSON"),
        pytest.param(json.dumps({"customers": {"updated": 1_700_000_000}}), id="legacy format"),
        pytest.param(json.dumps([_stream_state("customers", "garbage")]), id="stream state not an object"),
    ],
)
def test_given_a_malformed_or_legacy_state_when_read_then_a_clear_error_about_the_state(
    restart_sandbox: SandboxProcess, tmp_path: Path, raw_state: str
) -> None:
    _assert_clear_error(_read_files(restart_sandbox, tmp_path, raw_state=raw_state), "state")


@pytest.mark.parametrize(
    ("stream", "saved"),
    [
        ("customers", {"default": {"updated": "garbage"}}),
        ("orb_customers", {"default": {"created_at": "garbage"}}),
        ("integrator_io_connectors", {"default": {"lastModified": 12}}),
    ],
)
def test_given_a_state_with_a_cursor_of_the_wrong_type_when_read_then_the_stream_is_read_in_full(
    restart_sandbox: SandboxProcess, tmp_path: Path, logs: list[str], stream: str, saved: Any
) -> None:
    messages = _read_files(restart_sandbox, tmp_path, state=[_stream_state(stream, saved)])
    assert not _errors(messages)
    assert not record_set_problems(restart_sandbox, {stream: _records(messages, stream)}, [stream])
    # One warning, naming the stream; the other streams' states were fine.
    warned = [line for line in logs if "is not a valid cursor" in line]
    assert len(warned) == 1, warned
    assert warned[0].startswith(f"Stream {stream}: ")
