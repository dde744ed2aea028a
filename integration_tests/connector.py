"""Running the real `source-billing` executable as a subprocess, as Airbyte runs the image's entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type

EXECUTABLE = Path(sys.executable).with_name("source-billing")
TIMEOUT_SECONDS = 300


@dataclass
class Run:
    """What one command printed: every stdout line parsed as an Airbyte message (a line that does not
    parse fails the run), plus the raw streams for secret scans."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[AirbyteMessage] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: Type) -> list[AirbyteMessage]:
        return [m for m in self.messages if m.type == kind]

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        return [
            dict(m.record.data)
            for m in self.of_type(Type.RECORD)
            if m.record is not None and (stream is None or m.record.stream == stream)
        ]

    def errors(self) -> list[AirbyteMessage]:
        return [m for m in self.of_type(Type.TRACE) if m.trace is not None and m.trace.error is not None]

    def states(self) -> list[dict[str, Any]]:
        """The STATE messages as JSON objects, ready to pass back as `--state`."""
        return [line["state"] for line in self.raw if line["type"] == "STATE"]

    def catalog_streams(self) -> list[dict[str, Any]]:
        """The streams of the CATALOG message as JSON objects, ready for `catalog_for`."""
        (catalog,) = [line["catalog"] for line in self.raw if line["type"] == "CATALOG"]
        return list(catalog["streams"])


def catalog_for(streams: list[dict[str, Any]], sync_mode: str = "full_refresh") -> dict[str, Any]:
    """A configured catalog of discovered streams, each in `sync_mode` where it supports it."""
    configured = []
    for stream in streams:
        mode = sync_mode if sync_mode in stream["supported_sync_modes"] else "full_refresh"
        configured.append(
            {
                "stream": stream,
                "sync_mode": mode,
                "destination_sync_mode": "append" if mode == "incremental" else "overwrite",
                **({"cursor_field": stream.get("default_cursor_field", [])} if mode == "incremental" else {}),
            }
        )
    return {"streams": configured}


def run_connector(
    command: str,
    config: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
) -> Run:
    """Run one command with files in a temporary folder; every printed line must be a protocol message."""
    with tempfile.TemporaryDirectory() as folder:
        args = [str(EXECUTABLE), command]
        for flag, value in (("--config", config), ("--catalog", catalog), ("--state", state)):
            if value is not None:
                path = Path(folder) / f"{flag[2:]}.json"
                path.write_text(json.dumps(value))
                args += [flag, str(path)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    run = Run(done.returncode, done.stdout, done.stderr)
    for line in done.stdout.splitlines():
        if line.strip():
            raw = json.loads(line)
            run.raw.append(raw)
            run.messages.append(AirbyteMessageSerializer.load(raw))
    return run
