"""A read of several APIs in a process per API: when the split happens, and what the output is when the
processes succeed, fail or die."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox import credentials
from source_billing.runtime import processes
from source_billing.runtime.processes import apis_to_split, read_per_api

CONFIG = {
    "stripe": {"client_secret": credentials.STRIPE_LIVE_KEY},
    "orb": {"api_key": credentials.ORB_API_KEY},
    "integrator_io": {"api_token": credentials.INTEGRATOR_TOKEN},
}


def _configured(name: str) -> dict[str, Any]:
    return {
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh",
        "destination_sync_mode": "overwrite",
    }


def _args(tmp_path: Path, streams: list[str], config: object = CONFIG, state: object = None) -> list[str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps({"streams": [_configured(name) for name in streams]}))
    args = ["read", "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return args


@pytest.fixture(autouse=True)
def no_other_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test session may have threads of its own (sandboxes); the connector's process has none."""
    monkeypatch.setattr(processes.threading, "active_count", lambda: 1)


def test_given_streams_of_three_apis_when_read_then_one_process_each_in_catalog_order(tmp_path: Path) -> None:
    args = _args(tmp_path, ["integrator_io_licenses", "customers", "orb_customers", "invoices"])
    assert apis_to_split(args) == ["integrator.io", "Stripe", "Orb"]


@pytest.mark.parametrize(
    "streams", [["customers", "invoices"], ["orb_customers"]], ids=["one api", "one stream"]
)
def test_given_streams_of_one_api_when_read_then_no_split(tmp_path: Path, streams: list[str]) -> None:
    assert apis_to_split(_args(tmp_path, streams)) is None


def test_given_check_or_discover_when_run_then_no_split(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    for command in ("check", "discover"):
        assert apis_to_split([command, "--config", str(tmp_path / "config.json")]) is None


@pytest.mark.parametrize(
    ("config", "streams", "state"),
    [
        ({**CONFIG, "max_concurrency": 0}, ["customers", "orb_customers"], None),
        (
            {"stripe": {"client_secret": "not a key"}, "orb": CONFIG["orb"]},
            ["customers", "orb_customers"],
            None,
        ),
        (CONFIG, ["customers", "no_such_stream"], None),
        (CONFIG, ["customers", "orb_customers"], {"legacy": "state"}),
    ],
    ids=["spec violation", "bad key", "unknown stream", "legacy state"],
)
def test_given_inputs_the_read_rejects_when_read_then_one_process_reports_them_once(
    tmp_path: Path, config: object, streams: list[str], state: object
) -> None:
    assert apis_to_split(_args(tmp_path, streams, config, state)) is None


def test_given_threads_running_when_read_then_no_fork(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes.threading, "active_count", lambda: 2)
    assert apis_to_split(_args(tmp_path, ["customers", "orb_customers"])) is None


def _lines(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capfd.readouterr().out.splitlines()]


def _records(lines: list[dict[str, Any]]) -> list[str]:
    return [line["record"]["data"]["id"] for line in lines if line["type"] == "RECORD"]


def _emit(api: str, count: int) -> None:
    """What an API's process writes: record lines, in several writes, some of them split mid-line."""
    lines = b"".join(
        json.dumps(
            {"type": "RECORD", "record": {"stream": api, "data": {"id": f"{api}-{n}"}, "emitted_at": 0}}
        ).encode()
        + b"\n"
        for n in range(count)
    )
    for start in range(0, len(lines), 1000):
        os.write(1, lines[start : start + 1000])
        os.sched_yield()  # let the other process write: their writes alternate


def test_given_processes_that_succeed_when_read_then_every_line_whole_and_exit_0(
    capfd: pytest.CaptureFixture[str],
) -> None:
    code = read_per_api(["Stripe", "Orb"], lambda api: _emit(api, 2_000))
    lines = _lines(capfd)  # every line parses: none was cut or mixed with another
    assert code == 0
    records = _records(lines)
    assert sorted(records) == sorted(f"{api}-{n}" for api in ("Stripe", "Orb") for n in range(2_000))
    assert lines[0]["log"]["message"] == "Reading the streams of Stripe, Orb in a process per API."
    assert not [line for line in lines if line["type"] == "TRACE"]


def test_given_one_process_that_fails_when_read_then_the_others_output_and_exit_1(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def launch(api: str) -> None:
        _emit(api, 10)
        if api == "Orb":
            raise SystemExit(1)  # the CDK's way out after its error trace

    code = read_per_api(["Stripe", "Orb"], launch)
    lines = _lines(capfd)
    assert code == 1
    assert len(_records(lines)) == 20
    assert not [line for line in lines if line["type"] == "TRACE"], "the failing process wrote its own trace"


def test_given_one_process_killed_mid_line_when_read_then_a_system_error_names_its_api(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def launch(api: str) -> None:
        _emit(api, 10)
        if api == "integrator.io":
            os.write(1, b'{"type": "RECORD", "rec')
            os.kill(os.getpid(), signal.SIGKILL)

    code = read_per_api(["Stripe", "integrator.io"], launch)
    lines = _lines(capfd)  # the cut line was dropped
    assert code == 1
    assert len(_records(lines)) == 20
    (trace,) = [line["trace"] for line in lines if line["type"] == "TRACE"]
    assert trace["error"]["failure_type"] == "system_error"
    assert trace["error"]["message"].startswith("The integrator.io streams were not read in full")
    assert f"signal {signal.SIGKILL.value}" in trace["error"]["message"]


PARENT_THAT_WAITS = """
import json, os, threading
from source_billing.runtime.processes import read_per_api

def launch(api):
    line = {"type": "LOG", "log": {"level": "INFO", "message": str(os.getpid())}}
    os.write(1, (json.dumps(line) + "\\n").encode())
    threading.Event().wait()  # reads on until stopped

read_per_api(["Stripe", "Orb"], launch)
"""


def test_given_a_sync_killed_when_its_processes_read_then_the_kernel_ends_them_too() -> None:
    """Cancelling a sync kills the first process; its API processes must not read on, orphaned."""
    # Every process of the sync holds the write end of this pipe: it reads as ended once they all have.
    alive, held = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_THAT_WAITS], stdout=subprocess.PIPE, pass_fds=(held,)
    )
    os.close(held)
    try:
        assert parent.stdout is not None
        children = []
        while len(children) < 2:
            line = json.loads(parent.stdout.readline())
            if line["log"]["message"].isdigit():
                children.append(int(line["log"]["message"]))
    finally:
        parent.kill()
        parent.wait()
    try:
        ready, _, _ = select.select([alive], [], [], 5.0)
        assert ready, f"API processes {children} still running"
        assert os.read(alive, 1) == b""
    finally:
        os.close(alive)
