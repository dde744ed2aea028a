"""Run one Airbyte source command as a subprocess and measure it: records per stream and when they came,
stream statuses, errors, CPU time (from `wait4`: the process and the processes it forked and waited for)
and peak memory, all within a timeout.

Memory: `wait4` gives the peak RSS of the process, or of the largest process it waited for, never their
sum. So `TreeMemory` also samples the process and its descendants every `MEMORY_SAMPLE_SECONDS`; when
there is more than one, their memory is the sum of their PSS (a page shared by n processes counts 1/n in
each, so pages forked processes share are counted once); the sum of their RSS, which counts a shared page
once per process, is kept beside it.

The output is read line by line without decoding whole records: the per-line cost here competes for the
same cores as the connector, so a record line is recognised and its stream name found in its first bytes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# A record line names its stream near the start: `{"type":"RECORD","record":{"stream":"customers",...`
# (CDK 7 and 6), or with spaces after the colons (CDK 0.x, pydantic). A namespace may come first.
_RECORD = re.compile(rb'^\{"type":\s*"RECORD",\s*"record":\s*\{[^{]*?"stream":\s*"([^"]+)"')
_HEAD = 400
_TYPE_FIELD = 24  # `{"type": "RECORD"` fits
STDERR_TAIL = 4000
MEMORY_SAMPLE_SECONDS = 0.25


@dataclass
class StreamProgress:
    """What a sync emitted for one stream; times are seconds since the process started.

    Attributes:
        records: Records emitted.
        first_record: When the first record arrived.
        last_record: When the last record arrived.
        started: When the STARTED stream status arrived.
        completed: When the COMPLETE (or INCOMPLETE) stream status arrived.
        status: The last stream status.
    """

    records: int = 0
    first_record: float | None = None
    last_record: float | None = None
    started: float | None = None
    completed: float | None = None
    status: str | None = None

    @property
    def begin(self) -> float | None:
        """Its STARTED status, else its first record (None when it never started)."""
        return self.started if self.started is not None else self.first_record

    def finish(self, end: float) -> float | None:
        """Its COMPLETE (or INCOMPLETE) status, else its last record, else `end` (cut off before either)."""
        if self.begin is None:
            return None
        if self.completed is not None:
            return self.completed
        return self.last_record if self.last_record is not None else end


@dataclass
class SyncResult:
    """One finished (or killed) command.

    Attributes:
        command: What ran.
        returncode: Exit code (negative: killed by that signal).
        seconds: Wall time from start to exit.
        user_cpu: User CPU seconds of the process.
        system_cpu: System CPU seconds of the process.
        max_rss_kb: Peak resident set size of the process, in KiB.
        timed_out: Whether it was killed at the timeout.
        streams: Progress per stream name.
        errors: Messages of TRACE errors.
        stderr_tail: The end of its standard error.
        processes: The most processes it ran at once (itself and its descendants), as sampled.
        tree_pss_kb: When it ran more than one: the peak of their summed PSS, in KiB, as sampled.
        tree_rss_kb: When it ran more than one: the peak of their summed RSS, in KiB, as sampled.
    """

    command: list[str]
    returncode: int
    seconds: float
    user_cpu: float
    system_cpu: float
    max_rss_kb: int
    timed_out: bool
    streams: dict[str, StreamProgress] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stderr_tail: str = ""
    processes: int = 1
    tree_pss_kb: int = 0
    tree_rss_kb: int = 0

    @property
    def peak_memory_kb(self) -> int:
        """The peak RSS of the process when it ran alone; else the peak of its processes' summed PSS."""
        return self.tree_pss_kb if self.processes > 1 else self.max_rss_kb

    @property
    def memory_label(self) -> str:
        """What `peak_memory_kb` measured."""
        return f"peak PSS of {self.processes} processes" if self.processes > 1 else "peak RSS"

    @property
    def records(self) -> int:
        """Records of all streams."""
        return sum(progress.records for progress in self.streams.values())

    @property
    def begin(self) -> float | None:
        """When the sync began: the first stream's start (interpreter start-up left out)."""
        begins = [progress.begin for progress in self.streams.values() if progress.begin is not None]
        return min(begins, default=None)

    def seconds_to_finish(self, names: Iterable[str]) -> float | None:
        """From the sync's beginning to the last of `names` to finish (None when none of them started)."""
        begin = self.begin
        finishes = [
            finish
            for name in names
            if name in self.streams and (finish := self.streams[name].finish(self.seconds)) is not None
        ]
        if begin is None or not finishes:
            return None
        return max(finishes) - begin

    def records_per_second(self, names: Iterable[str]) -> float | None:
        """Records of `names` over `seconds_to_finish` (None when unknown or no time passed)."""
        names = tuple(names)
        seconds = self.seconds_to_finish(names)
        records = sum(self.streams[name].records for name in names if name in self.streams)
        return records / seconds if seconds else None

    @property
    def cpu_seconds(self) -> float:
        """User plus system CPU seconds."""
        return self.user_cpu + self.system_cpu

    @property
    def ok(self) -> bool:
        """Exited 0 within the timeout, without a TRACE error."""
        return self.returncode == 0 and not self.timed_out and not self.errors


class _Reader:
    """Consumes a sync's standard output and keeps the per-stream progress."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.streams: dict[str, StreamProgress] = {}
        self.errors: list[str] = []

    def progress(self, name: str) -> StreamProgress:
        found = self.streams.get(name)
        if found is None:
            found = self.streams[name] = StreamProgress()
        return found

    def consume(self, output: IO[bytes]) -> None:
        clock = time.monotonic
        for line in output:
            head = line[:_HEAD]
            if b'"RECORD"' in head[:_TYPE_FIELD]:
                matched = _RECORD.match(head)
                name = matched.group(1).decode() if matched else _record_stream(line)
                progress = self.progress(name)
                moment = clock() - self.start
                if progress.first_record is None:
                    progress.first_record = moment
                progress.last_record = moment
                progress.records += 1
            elif b'"TRACE"' in head[:_TYPE_FIELD]:
                self.trace(line, clock() - self.start)

    def trace(self, line: bytes, moment: float) -> None:
        try:
            trace = json.loads(line)["trace"]
        except (ValueError, KeyError):
            return
        if trace.get("type") == "ERROR":
            error = trace.get("error") or {}
            self.errors.append(str(error.get("message") or error.get("internal_message") or "error"))
        elif trace.get("type") == "STREAM_STATUS":
            status = trace["stream_status"]
            progress = self.progress(status["stream_descriptor"]["name"])
            progress.status = str(status["status"])
            if progress.status == "STARTED":
                progress.started = moment
            elif progress.status in ("COMPLETE", "INCOMPLETE"):
                progress.completed = moment


def _record_stream(line: bytes) -> str:
    """The stream of a record line whose stream name does not come first (decoded in full: rare)."""
    try:
        return str(json.loads(line)["record"]["stream"])
    except (ValueError, KeyError):
        return "?"


def write_json(folder: Path, name: str, value: Any) -> Path:
    """Write `value` as `folder/name.json` and return the path."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(value))
    return path


def run_sync(
    command: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
    stderr_path: Path | None = None,
) -> SyncResult:
    """Run `command` until it exits or `timeout` seconds pass (then it and its group are killed).

    Args:
        command: The executable and its arguments (`read --config ... --catalog ...`).
        timeout: Seconds before the process is killed.
        env: Extra environment variables.
        stderr_path: Where to keep its standard error (a temporary file next to nothing when None).

    Returns:
        The measurements; CPU and peak RSS come from `wait4`, so they are this process's own.
    """
    stderr_file = stderr_path or Path(os.devnull)
    start = time.monotonic()
    with stderr_file.open("wb") as stderr:
        process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    reader = _Reader(start)
    memory = TreeMemory(process.pid)
    memory.start()
    try:
        assert process.stdout is not None
        reader.consume(process.stdout)
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
        memory.stop()
        if process.stdout is not None:
            process.stdout.close()
    seconds = time.monotonic() - start
    # wait4 reaped it; tell Popen, so it does not try again.
    process.returncode = os.waitstatus_to_exitcode(status)
    tail = ""
    if stderr_path is not None:
        tail = stderr_path.read_text(errors="replace")[-STDERR_TAIL:]
    return SyncResult(
        command=list(command),
        returncode=process.returncode,
        seconds=seconds,
        user_cpu=usage.ru_utime,
        system_cpu=usage.ru_stime,
        max_rss_kb=usage.ru_maxrss,
        timed_out=killed.is_set(),
        processes=memory.processes,
        tree_pss_kb=memory.peak_pss_kb,
        tree_rss_kb=memory.peak_rss_kb,
        streams=reader.streams,
        errors=reader.errors,
        stderr_tail=tail,
    )


class TreeMemory:
    """Samples, in a thread, how many processes a process tree has and, while it has more than one, the sum
    of their PSS and of their RSS (from `/proc/<pid>/smaps_rollup`); keeps the peaks."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)
        self.processes = 1
        self.peak_pss_kb = 0
        self.peak_rss_kb = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        pids = process_tree(self._pid)
        self.processes = max(self.processes, len(pids))
        if len(pids) < 2:
            return  # one process: `wait4` has its exact peak
        pss = rss = 0
        for pid in pids:
            sizes = memory_kb(pid)
            pss += sizes.get("Pss", 0)
            rss += sizes.get("Rss", 0)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)


def process_tree(pid: int) -> list[int]:
    """`pid` and its living descendants (empty when it has ended)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            threads = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue  # ended
        found.append(current)
        for thread in threads:
            try:
                pending += [
                    int(child)
                    for child in Path(f"/proc/{current}/task/{thread}/children").read_text().split()
                ]
            except OSError:
                continue
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """The sizes in `/proc/<pid>/smaps_rollup` (`Rss`, `Pss`...), in KiB; empty when it has ended."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    sizes: dict[str, int] = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        value = rest.split()
        if value and value[0].isdigit():
            sizes[name] = int(value[0])
    return sizes


def discover(
    command: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The streams of the CATALOG message `command` (a `discover` invocation) prints.

    Raises:
        RuntimeError: When it prints no catalog (its last output lines are included).
    """
    done = subprocess.run(
        list(command),
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    for line in done.stdout.splitlines():
        if b'"CATALOG"' in line[:_HEAD]:
            streams: list[dict[str, Any]] = json.loads(line)["catalog"]["streams"]
            return streams
    output = (done.stdout[-1500:] + done.stderr[-1500:]).decode(errors="replace")
    raise RuntimeError(f"{' '.join(command[:2])} printed no catalog (exit {done.returncode}): {output}")


def full_refresh_catalog(streams: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """A configured catalog of the named streams (in that order), each read in full refresh.

    Raises:
        KeyError: When a name is not among the discovered streams.
    """
    by_name = {stream["name"]: stream for stream in streams}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise KeyError(f"streams not discovered: {missing}")
    return {
        "streams": [
            {"stream": by_name[name], "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for name in names
        ]
    }
