"""What Stripe syncs cost in requests, beside the rate-limited run.

- **Medium catalog**: 9 Stripe streams of about 5,000 objects each (the catalog of the request-cost issue,
  `events` too), rate-limited with 50 ms of latency: the share of the ceiling counted in records, and the
  requests over the full-page minimum (ceil(records / 100) per stream: no read of n objects can do with
  fewer).
- **No change**: every Stripe stream of an account of 300 customers, synced once, then synced again with
  nothing changed: the requests of the second sync by endpoint, against the one events request per account
  and the lists nothing lets a sync follow (documented per stream in docs/billing.md).
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read

from bench import scenarios
from bench.ceiling import STRIPE_ACCOUNT_RATE
from bench.frozen_sandbox import FrozenSandboxProcess
from bench.report import Table
from bench.results import ConnectorRun
from bench.targets import Check, ceiling_check, percent
from bench.warmup import stripe_list_read
from sandbox.process import SandboxProcess
from source_billing import SourceBilling
from source_billing.config import BillingConfig
from source_billing.stripe import streams as stripe_streams

MEDIUM_STREAMS = (
    "customers",
    "charges",
    "invoices",
    "subscriptions",
    "products",
    "prices",
    "refunds",
    "balance_transactions",
    "events",
)
MEDIUM_OBJECTS = 5_000
PAGE_SIZE = 100
MAX_OVER_MINIMUM = 0.05
NO_CHANGE_CUSTOMERS = 300
# The no-change sync of every Stripe stream of a 300-customer account before (the measurement).
NO_CHANGE_BEFORE = 954
MIN_FEWER = 10
IDS = re.compile(r"/(cus|sub|si|acct|in|ch|pi|cs|cn|po|seti|tr|fee|txn|py|card|ba|mtr)_\w+")


def medium_sandbox(max_seconds: float, events: int | None = MEDIUM_OBJECTS) -> SandboxProcess:
    """About 5,000 objects in each of the medium catalog's lists; `events` of the seeded objects' events,
    the newest (None: all of them, 13,848, for `make bench-ablation`'s catalog with one large stream)."""
    seeded = {f"stripe.{name}": MEDIUM_OBJECTS for name in MEDIUM_STREAMS if name != "events"}
    if events is not None:
        seeded["stripe.events"] = events
    return FrozenSandboxProcess(
        startup_timeout=180,
        scale=scenarios.DEFAULT_SCALE,
        scale_for=seeded,
        latency_ms=scenarios.LATENCY_MS,
        rate_limits=True,
        max_seconds=max_seconds,
    )


def warm_medium(sandbox: SandboxProcess) -> int:
    """Read the medium catalog's lists with latency and limits off, in both shapes (see `bench.warmup`)."""
    base = sandbox.base_url("stripe")
    sandbox.control("POST", "config", {"latency_ms": 0, "rate_limits": False})
    try:
        with ThreadPoolExecutor(4) as pool:
            counts = pool.map(lambda name: stripe_list_read(base, name), MEDIUM_STREAMS)
            return sum(counts)
    finally:
        sandbox.control("POST", "config", {"latency_ms": scenarios.LATENCY_MS, "rate_limits": True})


def full_pages(run: ConnectorRun) -> int:
    """The fewest list requests that read the run's records: a full page of 100 each, per stream."""
    return sum(math.ceil(progress.records / PAGE_SIZE) for progress in run.sync.streams.values())


def in_records(run: ConnectorRun) -> float | None:
    """The share of the ceiling a Stripe run reached counted in records: the time the full-page minimum
    takes at the account's 100/s, over the span of its requests (a partial page costs time, earns nothing)."""
    span = run.apis["stripe"].traffic.span_seconds
    return full_pages(run) / STRIPE_ACCOUNT_RATE["live"] / span if span > 0 else None


def medium_checks(run: ConnectorRun) -> list[Check]:
    """The medium catalog's targets: >= 90% of the ceiling counted in records, <= 5% above the full-page
    minimum.

    Counted in records (the issue's "from first to last record": `in_records`)."""
    traffic = run.apis["stripe"].traffic
    minimum = full_pages(run)
    over = traffic.requests / minimum - 1 if minimum else None
    return [
        ceiling_check("stripe medium catalog, in records", in_records(run)),
        Check(
            "stripe medium catalog: requests over the full-page minimum",
            f"<= +{percent(MAX_OVER_MINIMUM)}",
            "-" if over is None else f"{traffic.requests:,} for {minimum:,} (+{percent(over)})",
            None if over is None else over <= MAX_OVER_MINIMUM,
        ),
    ]


@dataclass(frozen=True)
class NoChange:
    """The two syncs of every Stripe stream: the first one's requests, the second one's by endpoint."""

    streams: int
    first_requests: int
    first_records: int
    requests: Counter[str]
    records: Counter[str]
    errors: int

    @property
    def total(self) -> int:
        """Requests of the sync with no change."""
        return sum(self.requests.values())

    def to_json(self) -> dict[str, Any]:
        """For the results file."""
        return {
            "customers": NO_CHANGE_CUSTOMERS,
            "streams": self.streams,
            "first_sync_requests": self.first_requests,
            "first_sync_records": self.first_records,
            "no_change_requests": self.total,
            "no_change_requests_by_endpoint": dict(self.requests.most_common()),
            "no_change_records_by_stream": dict(self.records.most_common()),
            "errors": self.errors,
        }


def no_change(timeout: float) -> NoChange:
    """A first sync of every Stripe stream of a 300-customer account, then one with nothing changed.

    Run in-process (the request counts are what is measured, not the time), without latency or limits;
    the sandbox's clock runs 2 s behind so that no seeded event falls in the sync's own second."""
    with SandboxProcess(scale=NO_CHANGE_CUSTOMERS, now=time.time() - 2, max_seconds=timeout) as sandbox:
        config = scenarios.our_config(sandbox, ("stripe",), None)
        config["stripe"].update(scenarios.UNLIMITED_STRIPE)
        parsed = BillingConfig.parse(config).stripe
        assert parsed is not None
        names = [stream.name for stream in stripe_streams(parsed)]
        catalog = CatalogBuilder()
        for name in names:
            catalog = catalog.with_stream(name, SyncMode.incremental)
        built = catalog.build()
        sandbox.control("DELETE", "requests")
        first = read(SourceBilling(), config, built)
        first_requests = len(sandbox.control("GET", "requests")["requests"])
        sandbox.control("DELETE", "requests")
        second = read(SourceBilling(), config, built, _final_states(first))
        paths = [entry["path"] for entry in sandbox.control("GET", "requests")["requests"]]
    return NoChange(
        streams=len(names),
        first_requests=first_requests,
        first_records=len(first.records),
        requests=Counter(IDS.sub("/{id}", path) for path in paths),
        records=Counter(m.record.stream for m in second.records if m.record is not None),
        errors=len(first.errors) + len(second.errors),
    )


def no_change_checks(result: NoChange) -> list[Check]:
    """At most one events request per account, and 10x fewer requests than before in all."""
    wanted = NO_CHANGE_BEFORE // MIN_FEWER
    return [
        Check(
            "stripe no-change sync: /v1/events requests (one account)",
            "<= 1",
            str(result.requests["/v1/events"]),
            result.requests["/v1/events"] <= 1,
        ),
        Check(
            "stripe no-change sync of every stream: requests",
            f"<= {wanted} ({MIN_FEWER}x fewer than {NO_CHANGE_BEFORE})",
            f"{result.total:,}",
            result.total <= wanted and not result.errors,
            "" if not result.errors else f"{result.errors} errors",
        ),
    ]


def no_change_table(result: NoChange) -> Table:
    """The no-change sync's requests by endpoint."""
    rows = tuple((path, str(count)) for path, count in result.requests.most_common())
    title = (
        f"No-change incremental sync of all {result.streams} Stripe streams, {NO_CHANGE_CUSTOMERS} customers "
        f"(after a first sync of {result.first_requests:,} requests): {result.total} requests"
    )
    return Table(title, ("endpoint", "requests"), rows)


def _final_states(output: EntrypointOutput) -> list[AirbyteStateMessage]:
    latest: dict[str, AirbyteStateMessage] = {}
    for message in output.state_messages:
        state = message.state
        if state is not None and state.stream is not None:
            latest[state.stream.stream_descriptor.name] = state
    return list(latest.values())
