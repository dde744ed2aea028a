"""Measurements of one connector run per API and per stream, and their comparison with a peer's.

Rates are records over the time a user waits for them, measured the same way for every connector: from
the beginning of the sync (its first stream's STARTED status or first record, so interpreter start-up is
left out) to the moment the stream finished (its COMPLETE status, else its last record, else the end of a
run cut off by the timeout). A concurrent connector finishes all streams together; a sequential one
finishes its first streams early and its last ones late, and each stream's rate says so. An API's rate
is its streams' records over the time until the last of them finished; its requests/s come from the
sandbox (see `bench.ceiling`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.ceiling import ApiTraffic, api_traffic
from bench.sync import SyncResult

KIB_PER_MB = 1024
PEER_FAILED = "peer failed it"
ERROR_IN_NOTE = 80


@dataclass(frozen=True)
class ApiResult:
    """One API's share of one run.

    Attributes:
        api: `stripe`, `orb` or `integrator`.
        streams: The run's stream names that belong to this API.
        records: Their records.
        seconds: From the sync's beginning until the last of them finished (None if none started).
        traffic: What the sandbox saw.
    """

    api: str
    streams: tuple[str, ...]
    records: int
    seconds: float | None
    traffic: ApiTraffic

    @property
    def records_per_second(self) -> float | None:
        """Records over `seconds`."""
        return self.records / self.seconds if self.seconds else None

    def to_json(self) -> dict[str, Any]:
        """For the results file."""
        return {
            "api": self.api,
            "streams": list(self.streams),
            "records": self.records,
            "seconds_to_finish": self.seconds,
            "records_per_second": self.records_per_second,
            **{key: value for key, value in self.traffic.to_json().items() if key != "api"},
        }


@dataclass(frozen=True)
class ConnectorRun:
    """One connector's sync of a rate-limited catalog.

    Attributes:
        label: `source-billing` or the peer's package and version.
        sync: The process measurements.
        apis: Per API.
    """

    label: str
    sync: SyncResult
    apis: dict[str, ApiResult]

    @property
    def peak_memory_mb(self) -> float:
        """Peak memory of the connector in MB: its RSS, or the PSS of its processes (`SyncResult`)."""
        return self.sync.peak_memory_kb / KIB_PER_MB

    def stream_rate(self, stream: str) -> float | None:
        """Records per second of one stream (None when it never started)."""
        return self.sync.records_per_second((stream,))

    def to_json(self) -> dict[str, Any]:
        """For the results file."""
        sync = self.sync
        return {
            "label": self.label,
            "returncode": sync.returncode,
            "timed_out": sync.timed_out,
            "seconds": sync.seconds,
            "began_at": sync.begin,
            "records": sync.records,
            "cpu_seconds": sync.cpu_seconds,
            "peak_memory_mb": self.peak_memory_mb,
            "memory_measured": sync.memory_label,
            "processes": sync.processes,
            "peak_rss_mb_largest_process": sync.max_rss_kb / KIB_PER_MB,
            "peak_rss_mb_summed": sync.tree_rss_kb / KIB_PER_MB if sync.processes > 1 else None,
            "errors": sync.errors[:20],
            "apis": {name: result.to_json() for name, result in self.apis.items()},
            "streams": {
                name: {
                    "records": progress.records,
                    "status": progress.status,
                    "seconds_to_finish": sync.seconds_to_finish((name,)),
                    "records_per_second": self.stream_rate(name),
                }
                for name, progress in sync.streams.items()
            },
        }


def connector_run(
    label: str,
    sync: SyncResult,
    streams_by_api: Mapping[str, tuple[str, ...]],
    log_entries: list[dict[str, Any]],
    stripe_mode: str = "live",
) -> ConnectorRun:
    """Combine a sync's own measurements with the sandbox's request log, per API.

    Args:
        label: Name of the connector.
        sync: The run.
        streams_by_api: The catalog's stream names (as this connector calls them) per API.
        log_entries: The sandbox's request log of this run only.
        stripe_mode: The Stripe key's mode.

    Returns:
        The run with one result per API of `streams_by_api`.
    """
    apis = {}
    for api, streams in streams_by_api.items():
        apis[api] = ApiResult(
            api=api,
            streams=streams,
            records=sum(sync.streams[name].records for name in streams if name in sync.streams),
            seconds=sync.seconds_to_finish(streams),
            traffic=api_traffic(api, log_entries, stripe_mode),
        )
    return ConnectorRun(label, sync, apis)


@dataclass(frozen=True)
class StreamComparison:
    """Our records/s on one stream next to a peer's.

    Attributes:
        stream: Our stream name.
        peer_stream: The peer's.
        ours: Our records/s.
        theirs: The peer's records/s (None when it never started the stream).
        ours_records: Records we read.
        theirs_records: Records the peer read.
        note: The peer's stream status, when it did not complete.
    """

    stream: str
    peer_stream: str
    ours: float | None
    theirs: float | None
    ours_records: int
    theirs_records: int
    note: str

    @property
    def ratio(self) -> float | None:
        """Ours over theirs; infinite when the peer failed the stream and read nothing."""
        if self.ours is None:
            return None
        if not self.theirs:
            # A peer that failed the stream read nothing; one that never got to it says nothing.
            return float("inf") if self.ours > 0 and self.note.startswith(PEER_FAILED) else None
        return self.ours / self.theirs


def compare_streams(
    ours: ConnectorRun, theirs: ConnectorRun, mapping: Mapping[str, str]
) -> list[StreamComparison]:
    """Per stream of `mapping` (ours -> theirs): both rates and why the peer's is missing, if it is."""
    rows = []
    for stream, peer_stream in mapping.items():
        ours_progress = ours.sync.streams.get(stream)
        peer_progress = theirs.sync.streams.get(peer_stream)
        note = ""
        if peer_progress is None or (peer_progress.begin is None and not peer_progress.records):
            note = "peer did not start it" + (" before the timeout" if theirs.sync.timed_out else "")
            if peer_progress is not None and peer_progress.status == "INCOMPLETE":
                note = PEER_FAILED
        elif peer_progress.status != "COMPLETE":
            note = PEER_FAILED if peer_progress.status == "INCOMPLETE" else "peer cut off by the timeout"
        if note == PEER_FAILED and theirs.sync.errors:
            note = f"{PEER_FAILED}: {theirs.sync.errors[0][:ERROR_IN_NOTE]}"
        rows.append(
            StreamComparison(
                stream=stream,
                peer_stream=peer_stream,
                ours=ours.stream_rate(stream),
                theirs=theirs.stream_rate(peer_stream),
                ours_records=ours_progress.records if ours_progress else 0,
                theirs_records=peer_progress.records if peer_progress else 0,
                note=note,
            )
        )
    return rows
