"""What the benchmark ran on and which code it measured, for the results file and the README."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _first(path: str, prefix: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(prefix):
            return line.split(":", 1)[1].strip()
    return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """CPU model and count, memory, OS, Python, UTC date, the commit and its uncommitted connector files."""
    memory = _first("/proc/meminfo", "MemTotal")
    changed = _git("status", "--porcelain", "--", "source_billing")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        # Other work on the machine slows every number: the load when the run began says how much there was.
        "load_average_1_5_15": [round(value, 2) for value in os.getloadavg()],
        "memory": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_connector_files": [line[3:] for line in changed.splitlines()],
    }
