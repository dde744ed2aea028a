"""`python -m bench.frozen_sandbox [sandbox options]`: the sandbox with its seeded data frozen out of the
garbage collector.

Seeded at benchmark scale the sandbox holds about a gigabyte of small objects; a full collection walks
all of them and stops every server thread for over a second (measured: a health check answered after
1.45 s, and no API request was served for as long, in the middle of a sync). A real API does not pause
like that, so the benchmark freezes the seeded objects (`gc.freeze`) once they are built; objects made
while serving are still collected. This is `python -m sandbox`'s serving loop with that one step added;
the sandbox's own code is unchanged.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from sandbox.__main__ import build_parser, options_from, write_ready_file
from sandbox.app import Sandbox
from sandbox.process import SandboxProcess
from sandbox.server import SandboxServer, check_loopback


class FrozenSandboxProcess(SandboxProcess):
    """`SandboxProcess` started through this module instead of `python -m sandbox`."""

    def command(self, ready_file: Path) -> list[str]:
        command = super().command(ready_file)
        command[command.index("sandbox")] = __name__
        return command


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, freeze, serve until SIGTERM/SIGINT or `--max-seconds` (the options of `python -m sandbox`)."""
    args = build_parser().parse_args(argv)
    options = options_from(args)
    check_loopback(options.host)
    sandbox = Sandbox(options)
    gc.collect()
    gc.freeze()
    server = SandboxServer(sandbox, options.host, options.port)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start_background()
    if args.ready_file is not None:
        write_ready_file(args.ready_file, server.port)
    stop.wait(options.max_seconds)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
