"""A sync of several APIs reads each API's streams in a process of its own, to use more than one core.

One Python process runs Python code on one core at a time (the interpreter lock). Measured on 2 vCPUs, a
sync of Stripe, Orb and integrator.io streams kept the connector at one full core while the other idled:
integrator.io, whose 300 requests/s bring up to 30,000 records/s, got two thirds of its rate ceiling. So
a `read` whose catalog spans several APIs forks one process per API before any thread starts. Each reads its
API's streams as a sync of that API alone would: its own workers (`max_concurrency` of them), rate budgets,
per-stream state messages, stream statuses and errors, and the exit code that goes with them. This process
writes their output lines through as they come, never part of a line; per-stream states stay valid
whatever the interleaving, since no two processes read the same stream.

When a process ends without the output of an orderly end (killed, say, by the kernel for memory), its API's
streams get a `system_error` trace from here, and the sync fails. A process whose parent dies is killed by
the kernel, so cancelling the sync stops every API.

The split is skipped, and one process reads everything as before, when fork is not available (not Linux),
when a thread is already running, for a catalog of one API, and when the inputs do not parse: the one
process then reports the problem once instead of once per API.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import selectors
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.runtime.inputs import spec_violation
from source_billing.runtime.progress import log_message
from source_billing.runtime.source import SourceBilling

LOGGER = logging.getLogger("airbyte")
# prctl(2): have the kernel send a signal to this process when its parent ends.
PR_SET_PDEATHSIG = 1
CHUNK_BYTES = 1 << 16
STDOUT = 1


@dataclass(frozen=True)
class ApiProcess:
    """A process reading one API's streams: which API, and the read end of its output."""

    api: str
    pid: int
    output: int


def apis_to_split(args: Sequence[str]) -> list[str] | None:
    """The APIs to read in a process each, in catalog order, or None to read in this one process.

    Args:
        args: the command line (`read --config ... --catalog ... [--state ...]`).
    """
    # Forking a process with threads running could copy a lock another thread holds.
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return None
    parsed = AirbyteEntrypoint.parse_args(list(args))
    if parsed.command != "read":
        return None
    source = SourceBilling()
    try:
        config = source.read_config(parsed.config)
        if spec_violation(config, source.spec(LOGGER).connectionSpecification) is not None:
            return None
        catalog = source.read_catalog(parsed.catalog)
        if parsed.state:
            source.read_state(parsed.state)
        # Also parses the configuration: a `config_error` here is the one process's to report.
        api_of = {stream.name: stream.api_name for stream in source.api_streams(config)}
    except Exception:  # reported by the one process, with the CDK's and the connector's own messages
        return None
    apis: list[str] = []
    for configured in catalog.streams:
        api = api_of.get(configured.stream.name)
        if api is None:
            return None  # a stream the source does not have: the one process reports it
        if api not in apis:
            apis.append(api)
    return apis if len(apis) > 1 else None


def read_per_api(apis: Sequence[str], launch: Callable[[str], None]) -> int:
    """Run `launch(api)` in a forked process per API, write their output lines to standard output as they
    come, and return the exit code of the whole: 0 when every process succeeded."""
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # objects made so far stay shared with the processes instead of being copied by the GC
    processes: list[ApiProcess] = []
    parent = os.getpid()
    for api in apis:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            for other in processes:
                os.close(other.output)
            _child(api, write_end, launch, parent)
        os.close(write_end)
        processes.append(ApiProcess(api, pid, read_end))
    starting = log_message(f"Reading the streams of {', '.join(apis)} in a process per API.")
    _write_line(AirbyteEntrypoint.airbyte_message_to_string(starting))
    unfinished = _relay({process.output: process for process in processes})
    code = 0
    for process in processes:
        _, status = os.waitpid(process.pid, 0)
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code != 0:
            code = 1
        if exit_code < 0 or process.api in unfinished:
            _write_line(_crash_trace(process.api, exit_code))
    return code


def _child(api: str, output: int, launch: Callable[[str], None], parent: int) -> None:
    """The forked process: reads `api`'s streams with its output going to the pipe, then exits (never
    returns into the parent's code)."""
    code = 1
    try:
        _die_with_parent(parent)
        os.dup2(output, STDOUT)
        os.close(output)
        launch(api)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        sys.excepthook(*sys.exc_info())  # the CDK's hook: an error trace with secrets filtered out
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when `parent` ends (in a container, `parent` may be pid 1)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _relay(outputs: Mapping[int, ApiProcess]) -> set[str]:
    """Write each process's complete lines to standard output as they arrive, until every process has
    closed its output; the APIs whose output ended in the middle of a line (that part is dropped)."""
    selector = selectors.DefaultSelector()
    pending = {fd: b"" for fd in outputs}
    for fd in outputs:
        selector.register(fd, selectors.EVENT_READ)
    unfinished: set[str] = set()
    while pending:
        for key, _ in selector.select():
            fd = key.fd
            chunk = os.read(fd, CHUNK_BYTES)
            if not chunk:
                selector.unregister(fd)
                os.close(fd)
                if pending.pop(fd):
                    unfinished.add(outputs[fd].api)
                continue
            data = pending[fd] + chunk
            end = data.rfind(b"\n") + 1
            pending[fd] = data[end:]
            if end:
                _write(data[:end])
    selector.close()
    return unfinished


def _write(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(STDOUT, view) :]


def _write_line(line: str) -> None:
    _write(f"{line}\n".encode())


def _crash_trace(api: str, exit_code: int) -> str:
    how = f"killed by signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
    error = AirbyteTracedException(
        message=(
            f"The {api} streams were not read in full: the process reading them ended unexpectedly "
            f"({how}), possibly for lack of memory. The other APIs' streams were read. Retry the sync."
        ),
        internal_message=f"{api} process ended: {how}",
        failure_type=FailureType.system_error,
    )
    return AirbyteEntrypoint.airbyte_message_to_string(error.as_airbyte_message())
