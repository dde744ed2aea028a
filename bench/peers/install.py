"""Virtual environments of the peer connectors, one per pinned package, created on first use.

Both peers need Python < 3.12 (airbyte-source-stripe 5.14.1: >=3.10; airbyte-source-orb 1.2.4: >=3.9, and
its airbyte-cdk 0.80 pins pendulum 2, which has no build for 3.12). The interpreter is the project's own
when it fits, else the first `python3.11` / `python3.10` on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios import Peer

SUPPORTED = ((3, 10), (3, 11))
PIP_TIMEOUT_SECONDS = 900
MARKER = ".bench-installed"


class PeerUnavailable(RuntimeError):
    """A peer cannot be installed here (the reason is the message)."""


@dataclass(frozen=True)
class PeerEnvironment:
    """An installed peer.

    Attributes:
        peer: Which one.
        python: Its environment's interpreter.
        launcher: The launcher script to run with it.
    """

    peer: Peer
    python: Path
    launcher: Path


def _version(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def find_python() -> str:
    """An interpreter both peers support.

    Raises:
        PeerUnavailable: When the machine has none (install python3.11 from Debian: `apt-get install
            python3.11-venv`).
    """
    candidates = [getattr(sys, "_base_executable", sys.executable), "python3.11", "python3.10"]
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if path and _version(path) in SUPPORTED:
            return path
    raise PeerUnavailable(
        "the peers need Python 3.10 or 3.11 and none was found (Debian: apt-get install python3.11-venv)"
    )


def ensure(peer: Peer, root: Path) -> PeerEnvironment:
    """The peer's environment under `root`, created and installed from PyPI when missing.

    Args:
        peer: The peer.
        root: Folder of the environments (`bench-results/peers`).

    Returns:
        The environment.

    Raises:
        PeerUnavailable: No suitable interpreter, or pip failed (its output's end is in the message).
    """
    spec = f"{peer.package}=={peer.version}"
    folder = root / f"{peer.package}-{peer.version}"
    python = folder / "bin" / "python"
    marker = folder / MARKER
    launcher = Path(__file__).resolve().parent / peer.launcher
    if marker.exists() and marker.read_text() == spec and python.exists():
        return PeerEnvironment(peer, python, launcher)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    interpreter = find_python()
    print(f"bench: installing {spec} into {folder} (Python {interpreter})", flush=True)
    for command in (
        [interpreter, "-m", "venv", str(folder)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
        if done.returncode != 0:
            raise PeerUnavailable(f"`{' '.join(command)}` failed: {(done.stdout + done.stderr)[-1500:]}")
    marker.write_text(spec)
    return PeerEnvironment(peer, python, launcher)
