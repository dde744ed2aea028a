"""`orb_subscription_usage`: each subscription's usage per billable metric and day, optionally per value of
an event property (https://docs.withorb.com/api-reference/subscription/fetch-subscription-usage).

One record per subscription x billable metric x [group] x day. Orb demarcates days at the customer's local
midnight and cuts the first and last window at the timeframe's ends; quantities are each day's own
(`view_mode=periodic`). A decomposable metric's (a sum, a count) rows add up across days and groups; a
non-decomposable metric's (a unique count, a maximum) do not: each row is that day's value. A subscription's
cursor is the start of the last day read, which was still in progress: the next sync reads that day again,
whole, under the same primary key.

With a grouping key, each billable metric is asked for grouped. Orb groups a non-decomposable metric only by
its price's invoice grouping key and answers 400 otherwise: such a metric is read ungrouped (rows without a
group), and, for the rest of the sync, not asked for grouped again unless its price groups invoices by the
key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pendulum
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction

from source_billing.http.pages import Records
from source_billing.incremental.cursors import parse_iso_timestamp, this_second
from source_billing.orb.base import OrbApi, OrbStream, orb_error_mapping, orb_timestamp, warning
from source_billing.orb.cursors import PartitionedOrbStream

NAME = "orb_subscription_usage"
CURSOR = "timeframe_start"
# Orb returns every day of a timeframe in one response; long timeframes are requested in parts this long.
# Grouped usage returns a series per group value, and Orb advises shorter timeframes for it.
REQUEST_SPAN = timedelta(days=365)
GROUPED_REQUEST_SPAN = timedelta(days=90)


class SubscriptionUsageStream(PartitionedOrbStream):
    """One slice per subscription (every status, upcoming ones once they start), from its cursor to now or
    to its end; an ended subscription read to its end is not requested again."""

    def __init__(self, *, api: OrbApi) -> None:
        config = api.config
        self._start_date = config.start_date
        self._grouping_key = config.subscription_usage_grouping_key
        # `plan_id` narrows grouped usage to one plan's subscriptions (the spec's "plan id for grouped
        # usage").
        plan_id = config.plan_id if self._grouping_key else None
        super().__init__(
            api=api, name=NAME, path="subscriptions/{subscription_id}/usage", cursor_field=CURSOR
        )
        self._subscriptions = OrbStream(
            api=api,
            name="orb_subscriptions",
            path="subscriptions",
            params={"plan_id": plan_id} if plan_id else {},
        )
        # Metrics Orb refused to group by the key this sync (non-decomposable ones): read ungrouped.
        self._refused: set[str] = set()
        self._refused_lock = threading.Lock()
        refused = ErrorResolution(
            ResponseAction.IGNORE,
            None,
            f"Orb refused to group a billable metric's usage by `{self._grouping_key}` (HTTP 400): a "
            "non-decomposable metric (a unique count, say) groups only by its price's invoice grouping "
            "key. Its usage is read ungrouped.",
        )
        self._grouped = self.side_client(f"{NAME} grouped", {**orb_error_mapping(), 400: refused})

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        subscriptions, now = self._subscriptions.read_records(SyncMode.full_refresh), this_second()
        for subscription in subscriptions:
            if isinstance(subscription, Mapping):
                stream_slice = self._slice(subscription, now, sync_mode)
                if stream_slice is not None:
                    yield stream_slice

    def _slice(
        self, subscription: Mapping[str, Any], now: pendulum.DateTime, sync_mode: SyncMode
    ) -> dict[str, Any] | None:
        subscription_id = str(subscription["id"])
        metrics: list[tuple[str, bool]] = []
        if self._grouping_key:
            # Orb groups one billable metric per request; a metric whose price groups invoices by the key is
            # always grouped, whatever kind of metric it is.
            keys = billable_metric_grouping_keys(subscription)
            metrics = [(metric, self._grouping_key in found) for metric, found in sorted(keys.items())]
            if not metrics:
                return None
        start = parse_iso_timestamp(subscription["start_date"])
        if self._start_date is not None:
            start = max(start, self._start_date)
        end = now
        ended = subscription.get("end_date")
        if ended is not None and parse_iso_timestamp(ended) <= now:
            end = parse_iso_timestamp(ended)
        saved = self._cursor.value(subscription_id) if sync_mode == SyncMode.incremental else None
        if saved is not None:
            if parse_iso_timestamp(saved) >= end:
                return None  # ended, and read to its end
            start = max(start, self.resume_from(parse_iso_timestamp(saved)))
        if start >= end:
            return None  # upcoming
        return {
            "partition": subscription_id,
            "customer_id": (subscription.get("customer") or {}).get("id"),
            "start": orb_timestamp(start),
            "end": orb_timestamp(end),
            "final": end < now,
            "metrics": metrics,
        }

    def path(self, *, stream_slice: Mapping[str, Any] | None = None, **_: Any) -> str:
        return f"subscriptions/{(stream_slice or {})['partition']}/usage"

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        request = stream_slice["request"]
        params: dict[str, Any] = {
            "granularity": "day",
            "view_mode": "periodic",
            "timeframe_start": request["start"],
            "timeframe_end": request["end"],
        }
        if request["metric"] is not None:
            params.update(billable_metric_id=request["metric"], group_by=self._grouping_key)
        return params

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        last_day: str | None = None
        ungrouped: set[str] = set()
        for record in self._usage(stream_slice, ungrouped):
            if isinstance(record, Mapping) and (last_day is None or record[CURSOR] > last_day):
                last_day = record[CURSOR]
            yield record
        if last_day is not None:
            self.observe(stream_slice, orb_timestamp(parse_iso_timestamp(last_day)))

    def _usage(self, stream_slice: Mapping[str, Any], ungrouped: set[str]) -> Iterator[StreamData]:
        """Every metric's usage: all of them ungrouped without a grouping key; else each grouped where Orb
        accepts it, then the others in one ungrouped read."""
        if not self._grouping_key:
            yield from self._metric_usage(stream_slice, None)
            return
        for metric, by_invoice_key in stream_slice["metrics"]:
            with self._refused_lock:
                known_refused = metric in self._refused and not by_invoice_key
            if known_refused:
                ungrouped.add(metric)
                continue
            try:
                yield from self._metric_usage(stream_slice, metric)
            except GroupingRefusedError:
                ungrouped.add(metric)
                with self._refused_lock:
                    first = metric not in self._refused
                    if not by_invoice_key:
                        self._refused.add(metric)
                if first:
                    yield warning(
                        f"Orb refused to group the usage of billable metric {metric} by "
                        f"`{self._grouping_key}` (a non-decomposable metric groups only by its price's "
                        "invoice grouping key): its usage is read ungrouped, without grouping_key and "
                        "grouping_value."
                    )
        if ungrouped:
            for record in self._metric_usage(stream_slice, None):
                if not isinstance(record, Mapping) or record.get("billable_metric_id") in ungrouped:
                    yield record

    def _metric_usage(self, stream_slice: Mapping[str, Any], metric: str | None) -> Iterator[StreamData]:
        """One metric's usage (all metrics when ungrouped), requested in parts of at most a year (a quarter
        when grouped).

        A part that stops before the slice's end cuts its last day short: that day is left out and the next
        part starts at it, so each day comes once and whole.

        Raises:
            GroupingRefusedError: Orb refused to group the metric (before any of its rows was yielded).
        """
        end = parse_iso_timestamp(stream_slice["end"])
        start = parse_iso_timestamp(stream_slice["start"])
        span = REQUEST_SPAN if metric is None else GROUPED_REQUEST_SPAN
        while start < end:
            part_end = min(start + span, end)
            request = {"start": orb_timestamp(start), "end": orb_timestamp(part_end), "metric": metric}
            part = {**stream_slice, "request": request}
            records = list(super().read_slice(part)) if metric is None else self._grouped_part(part)
            last_day = max((r[CURSOR] for r in records if isinstance(r, Mapping)), default=None)
            carry = last_day if part_end < end and last_day is not None else None
            if carry is not None and parse_iso_timestamp(carry) <= start:
                carry = None  # a part of one window: nothing to carry
            for record in records:
                if carry is None or not isinstance(record, Mapping) or record[CURSOR] != carry:
                    yield record
            start = parse_iso_timestamp(carry) if carry is not None else part_end

    def _grouped_part(self, part: Mapping[str, Any]) -> list[StreamData]:
        """A part of one metric's grouped usage, through the client that tells Orb's refusal (400) apart.

        Raises:
            GroupingRefusedError: Orb answered 400.
        """
        records: list[StreamData] = []
        for page in self.read_pages(self.first_request(part), self.paginator, client=self._grouped):
            if page.response.status_code == 400:
                raise GroupingRefusedError(part["request"]["metric"])
            records.extend(self.page_records(page.records, part))
        return records

    def page_records(self, records: Records, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        subscription_id = stream_slice["partition"]
        customer_id = stream_slice["customer_id"]
        for item in records:
            metric = item.get("billable_metric") or {}
            group = item.get("metric_group") or {}
            key, value = group.get("property_key"), group.get("property_value")
            for window in item.get("usage") or ():
                yield {
                    "id": usage_id(subscription_id, metric.get("id"), window[CURSOR], key, value),
                    "subscription_id": subscription_id,
                    "customer_id": customer_id,
                    "billable_metric_id": metric.get("id"),
                    "billable_metric_name": metric.get("name"),
                    "timeframe_start": window[CURSOR],
                    "timeframe_end": window.get("timeframe_end"),
                    "quantity": window.get("quantity"),
                    "grouping_key": key,
                    "grouping_value": value,
                }

    def cursor_after(self, stream_slice: Mapping[str, Any], observed: Any) -> Any:
        # An ended subscription read to its end is done; otherwise its last day, still in progress, is
        # where the next sync starts. Without any usage the saved cursor stays.
        return stream_slice["end"] if stream_slice["final"] else observed


def usage_id(
    subscription_id: str, metric_id: str | None, day: str, key: str | None = None, value: Any = None
) -> str:
    """The primary key of a usage row: subscription, metric and window start, then the group, if any.

    Orb ids and timestamps contain no `|`, and a connection has one grouping key; the group value comes
    last, so any value keeps ids distinct.
    """
    parts = [subscription_id, metric_id or "", day]
    if key is not None:
        parts += [key, "" if value is None else str(value)]
    return "|".join(parts)


class GroupingRefusedError(Exception):
    """Orb refused to group a billable metric's usage by the configured key."""


def billable_metric_grouping_keys(subscription: Mapping[str, Any]) -> dict[str, set[str]]:
    """The billable metrics a subscription is charged for (its plan's prices and its price intervals'), each
    with the invoice grouping keys of its prices."""
    prices = list((subscription.get("plan") or {}).get("prices") or ())
    prices += [interval.get("price") or {} for interval in subscription.get("price_intervals") or ()]
    found: dict[str, set[str]] = {}
    for price in prices:
        metric = (price.get("billable_metric") or {}).get("id")
        if metric:
            keys = found.setdefault(str(metric), set())
            if price.get("invoice_grouping_key"):
                keys.add(str(price["invoice_grouping_key"]))
    return found
