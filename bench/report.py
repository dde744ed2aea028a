"""The result tables: printed as aligned text, and as Markdown for the README."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.results import KIB_PER_MB, ConnectorRun, StreamComparison
from bench.targets import Check, format_ratio, percent


@dataclass(frozen=True)
class Table:
    """A titled table of strings.

    Attributes:
        title: What it shows.
        headers: Column names.
        rows: Cells, one list per row, as long as `headers`.
    """

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def text(self) -> str:
        """Aligned columns: the first left-aligned, the others right-aligned."""
        widths = [len(header) for header in self.headers]
        for row in self.rows:
            widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            parts = [
                cell.ljust(width) if index == 0 else cell.rjust(width)
                for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        return "\n".join(
            [self.title, line(self.headers), line(["-" * width for width in widths])]
            + [line(row) for row in self.rows]
        )

    def markdown(self) -> str:
        """A Markdown table under a bold title."""
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


def number(value: float | None, digits: int = 0) -> str:
    """`12,345` (or with `digits` decimals), `-` when missing."""
    return "-" if value is None else f"{value:,.{digits}f}"


def rate_limited_table(run: ConnectorRun, title: str) -> Table:
    """Per API: records, records/s, requests, requests/s, ceiling, fraction, 429s; peak RSS once."""
    rows = []
    for api in run.apis.values():
        traffic = api.traffic
        rows.append(
            (
                api.api,
                number(api.records),
                number(api.records_per_second),
                number(traffic.requests),
                number(traffic.achieved_rps, 1),
                number(traffic.ceiling_rps, 1),
                traffic.bound,
                percent(traffic.fraction),
                f"{traffic.rate_limited} ({percent(traffic.rate_limited_share)})",
            )
        )
    headers = (
        "api",
        "records",
        "records/s",
        "requests",
        "req/s",
        "ceiling req/s",
        "bound by",
        "of ceiling",
        "429s",
    )
    status = (
        "ok" if run.sync.ok else f"exit {run.sync.returncode}" + (" (timeout)" if run.sync.timed_out else "")
    )
    sync = run.sync
    memory = f"{sync.memory_label} {run.peak_memory_mb:.0f} MB"
    if sync.processes > 1:
        memory += f" (their RSS summed: {sync.tree_rss_kb / KIB_PER_MB:.0f} MB)"
    suffix = f" - {sync.seconds:.1f} s, {sync.cpu_seconds:.1f} s CPU, {memory}, {status}"
    return Table(title + suffix, headers, tuple(rows))


def comparison_table(rows: Sequence[StreamComparison], peer_label: str) -> Table:
    """Per stream: our records/s, the peer's, the ratio, and why the peer's is missing."""
    return Table(
        f"source-billing vs {peer_label}: records/s per stream, from the sync's start to the stream's end",
        ("stream", "ours", "records", "peer", "records", "ours/peer", "note"),
        tuple(
            (
                row.stream,
                number(row.ours),
                number(row.ours_records),
                number(row.theirs),
                number(row.theirs_records),
                format_ratio(row.ratio),
                row.note,
            )
            for row in rows
        ),
    )


def checks_table(checks: Sequence[Check]) -> Table:
    """Each target next to the measured value, with PASS/FAIL."""
    return Table(
        "Targets",
        ("target", "wanted", "measured", "result", "note"),
        tuple((check.name, check.target, check.measured, check.verdict, check.note) for check in checks),
    )
