"""The subprocess helper and the command line."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest

from sandbox.__main__ import build_parser, main, write_ready_file
from sandbox.credentials import ORB_API_KEY
from sandbox.process import SandboxControlError, SandboxProcess
from sandbox.server import check_loopback


def test_given_sandbox_process_when_used_as_context_then_it_serves_and_stops() -> None:
    with SandboxProcess(scale=5, scale_for={"stripe.customers": 7}, integrator_page_size=2) as sandbox:
        assert sandbox.base_url("orb") == f"http://127.0.0.1:{sandbox.port}/orb"
        assert sandbox.control("GET", "/_control/health")["status"] == "ok"
        assert sandbox.control("GET", "objects/stripe/customers")["count"] == 7
        with pytest.raises(SandboxControlError) as error:
            sandbox.control("GET", "nothing-here")
        assert error.value.status == 404
        connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
        connection.request("GET", "/orb/v1/ping", headers={"Authorization": f"Bearer {ORB_API_KEY}"})
        assert connection.getresponse().status == 200
        connection.close()
        pid = sandbox.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    with pytest.raises(ValueError, match="unknown api"):
        sandbox.base_url("paypal")


def test_given_max_seconds_when_running_then_the_process_exits_by_itself(tmp_path: Path) -> None:
    sandbox = SandboxProcess(scale=2, max_seconds=0.5).start()
    try:
        assert sandbox.wait(timeout=15) == 0
    finally:
        sandbox.stop()


def test_given_non_loopback_host_when_starting_then_refused() -> None:
    assert main(["--host", "0.0.0.0", "--scale", "1"]) == 2
    assert main(["--host", "192.168.1.10", "--scale", "1"]) == 2
    assert check_loopback("localhost") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    with pytest.raises(ValueError, match="loopback"):
        check_loopback("example.com")


def test_given_cli_options_when_parsing_then_values_and_validation() -> None:
    args = build_parser().parse_args(
        [
            "--scale-for",
            "stripe.customers=5000",
            "--scale-for",
            "integrator.licenses=1500",
            "--fault-kinds",
            "500,drop",
        ]
    )
    assert dict(args.scale_for) == {"stripe.customers": 5000, "integrator.licenses": 1500}
    assert args.fault_kinds == ["500", "drop"]
    assert args.port == 0
    assert args.seed == 1
    assert args.scale == 200
    for bad in (["--scale-for", "customers=5"], ["--fault-kinds", "boom"], ["--fault-rate", "1.5"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


def test_given_ready_file_when_written_then_json_with_port_and_pid(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "ready.json"
    write_ready_file(target, 1234)
    assert json.loads(target.read_text()) == {"port": 1234, "pid": os.getpid()}
    assert [path.name for path in target.parent.iterdir()] == ["ready.json"]
