"""The benchmark's sandbox command: `python -m sandbox`'s options, through the freezing entry point."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.frozen_sandbox import FrozenSandboxProcess


def test_given_sandbox_options_when_building_the_command_then_only_the_module_changes() -> None:
    process = FrozenSandboxProcess(scale=20, scale_for={"stripe.customers": 5}, rate_limits=True)

    command = process.command(Path("/tmp/ready.json"))

    assert command[:3] == [sys.executable, "-m", "bench.frozen_sandbox"]
    assert command[3:] == [
        "--ready-file",
        "/tmp/ready.json",
        "--scale",
        "20",
        "--scale-for",
        "stripe.customers=5",
        "--rate-limits",
        "--max-seconds",
        "900",
    ]
