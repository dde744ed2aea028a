"""Command line: ``python -m sandbox [options]`` starts the sandbox and serves until stopped."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from sandbox.app import Sandbox, SandboxOptions
from sandbox.faults import FAULT_KINDS
from sandbox.server import SandboxServer, check_loopback


def _scale_for(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or "." not in name or not value.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected API.RESOURCE=N (e.g. stripe.customers=5000), got {text!r}"
        )
    return name, int(value)


def _kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    bad = [kind for kind in kinds if kind not in FAULT_KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"fault kinds must come from {','.join(FAULT_KINDS)}; got {text!r}")
    return kinds


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("--fault-rate must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by ``SandboxProcess`` documentation and tests)."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--ready-file", type=Path, help='write {"port": N, "pid": P} here once listening')
    parser.add_argument("--seed", type=int, default=1, help="seed of all generated data (default 1)")
    parser.add_argument("--scale", type=int, default=200, help="objects per top-level resource (default 200)")
    parser.add_argument(
        "--scale-for", type=_scale_for, action="append", default=[], metavar="API.RESOURCE=N",
        help="override one resource's count, e.g. stripe.customers=5000 (repeatable); stripe.events=N keeps "
        "the newest N seeded events",
    )  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every API request")
    parser.add_argument("--rate-limits", action="store_true", help="enforce the APIs' documented rate limits")
    parser.add_argument(
        "--fault-rate", type=_rate, default=0.0, help="share of API requests that fail (0..1)"
    )
    parser.add_argument("--fault-kinds", type=_kinds, default=list(FAULT_KINDS), help="comma-separated kinds")
    parser.add_argument("--fault-seed", type=int, default=1, help="seed of the fault sequence")
    parser.add_argument("--integrator-page-size", type=int, default=1000, help="integrator.io page size")
    parser.add_argument("--max-seconds", type=float, help="exit by itself after this many seconds")
    parser.add_argument("--now", type=float, help="fixed start time in epoch seconds (default: real time)")
    return parser


def options_from(args: argparse.Namespace) -> SandboxOptions:
    """Turn parsed arguments into ``SandboxOptions`` (every option field has its flag of the same name)."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(SandboxOptions)}
    return SandboxOptions(**{**values, "scale_for": dict(args.scale_for)})


def write_ready_file(path: Path, port: int) -> None:
    """Write ``{"port", "pid"}`` atomically (a reader never sees a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".sandbox-ready-")
    with os.fdopen(handle, "w") as stream:
        json.dump({"port": port, "pid": os.getpid()}, stream)
    os.replace(temporary, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGTERM/SIGINT or ``--max-seconds``.

    Args:
        argv: Arguments (``sys.argv[1:]`` when None).

    Returns:
        The exit code.
    """
    args = build_parser().parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = options_from(args)
    server = SandboxServer(Sandbox(options), options.host, options.port)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start_background()
    if args.ready_file is not None:
        write_ready_file(args.ready_file, server.port)
    host = f"[{options.host}]" if ":" in options.host else options.host
    print(f"sandbox listening on http://{host}:{server.port}", flush=True)
    stop.wait(options.max_seconds)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
