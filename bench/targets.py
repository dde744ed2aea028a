"""The issue's targets, each checked against a measured value: PASS, FAIL, or n/a when not measured."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

MIN_FRACTION_OF_CEILING = 0.90
MAX_RATE_LIMITED_SHARE = 0.01
MIN_RATIO_OVER_STRIPE_PEER = 30.0
MIN_CPU_BOUND_RECORDS_PER_SECOND = 20_000.0
MAX_CPU_MICROSECONDS_PER_RECORD = 50.0
MAX_PEAK_RSS_MB = 250.0
MAX_RSS_GROWTH = 0.10


@dataclass(frozen=True)
class Check:
    """One target next to what was measured.

    Attributes:
        name: What is checked.
        target: The target, as the issue states it.
        measured: The measured value, formatted.
        passed: True, False, or None when there is no measurement.
        note: Why, when the number alone does not say it.
    """

    name: str
    target: str
    measured: str
    passed: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        """`PASS`, `FAIL` or `n/a`."""
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


def percent(value: float | None) -> str:
    """`93.1%`, or `-` when missing."""
    return "-" if value is None else f"{value * 100:.1f}%"


def ceiling_check(api: str, fraction: float | None) -> Check:
    """>= 90% of the API's ceiling."""
    return Check(
        f"{api}: fraction of the rate ceiling",
        f">= {percent(MIN_FRACTION_OF_CEILING)}",
        percent(fraction),
        None if fraction is None else fraction >= MIN_FRACTION_OF_CEILING,
    )


def rate_limited_check(api: str, rate_limited: int, requests: int) -> Check:
    """<= 1% of the API's requests answered 429."""
    share = rate_limited / requests if requests else None
    return Check(
        f"{api}: requests answered 429",
        f"<= {percent(MAX_RATE_LIMITED_SHARE)}",
        f"{percent(share)} ({rate_limited}/{requests})",
        None if share is None else share <= MAX_RATE_LIMITED_SHARE,
    )


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """Our rate over theirs; infinite when theirs is 0 and ours is not; None when ours is unknown."""
    if ours is None:
        return None
    if not theirs:
        return float("inf") if ours > 0 else None
    return ours / theirs


def format_ratio(value: float | None) -> str:
    """`31.2x`, `inf`, or `-`."""
    if value is None:
        return "-"
    return "inf" if value == float("inf") else f"{value:.1f}x"


def stripe_peer_check(value: float | None, note: str = "") -> Check:
    """>= 30x airbyte-source-stripe 5.14.1's records/s."""
    return Check(
        "stripe: our records/s over airbyte-source-stripe 5.14.1's",
        f">= {MIN_RATIO_OVER_STRIPE_PEER:g}x",
        format_ratio(value),
        None if value is None else value >= MIN_RATIO_OVER_STRIPE_PEER,
        note,
    )


def orb_peer_checks(
    ratios: Mapping[str, float | None], ledger_bound: AbstractSet[str], notes: Mapping[str, str]
) -> list[Check]:
    """Per Orb stream: no slower than airbyte-source-orb 1.2.4; faster where the ledger is not the bound."""
    checks = []
    for stream, value in ratios.items():
        bound = stream in ledger_bound
        needed = 1.0 if bound else None
        passed = None if value is None else (value >= 1.0 if needed else value > 1.0)
        checks.append(
            Check(
                f"orb: {stream} over airbyte-source-orb 1.2.4",
                ">= 1x (ledger-bound)" if bound else "> 1x",
                format_ratio(value),
                passed,
                notes.get(stream, ""),
            )
        )
    return checks


def cpu_checks(records_per_second: float | None, microseconds_per_record: float | None) -> list[Check]:
    """The CPU-bound run: >= 20,000 records/s on one core, and the 50 microseconds of CPU per record budget.

    The records/s target is checked twice: over wall time (what a user waits), and per CPU-second of the
    connector process (what one core does when nothing else holds the connector back).
    """
    per_cpu_second = 1e6 / microseconds_per_record if microseconds_per_record else None
    wanted = f">= {MIN_CPU_BOUND_RECORDS_PER_SECOND:,.0f}"
    return [
        Check(
            "cpu-bound: records/s (wall)",
            wanted,
            "-" if records_per_second is None else f"{records_per_second:,.0f}",
            None if records_per_second is None else records_per_second >= MIN_CPU_BOUND_RECORDS_PER_SECOND,
        ),
        Check(
            "cpu-bound: records per CPU-second",
            wanted,
            "-" if per_cpu_second is None else f"{per_cpu_second:,.0f}",
            None if per_cpu_second is None else per_cpu_second >= MIN_CPU_BOUND_RECORDS_PER_SECOND,
        ),
        Check(
            "cpu-bound: CPU per record (user+sys)",
            f"<= {MAX_CPU_MICROSECONDS_PER_RECORD:g} us",
            "-" if microseconds_per_record is None else f"{microseconds_per_record:.0f} us",
            None
            if microseconds_per_record is None
            else microseconds_per_record <= MAX_CPU_MICROSECONDS_PER_RECORD,
        ),
    ]


def rss_check(run: str, peak_mb: float | None, measured: str = "peak RSS") -> Check:
    """Peak memory <= 250 MB: the process's RSS, or what `measured` says (the PSS of several processes)."""
    return Check(
        f"{run}: {measured}",
        f"<= {MAX_PEAK_RSS_MB:g} MB",
        "-" if peak_mb is None else f"{peak_mb:.0f} MB",
        None if peak_mb is None else peak_mb <= MAX_PEAK_RSS_MB,
    )


def rss_growth(small_mb: float, large_mb: float) -> float:
    """How much larger the larger peak is than the smaller one, as a fraction of the smaller."""
    low, high = sorted((small_mb, large_mb))
    return (high - low) / low if low > 0 else float("inf")


def rss_growth_check(small_mb: float | None, large_mb: float | None, scales: tuple[int, int]) -> Check:
    """Peak RSS within 10% between two scales 10x apart."""
    growth = None if small_mb is None or large_mb is None else rss_growth(small_mb, large_mb)
    return Check(
        f"memory: peak RSS at {scales[0]:,} vs {scales[1]:,} records",
        f"within {percent(MAX_RSS_GROWTH)}",
        "-" if growth is None else f"+{percent(growth)} ({small_mb:.0f} -> {large_mb:.0f} MB)",
        None if growth is None else growth <= MAX_RSS_GROWTH,
    )
