"""What a sync of every stream must return, taken from the sandbox's control API: the reliability suites
compare record sets (by primary key) against it, per stream.

Stripe streams read the sandbox resource of the same name unless `STRIPE_RESOURCES` says otherwise (the
table `test_stripe_full_refresh` proves against a fault-free sync); Orb and integrator.io streams read the
resource their stream name ends with. Two streams have no static answer: Stripe's `events` lists the last
30 days (a boundary that moves while the sync runs), and Orb's subscription usage is computed per day from
usage events; `Expected` says how each is compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

from integration_tests.stripe_sync import expected_objects
from sandbox.process import SandboxProcess

STRIPE_EVENTS = "events"
ORB_USAGE = "orb_subscription_usage"
# Usage the sandbox computes from usage events, which its control API cannot list: compared with fault-free
# syncs instead.
COMPUTED = (ORB_USAGE, "billing_meter_event_summaries")
ORB_RESOURCES = {
    "orb_customers": "customers",
    "orb_subscriptions": "subscriptions",
    "orb_plans": "plans",
    "orb_invoices": "invoices",
    "orb_credit_notes": "credit_notes",
    "orb_coupons": "coupons",
    "orb_items": "items",
    "orb_prices": "prices",
    "orb_credits_ledger_entries": "credit_ledger_entries",
    "orb_billable_metrics": "billable_metrics",
    "orb_license_types": "license_types",
    "orb_licenses": "licenses",
    "orb_credit_blocks": "credit_blocks",
    "orb_customer_balance_transactions": "balance_transactions",
    "orb_subscription_schedules": "subscription_schedules",
}
INTEGRATOR_PREFIX = "integrator_io_"
# An event this close to Stripe's 30-day horizon may fall out of the list while the sync runs.
EVENTS_MARGIN = pendulum.duration(minutes=10)


@dataclass(frozen=True)
class Expected:
    """The ids one stream must return: exactly `ids`, or, for a list with a moving horizon, at least
    `settled` and nothing outside `ids`."""

    ids: frozenset[str]
    settled: frozenset[str] | None = None

    def problems(self, stream: str, got: Iterable[str]) -> list[str]:
        """What is wrong with the ids a sync returned for this stream (empty when nothing is)."""
        seen = set(got)
        lost = (self.settled if self.settled is not None else self.ids) - seen
        extra = seen - self.ids
        found = []
        if lost:
            found.append(f"{stream}: {len(lost)} records lost, e.g. {sorted(lost)[:3]}")
        if extra:
            found.append(f"{stream}: {len(extra)} records not in the sandbox, e.g. {sorted(extra)[:3]}")
        return found


def primary_key(stream: str) -> str:
    """The field that identifies a record of a stream."""
    return "_id" if stream.startswith(INTEGRATOR_PREFIX) else "id"


def expected_ids(sandbox: SandboxProcess, stream: str) -> Expected:
    """The records a complete read of `stream` returns, from the sandbox's own objects.

    Raises:
        ValueError: for computed usage (`COMPUTED`), which the control API cannot list (compare it with a
            fault-free sync instead).
    """
    if stream in COMPUTED:
        raise ValueError(f"{stream} has no control-API listing; compare it with a fault-free sync")
    if stream.startswith(INTEGRATOR_PREFIX):
        objects = _objects(sandbox, "integrator", stream.removeprefix(INTEGRATOR_PREFIX))
        return Expected(frozenset(str(item["_id"]) for item in objects))
    if stream in ORB_RESOURCES:
        objects = _objects(sandbox, "orb", ORB_RESOURCES[stream])
        return Expected(frozenset(str(item["id"]) for item in objects))
    objects = expected_objects(sandbox, stream)
    ids = frozenset(str(item["id"]) for item in objects)
    if stream == STRIPE_EVENTS:
        horizon = pendulum.now("UTC").subtract(days=30).add(seconds=EVENTS_MARGIN.in_seconds())
        settled = frozenset(str(item["id"]) for item in objects if item["created"] >= horizon.int_timestamp)
        return Expected(ids, settled)
    return Expected(ids)


def duplicates(records: Iterable[Mapping[str, Any]], stream: str) -> list[str]:
    """The ids a single sync emitted more than once for one stream."""
    counts = Counter(str(record[primary_key(stream)]) for record in records)
    return sorted(key for key, count in counts.items() if count > 1)


def _objects(sandbox: SandboxProcess, api: str, resource: str) -> list[dict[str, Any]]:
    return list(sandbox.control("GET", f"/_control/objects/{api}/{resource}")["data"])
