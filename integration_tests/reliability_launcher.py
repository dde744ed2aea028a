"""The connector's console script with its clock compressed, for failure paths that take minutes in real
time (timeouts, retries until exhausted):

    python -m integration_tests.reliability_launcher COMPRESSION COMMAND [ARGS...]

runs `source_billing.runtime.run.run()` (what the `source-billing` executable runs) with the connector's
timeouts, retry waits and circuit-breaker silence divided by COMPRESSION (see `reliability_transport`).
Everything else, output included, is the real executable's. `run_launched` runs it as a subprocess, as
`connector.run_connector` does for the executable itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from airbyte_cdk.models import AirbyteMessageSerializer

from integration_tests.connector import TIMEOUT_SECONDS, Run
from integration_tests.reliability_transport import (
    TransportProbe,
    compressed_breaker_clock,
    compressed_retry_waits,
)
from source_billing.http.errors import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
from source_billing.runtime import run

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    compression = float(sys.argv[1])
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    probe = TransportProbe(
        connect_timeout=CONNECT_TIMEOUT_SECONDS / compression, read_timeout=READ_TIMEOUT_SECONDS / compression
    )
    with probe.active(), compressed_retry_waits(1 / compression), compressed_breaker_clock(1 / compression):
        run.run()


def run_launched(
    compression: float | None,
    command: str,
    config: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Run:
    """Run one command as a subprocess: the real executable when `compression` is None, else this launcher.
    Output lines that are not Airbyte messages (the CDK's `--debug` lines) are kept in `stdout` only."""
    with tempfile.TemporaryDirectory() as folder:
        if compression is None:
            args = [str(Path(sys.executable).with_name("source-billing")), command]
        else:
            args = [sys.executable, "-m", "integration_tests.reliability_launcher", str(compression), command]
        for flag, value in (("--config", config), ("--catalog", catalog), ("--state", state)):
            if value is not None:
                path = Path(folder) / f"{flag[2:]}.json"
                path.write_text(json.dumps(value))
                args += [flag, str(path)]
        done = subprocess.run(
            [*args, *extra_args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            cwd=ROOT,
        )
    found = Run(done.returncode, done.stdout, done.stderr)
    for line in done.stdout.splitlines():
        if line.strip():
            raw = json.loads(line)
            if raw.get("type") == "DEBUG":
                continue
            found.raw.append(raw)
            found.messages.append(AirbyteMessageSerializer.load(raw))
    return found


if __name__ == "__main__":
    main()
