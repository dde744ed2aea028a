"""A sync's log shows per-stream progress at a steady interval and a closing summary per stream, and
nothing per record."""

from __future__ import annotations

import re
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read

from source_billing import SourceBilling

STREAMS = ("customers", "orb_customers", "integrator_io_licenses")


def test_given_a_sync_when_read_then_periodic_progress_and_one_summary_per_stream(
    config: dict[str, Any],
) -> None:
    catalog = CatalogBuilder()
    for name in STREAMS:
        catalog = catalog.with_stream(name, SyncMode.full_refresh)
    output = read(SourceBilling(progress_interval_seconds=0.01), config, catalog.build())
    assert not output.errors
    logs = [m.log.message for m in output.logs if m.log is not None]
    progress = [line for line in logs if " in progress: " in line]
    assert progress, "periodic progress lines"
    assert all(
        re.search(
            r"\d+ records, \d+ requests \([\d.]+/s\), \d+ retries, \d+ waits for rate limits, "
            r"\d+ slices being read \(of \d+ at most now\)",
            line,
        )
        for line in progress
    )
    for name in STREAMS:
        records = sum(1 for m in output.records if m.record is not None and m.record.stream == name)
        (summary,) = [line for line in logs if line.startswith(f"Stream {name} complete: ")]
        assert f"{records} records" in summary
        assert re.search(r"\d+ requests, \d+ retries \(\d+ rate-limited\), in [\d.]+ s\.$", summary)
    assert len(logs) < len(output.records) / 2, "nothing is logged per record"
