"""Usage under meter-based billing: daily event summaries per customer and meter.

Reference: https://docs.stripe.com/api/billing/meter-event-summary/list (`customer`, `start_time` and
`end_time` required; with `value_grouping_window=day` both must fall on UTC midnights).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pendulum
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_billing.incremental.cursors import DEFAULT_PARTITION
from source_billing.stripe.api import StripeApi, stripe_headers
from source_billing.stripe.base import ACCOUNT_ID_FIELD, StripeStream
from source_billing.stripe.declarations import Parent, StripeObject
from source_billing.stripe.event_feed import EventFeed
from source_billing.stripe.streams import DOCS, SUBSCRIPTIONS, meter_of

DAY = pendulum.duration(days=1)
# Usage under meter-based billing, per customer and meter: the meters come from the subscriptions' items.
# `MeterEventSummaries` reads it, with a cursor of its own per customer and meter (no events, no windows).
METER_EVENT_SUMMARIES = StripeObject(
    "billing_meter_event_summaries",
    f"{DOCS}/billing/meter-event-summary/list",
    cursor=None,
    primary_key=("meter", "customer_id", "start_time"),
    parent=Parent(
        "subscriptions",
        "customer_id",
        "billing/meters/{id}/event_summaries",
    ),
)


class MeterEventSummaries(StripeStream):
    """One row per customer, meter and UTC day.

    The customers and meters are those of the subscription items on meter-based prices (subscriptions of
    every status). Each pair is a partition with its own cursor: the start of its last day, which is still
    growing and is read again by the next sync (less `lookback_window_days`: usage may be reported for
    past days). A pair is read from `start_date`, else from its first subscription's start.
    """

    def __init__(self, *, api: StripeApi, events: EventFeed) -> None:
        super().__init__(api=api, events=events, row=METER_EVENT_SUMMARIES)

    @property
    def cursor_field(self) -> str:
        return "start_time"

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        today = pendulum.now("UTC").start_of("day")
        for account in self.partitions():
            for (customer, meter), first in sorted(self._metered(account).items()):
                partition = customer_meter_partition(account, customer, meter)
                start = max(first, self._start_date) if self._start_date else first
                saved = self._cursor.value(partition) if sync_mode == SyncMode.incremental else None
                if saved is not None:
                    start = max(start, self.resume_from(self.parse_cursor(saved)))
                checkpoint = self.format_cursor(today)
                self._cursor.open(partition, checkpoint)
                yield {
                    "partition": partition,
                    "account": account,
                    "customer": customer,
                    "meter": meter,
                    "start": self.format_cursor(start.start_of("day")),
                    "end": self.format_cursor(today + DAY),
                    "checkpoint": checkpoint,
                }

    def _metered(self, account: str) -> dict[tuple[str, str], pendulum.DateTime]:
        """The (customer, meter) pairs of an account's subscription items, with their first start."""
        headers = stripe_headers(self._api.config, account)
        first: dict[tuple[str, str], pendulum.DateTime] = {}
        parent = SUBSCRIPTIONS
        for subscription in self._pages(parent.path, parent.params, headers):
            started = self.parse_cursor(subscription.get("start_date") or subscription["created"])
            for item in self._children(parent, subscription, headers):
                meter = meter_of(item)
                if meter is not None:
                    pair = (str(subscription["customer"]), meter)
                    first[pair] = min(first.get(pair, started), started)
        return first

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        account = stream_slice["account"]
        params = {
            "customer": stream_slice["customer"],
            "start_time": stream_slice["start"],
            "end_time": stream_slice["end"],
            "value_grouping_window": "day",
        }
        path = f"billing/meters/{stream_slice['meter']}/event_summaries"
        as_of = self.format_cursor(pendulum.now("UTC"))
        for summary in self._pages(path, params, stripe_headers(self._api.config, account)):
            summary["customer_id"] = stream_slice["customer"]
            summary["updated"] = as_of
            summary[ACCOUNT_ID_FIELD] = None if account == DEFAULT_PARTITION else account
            yield summary


def customer_meter_partition(account: str, customer: str, meter: str) -> str:
    """The state key of one customer's usage on one meter (Stripe ids contain no `|`)."""
    parts = (customer, meter) if account == DEFAULT_PARTITION else (account, customer, meter)
    return "|".join(parts)
