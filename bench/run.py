"""The benchmark runs: rate-limited (ours, and with `--peers` the peers on the same sandbox), CPU-bound and
memory; then the tables, the targets with PASS/FAIL, and the results files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import ablation, costs, scenarios
from bench.machine import machine_info
from bench.peers.install import PeerUnavailable, ensure
from bench.report import Table, checks_table, comparison_table, rate_limited_table
from bench.results import ConnectorRun, StreamComparison, compare_streams, connector_run
from bench.sync import SyncResult, discover, full_refresh_catalog, run_sync, write_json
from bench.targets import (
    Check,
    ceiling_check,
    cpu_checks,
    orb_peer_checks,
    percent,
    rate_limited_check,
    ratio,
    rss_check,
    rss_growth_check,
    stripe_peer_check,
)
from bench.warmup import warm_up
from sandbox.process import SandboxProcess

EXECUTABLE = Path(sys.executable).with_name("source-billing")
DISCOVER_TIMEOUT = 120.0
OUR_STREAMS_BY_API = {
    "stripe": scenarios.STRIPE_STREAMS,
    "orb": scenarios.ORB_STREAMS,
    "integrator": scenarios.INTEGRATOR_STREAMS,
}
SECTIONS = {"stripe": "stripe", "orb": "orb", "integrator": "integrator_io"}
LOG_LIMIT = 2_000_000
# Orb streams whose reads the ledger's 10/s budget bounds, for ours and the peer alike.
LEDGER_BOUND = frozenset({"orb_credits_ledger_entries"})


@dataclass(frozen=True)
class Options:
    """Command-line settings.

    Attributes:
        out: Results folder.
        peers: Compare with the peers (rate-limited run only) instead of the CPU and memory runs.
        max_concurrency: Our `max_concurrency` (None: the connector's default).
        timeout: Seconds allowed to each of our syncs.
        peer_timeout: Seconds allowed to each peer's sync (cut off and measured on what it read).
        ablation: Run the rate-limited catalog with each scheduler rule off in turn, and nothing else.
    """

    out: Path
    peers: bool
    max_concurrency: int | None
    timeout: float
    peer_timeout: float
    ablation: bool = False


@dataclass(frozen=True)
class CpuRun:
    """One CPU-bound sync of `records` Stripe customers."""

    records: int
    sync: SyncResult
    requests: int

    @property
    def records_per_second(self) -> float | None:
        """Records from the stream's start to its end."""
        return self.sync.records_per_second((scenarios.CPU_STREAM,))

    @property
    def requests_per_second(self) -> float | None:
        """Stripe requests from the stream's start to its end."""
        seconds = self.sync.seconds_to_finish((scenarios.CPU_STREAM,))
        return self.requests / seconds if seconds else None

    @property
    def microseconds_per_record(self) -> float | None:
        """The process's user+sys CPU over the records it emitted."""
        read = self.sync.records
        return self.sync.cpu_seconds / read * 1e6 if read else None

    @property
    def peak_rss_mb(self) -> float:
        """Peak RSS of the process in MB."""
        return self.sync.max_rss_kb / 1024

    def to_json(self) -> dict[str, Any]:
        """For the results file."""
        sync = self.sync
        return {
            "records_seeded": self.records,
            "records": sync.records,
            "ok": sync.ok,
            "errors": sync.errors[:20],
            "seconds": sync.seconds,
            "records_per_second": self.records_per_second,
            "requests": self.requests,
            "requests_per_second": self.requests_per_second,
            "user_cpu": sync.user_cpu,
            "system_cpu": sync.system_cpu,
            "cpu_seconds_per_100k_records": None
            if self.microseconds_per_record is None
            else self.microseconds_per_record / 10,
            "cpu_microseconds_per_record": self.microseconds_per_record,
            "peak_rss_mb": self.peak_rss_mb,
        }


def our_catalog(config_path: Path, names: Sequence[str]) -> dict[str, Any]:
    """Our discovered streams, configured for a full refresh of `names`."""
    streams = discover([str(EXECUTABLE), "discover", "--config", str(config_path)], DISCOVER_TIMEOUT)
    return full_refresh_catalog(streams, names)


def fresh_log(sandbox: SandboxProcess) -> None:
    """Empty the request log and restart the rate limits' counting, so a run sees only its own traffic."""
    sandbox.control("DELETE", "requests")
    sandbox.control("POST", "config", {"rate_limits": True})


def log_entries(sandbox: SandboxProcess, folder: Path) -> list[dict[str, Any]]:
    """Every request logged since `fresh_log`; kept in `folder/requests.jsonl` (time, api, path, query,
    status) for a closer look at a run."""
    entries: list[dict[str, Any]] = sandbox.control("GET", f"requests?since=0&limit={LOG_LIMIT}")["requests"]
    with (folder / "requests.jsonl").open("w") as log:
        for entry in entries:
            kept = {key: entry[key] for key in ("time", "api", "method", "path", "query", "status")}
            log.write(json.dumps(kept) + "\n")
    return entries


def run_ours_rate_limited(
    sandbox: SandboxProcess,
    folder: Path,
    options: Options,
    streams_by_api: dict[str, tuple[str, ...]],
    command: Sequence[str] = (str(EXECUTABLE),),
) -> ConnectorRun:
    """Our connector (run as `command`) on the rate-limited catalog of `streams_by_api` (configured for those
    APIs only)."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = tuple(SECTIONS[api] for api in streams_by_api)
    config = write_json(folder, "config", scenarios.our_config(sandbox, sections, options.max_concurrency))
    names = [name for streams in streams_by_api.values() for name in streams]
    catalog = write_json(folder, "catalog", our_catalog(config, names))
    fresh_log(sandbox)
    print(f"bench: rate-limited sync of {len(names)} streams (source-billing)", flush=True)
    sync = run_sync(
        [*command, "read", "--config", str(config), "--catalog", str(catalog)],
        options.timeout,
        stderr_path=folder / "stderr.txt",
    )
    return connector_run("source-billing", sync, streams_by_api, log_entries(sandbox, folder))


def run_peer(peer: scenarios.Peer, sandbox: SandboxProcess, folder: Path, options: Options) -> ConnectorRun:
    """A peer on the same catalog and sandbox (its streams of its API), cut off at the peer timeout.

    Raises:
        PeerUnavailable: When it cannot be installed.
    """
    environment = ensure(peer, options.out / "peers")
    folder.mkdir(parents=True, exist_ok=True)
    env = {"BENCH_PEER_BASE_URL": scenarios.peer_base_url(peer, sandbox)}
    base = [str(environment.python), str(environment.launcher)]
    config = write_json(folder, "config", scenarios.peer_config(peer))
    streams = discover([*base, "discover", "--config", str(config)], DISCOVER_TIMEOUT, env)
    catalog = write_json(folder, "catalog", full_refresh_catalog(streams, list(peer.streams.values())))
    fresh_log(sandbox)
    label = f"{peer.package} {peer.version}"
    limit = f"at most {options.peer_timeout:.0f} s"
    print(f"bench: rate-limited sync of {len(peer.streams)} streams ({label}, {limit})", flush=True)
    sync = run_sync(
        [*base, "read", "--config", str(config), "--catalog", str(catalog)],
        options.peer_timeout,
        env,
        folder / "stderr.txt",
    )
    return connector_run(label, sync, {peer.api: tuple(peer.streams.values())}, log_entries(sandbox, folder))


def run_cpu(records: int, folder: Path, options: Options) -> CpuRun:
    """One CPU-bound sync: no latency, no limits, `records` customers, one stream.

    No limits on either side: the sandbox enforces none, and the connector is told the account's limits
    are raised out of reach (`stripe.requests_per_second`, `stripe.endpoint_requests_per_second`), as Stripe
    does for some accounts; with Stripe's default 25/s per endpoint one stream could not exceed 2,500
    records/s whatever its CPU cost."""
    folder.mkdir(parents=True, exist_ok=True)
    print(f"bench: CPU-bound sync of {records:,} {scenarios.CPU_STREAM}", flush=True)
    with scenarios.cpu_sandbox(records, options.timeout + 300) as sandbox:
        settings = scenarios.our_config(sandbox, ("stripe",), options.max_concurrency)
        settings["stripe"].update(scenarios.UNLIMITED_STRIPE)
        config = write_json(folder, "config", settings)
        catalog = write_json(folder, "catalog", our_catalog(config, [scenarios.CPU_STREAM]))
        sync = run_sync(
            [str(EXECUTABLE), "read", "--config", str(config), "--catalog", str(catalog)],
            options.timeout,
            stderr_path=folder / "stderr.txt",
        )
        requests = int(sandbox.control("GET", "stats")["apis"].get("stripe", {}).get("requests", 0))
    return CpuRun(records, sync, requests)


def rate_limited_checks(run: ConnectorRun, label: str) -> list[Check]:
    """Per API: the share of the ceiling and of 429s; the peak memory of the run."""
    checks = []
    for api in run.apis.values():
        checks.append(ceiling_check(api.api, api.traffic.fraction))
        checks.append(rate_limited_check(api.api, api.traffic.rate_limited, api.traffic.requests))
    checks.append(rss_check(label, run.peak_memory_mb, run.sync.memory_label))
    return checks


def peer_checks(
    ours: ConnectorRun, peer: scenarios.Peer, theirs: ConnectorRun, rows: Sequence[StreamComparison]
) -> list[Check]:
    """The targets against one peer: Stripe's aggregate ratio, Orb's per stream."""
    if peer.name == "stripe":
        note = "peer cut off by the timeout; its rate over what it read" if theirs.sync.timed_out else ""
        value = ratio(ours.apis["stripe"].records_per_second, theirs.apis["stripe"].records_per_second)
        return [stripe_peer_check(value, note)]
    return orb_peer_checks(
        {row.stream: row.ratio for row in rows}, LEDGER_BOUND, {row.stream: row.note for row in rows}
    )


def parse_args(argv: Sequence[str] | None) -> Options:
    """The command line (see `python -m bench --help`)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="results folder")
    parser.add_argument(
        "--peers", action="store_true", help="rate-limited run with the peers side by side (make bench-peers)"
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="the rate-limited catalog with each scheduler rule off in turn (make bench-ablation)",
    )
    parser.add_argument("--max-concurrency", type=int, help="our max_concurrency (default: the connector's)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed to each of our syncs")
    parser.add_argument("--peer-timeout", type=float, default=240.0, help="seconds allowed to each peer sync")
    args = parser.parse_args(argv)
    return Options(args.out, args.peers, args.max_concurrency, args.timeout, args.peer_timeout, args.ablation)


@dataclass
class Outcome:
    """What the suites collect: the results file's content, the tables, the targets, and whether every
    sync of ours ran to completion."""

    results: dict[str, Any]
    tables: list[Table]
    checks: list[Check]
    healthy: bool = True


def rate_limited_suite(sandbox: SandboxProcess, options: Options, outcome: Outcome) -> None:
    """`make bench`: the whole catalog in one sync, as a user would run it, where the targets are checked;
    then each API's part of the catalog in a sync of its own, to show what reading the APIs together costs
    each of them (the connector is one process: pages of several APIs arriving at once share its CPU)."""
    ours = run_ours_rate_limited(sandbox, options.out / "runs" / "rate-limited", options, OUR_STREAMS_BY_API)
    outcome.results["rate_limited"] = ours.to_json()
    outcome.tables.append(
        rate_limited_table(ours, "Rate-limited, all three APIs in one sync: source-billing")
    )
    outcome.checks.extend(rate_limited_checks(ours, "rate-limited"))
    outcome.healthy = outcome.healthy and ours.sync.ok
    for api, streams in OUR_STREAMS_BY_API.items():
        folder = options.out / "runs" / f"rate-limited-{api}"
        alone = run_ours_rate_limited(sandbox, folder, options, {api: streams})
        outcome.results.setdefault("rate_limited_alone", {})[api] = alone.to_json()
        outcome.tables.append(rate_limited_table(alone, f"Rate-limited, {api} alone (reported, not checked)"))
        outcome.healthy = outcome.healthy and alone.sync.ok


def peers_suite(sandbox: SandboxProcess, options: Options, outcome: Outcome) -> None:
    """`make bench-peers`: per peer, ours then the peer on that peer's part of the catalog."""
    for peer in scenarios.PEERS:
        side: dict[str, Any] = outcome.results.setdefault("peers", {}).setdefault(peer.name, {})
        folder = options.out / "runs"
        ours = run_ours_rate_limited(
            sandbox, folder / f"ours-{peer.name}", options, {peer.api: tuple(peer.streams)}
        )
        outcome.healthy = outcome.healthy and ours.sync.ok
        side["ours"] = ours.to_json()
        outcome.tables.append(rate_limited_table(ours, f"Rate-limited, {peer.api} part only: source-billing"))
        try:
            theirs = run_peer(peer, sandbox, folder / f"peer-{peer.name}", options)
        except PeerUnavailable as error:
            side["blocked"] = str(error)
            outcome.checks.append(Check(f"{peer.name}: peer", "installed", "blocked", None, str(error)))
            continue
        side["peer"] = theirs.to_json()
        outcome.tables.append(rate_limited_table(theirs, f"Rate-limited, same sandbox: {theirs.label}"))
        rows = compare_streams(ours, theirs, peer.streams)
        side["streams"] = [row.__dict__ | {"ratio": row.ratio} for row in rows]
        outcome.tables.append(comparison_table(rows, theirs.label))
        outcome.checks.extend(peer_checks(ours, peer, theirs, rows))


def costs_suite(options: Options, outcome: Outcome) -> None:
    """Request costs (`bench.costs`): the medium-stream catalog rate-limited, then a no-change sync."""
    with costs.medium_sandbox(max_seconds=options.timeout + 600) as sandbox:
        print(f"bench: medium catalog warmed up ({costs.warm_medium(sandbox):,} objects read)", flush=True)
        medium = run_ours_rate_limited(
            sandbox, options.out / "runs" / "medium", options, {"stripe": costs.MEDIUM_STREAMS}
        )
    outcome.healthy = outcome.healthy and medium.sync.ok
    outcome.results["medium"] = medium.to_json() | {"full_page_minimum": costs.full_pages(medium)}
    outcome.tables.append(
        rate_limited_table(medium, "Rate-limited, medium catalog (9 Stripe streams of ~5,000)")
    )
    outcome.checks.extend(costs.medium_checks(medium))
    print("bench: no-change incremental sync of every Stripe stream", flush=True)
    unchanged = costs.no_change(options.timeout + 600)
    outcome.healthy = outcome.healthy and not unchanged.errors
    outcome.results["no_change"] = unchanged.to_json()
    outcome.tables.append(costs.no_change_table(unchanged))
    outcome.checks.extend(costs.no_change_checks(unchanged))


def ablation_suite(sandbox: SandboxProcess, options: Options, outcome: Outcome) -> None:
    """`make bench-ablation`: with every rule, then with each scheduler rule off in turn (`bench.ablation`),
    then with every rule again: the share of each API's ceiling the rule is worth, against both runs with
    every rule (how far the same code moves from run to run). On the rate-limited catalog, then on the
    medium catalog (counted in records: a split costs a partial page), then on the medium catalog with all
    13,848 events (one stream 2.8 times the others, bound by its endpoint's 25/s once the others end: the
    tail the idle splits are for)."""
    labels = ("none", *ablation.RULES, "none, again")
    fractions: dict[str, list[str]] = {label: [] for label in labels}
    medium: dict[str, tuple[str, ...]] = {"stripe": costs.MEDIUM_STREAMS}
    catalogs = (
        ("rate-limited", nullcontext(sandbox), OUR_STREAMS_BY_API),
        ("medium", costs.medium_sandbox(max_seconds=options.timeout * 6 + 600), medium),
        ("medium-events", costs.medium_sandbox(max_seconds=options.timeout * 6 + 600, events=None), medium),
    )
    for name, opened, streams in catalogs:
        with opened as catalog_sandbox:
            if catalog_sandbox is not sandbox:
                costs.warm_medium(catalog_sandbox)
            for label in labels:
                rule = label.partition(",")[0]
                command = (
                    (str(EXECUTABLE),) if rule == "none" else (sys.executable, "-m", "bench.ablation", rule)
                )
                folder = options.out / "runs" / f"ablation-{name}-{label.replace(', ', '-')}"
                run = run_ours_rate_limited(catalog_sandbox, folder, options, streams, command)
                outcome.healthy = outcome.healthy and run.sync.ok
                outcome.results.setdefault("ablation", {}).setdefault(name, {})[label] = run.to_json()
                if catalog_sandbox is sandbox:
                    fractions[label] += [percent(run.apis[api].traffic.fraction) for api in streams]
                else:
                    fractions[label].append(percent(costs.in_records(run)))
    outcome.tables.append(
        Table(
            "One scheduler rule off (fraction of each API's ceiling; the medium catalogs' in records)",
            ("rule off", *OUR_STREAMS_BY_API, "stripe, medium", "stripe, medium with 13,848 events"),
            tuple((label, *values) for label, values in fractions.items()),
        )
    )


def cpu_suite(options: Options, outcome: Outcome) -> None:
    """The CPU-bound run and its smaller twin for the memory comparison."""
    small, large = (
        run_cpu(count, options.out / "runs" / f"cpu-{count}", options) for count in scenarios.MEMORY_RECORDS
    )
    outcome.healthy = outcome.healthy and small.sync.ok and large.sync.ok
    marginal = _marginal_microseconds(small, large)
    outcome.results["cpu_bound"] = large.to_json() | {"marginal_cpu_microseconds_per_record": marginal}
    outcome.results["memory"] = {str(run.records): run.to_json() for run in (small, large)}
    outcome.tables.append(_cpu_table((small, large), marginal))
    outcome.checks.extend(cpu_checks(large.records_per_second, large.microseconds_per_record))
    outcome.checks.extend(rss_check(f"cpu-bound {run.records:,}", run.peak_rss_mb) for run in (small, large))
    outcome.checks.append(rss_growth_check(small.peak_rss_mb, large.peak_rss_mb, scenarios.MEMORY_RECORDS))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite, print the tables and targets, write `results-<suite>.json` and `.md`.

    Returns:
        0 when every sync of ours ran to completion (targets may still FAIL: they are printed), else 1.
    """
    options = parse_args(argv)
    suite = "peers" if options.peers else "ablation" if options.ablation else "bench"
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcome = Outcome({"suite": suite, "machine": machine_info(), "settings": _settings(options)}, [], [])
    lifetime = 3 * options.timeout + 2 * options.peer_timeout + 900
    with scenarios.rate_limited_sandbox(max_seconds=lifetime) as sandbox:
        read, seconds = warm_up(sandbox)
        print(f"bench: sandbox warmed up ({read:,} objects read in {seconds:.1f} s)", flush=True)
        suite_run = (
            peers_suite if options.peers else ablation_suite if options.ablation else rate_limited_suite
        )
        suite_run(sandbox, options, outcome)
    if suite == "bench":
        cpu_suite(options, outcome)
        # Last: its no-change syncs run in this process, whose size a child started later would report as
        # its own peak RSS (a forked child's high-water mark starts at its parent's).
        costs_suite(options, outcome)
    outcome.tables.append(checks_table(outcome.checks))
    outcome.results["checks"] = [{**check.__dict__, "verdict": check.verdict} for check in outcome.checks]
    outcome.results["seconds"] = time.monotonic() - started
    _write(options.out, suite, outcome.results, outcome.tables)
    failed = sum(check.passed is False for check in outcome.checks)
    print(f"bench: {failed} of {len(outcome.checks)} targets FAIL; {outcome.results['seconds']:.0f} s in all")
    return 0 if outcome.healthy else 1


def _marginal_microseconds(small: CpuRun, large: CpuRun) -> float | None:
    """CPU per record without the fixed start-up cost: the difference of the two runs over their records."""
    extra = large.sync.records - small.sync.records
    if extra <= 0:
        return None
    return (large.sync.cpu_seconds - small.sync.cpu_seconds) / extra * 1e6


def _cpu_table(runs: Sequence[CpuRun], marginal: float | None) -> Table:
    rows = tuple(
        (
            f"{run.records:,} {scenarios.CPU_STREAM}",
            f"{run.sync.records:,}",
            f"{run.sync.seconds:.1f}",
            "-" if run.records_per_second is None else f"{run.records_per_second:,.0f}",
            "-" if run.requests_per_second is None else f"{run.requests_per_second:.1f}",
            f"{run.sync.cpu_seconds:.1f}",
            "-" if run.microseconds_per_record is None else f"{run.microseconds_per_record / 10:.2f}",
            "-" if run.microseconds_per_record is None else f"{run.microseconds_per_record:.0f}",
            f"{run.peak_rss_mb:.0f}",
        )
        for run in runs
    )
    note = "" if marginal is None else f"; marginal CPU per record between the two: {marginal:.0f} us"
    return Table(
        "CPU-bound and memory (no latency, no limits, one stream)" + note,
        (
            "run",
            "records",
            "seconds",
            "records/s",
            "req/s",
            "CPU s",
            "CPU s/100k",
            "CPU us/record",
            "peak RSS MB",
        ),
        rows,
    )


def _settings(options: Options) -> dict[str, Any]:
    return {
        "latency_ms": scenarios.LATENCY_MS,
        "stripe_streams": list(scenarios.STRIPE_STREAMS),
        "stripe_records_per_stream": scenarios.STRIPE_RECORDS_PER_STREAM,
        "orb_streams": list(scenarios.ORB_STREAMS),
        "orb_scales": scenarios.ORB_SCALES,
        "integrator_streams": list(scenarios.INTEGRATOR_STREAMS),
        "integrator_scales": scenarios.INTEGRATOR_SCALES,
        "integrator_page_size": scenarios.INTEGRATOR_PAGE_SIZE,
        "max_concurrency": options.max_concurrency or "default",
        "timeout": options.timeout,
        "peer_timeout": options.peer_timeout,
    }


def _write(out: Path, suite: str, results: dict[str, Any], tables: Sequence[Table]) -> None:
    text = "\n\n".join(table.text() for table in tables)
    print("\n" + text + "\n", flush=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for name in (f"results-{suite}", f"results-{suite}-{stamp}"):
        (out / f"{name}.json").write_text(json.dumps(results, indent=2, default=str))
    (out / f"results-{suite}.md").write_text("\n\n".join(table.markdown() for table in tables) + "\n")
