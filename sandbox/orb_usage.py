"""Orb's subscription usage: per-day windows at the customer's midnight, periodic or cumulative, grouped by
an event property, and the rule for non-decomposable metrics (a unique count groups only by its price's
invoice grouping key, else 400)."""

from __future__ import annotations

from sandbox.clock import iso_z, parse_iso
from sandbox.orb_data import ALL_METRICS, OrbData
from sandbox.orb_errors import OrbError, bad_request, epoch
from sandbox.orb_ledger import GROUP_VALUES
from sandbox.seed import DAY, hex_id
from sandbox.store import JsonObject


def usage(orb: OrbData, subscription_id: str, query: dict[str, list[str]], now: float) -> JsonObject:
    """The body of ``GET /v1/subscriptions/{id}/usage`` (``query`` with array keys merged).

    Raises:
        OrbError: an unknown subscription, bad parameters, or a grouping Orb refuses (a
            non-decomposable metric grouped by other than its price's invoice grouping key).
    """
    subscription = orb.collections["subscriptions"].get(subscription_id)
    if subscription is None:
        raise OrbError(
            404, "404-resource-not-found", "Resource not found", f"No subscription {subscription_id}."
        )
    granularity = query.get("granularity", ["day"])[0]
    if granularity != "day":
        raise bad_request("granularity must be 'day'.")
    metric_id = query.get("billable_metric_id", [None])[0]
    group_by = query.get("group_by", [None])[0]
    if bool(metric_id) != bool(group_by):
        raise bad_request("billable_metric_id and group_by must be specified together.")
    view_mode = query.get("view_mode", ["cumulative"])[0]
    if view_mode not in ("periodic", "cumulative"):
        raise bad_request("view_mode must be 'periodic' or 'cumulative'.")
    start_text = query.get("timeframe_start", [subscription["current_billing_period_start_date"]])[0]
    start = epoch(start_text, "timeframe_start")
    end = epoch(query["timeframe_end"][0], "timeframe_end") if "timeframe_end" in query else now
    if end <= start:
        raise bad_request("timeframe_end must be after timeframe_start.")
    metrics = _metrics(orb, subscription)
    if metric_id:
        metrics = [metric for metric in metrics if metric["id"] == metric_id]
        for metric in metrics:
            keys = _invoice_grouping_keys(subscription, metric["id"])
            if not metric.get("decomposable", True) and group_by not in keys:
                raise bad_request(
                    f"Billable metric {metric['id']} is not decomposable: its usage can only be grouped "
                    "by its price's invoice grouping key"
                    + (f" ({', '.join(sorted(keys))})." if keys else ", and its price has none.")
                )
    groups: list[str | None] = list(GROUP_VALUES.get(group_by or "", ())) if group_by else [None]
    windows = _windows(subscription, start, end)
    data = []
    for metric in metrics:
        for group in groups:
            usage, total = [], 0.0
            for window_start, window_end in windows:
                quantity = _quantity(subscription["id"], metric["id"], window_start, window_end, group)
                total = total + quantity if view_mode == "cumulative" else quantity
                usage.append(
                    {
                        "quantity": total,
                        "timeframe_start": iso_z(window_start),
                        "timeframe_end": iso_z(window_end),
                    }
                )
            item: JsonObject = {
                "billable_metric": {"id": metric["id"], "name": metric["name"]},
                "usage": usage,
            }
            if group is not None:
                item["metric_group"] = {"property_key": group_by, "property_value": group}
            item["view_mode"] = view_mode
            data.append(item)
    result: JsonObject = {"data": data}
    if group_by:
        result["pagination_metadata"] = {"has_more": False, "next_cursor": None}
    return result


def _metrics(orb: OrbData, subscription: JsonObject) -> list[JsonObject]:
    plan = orb.collections["plans"].get(subscription["plan"]["id"]) or {"prices": []}
    wanted = {price["billable_metric"]["id"] for price in plan["prices"] if price.get("billable_metric")}
    return [metric for metric in ALL_METRICS if metric["id"] in wanted]


def _invoice_grouping_keys(subscription: JsonObject, metric_id: str) -> set[str]:
    """The invoice grouping keys of the subscription's prices of a metric."""
    plan = subscription.get("plan") or {}
    return {
        str(price["invoice_grouping_key"])
        for price in plan.get("prices") or ()
        if (price.get("billable_metric") or {}).get("id") == metric_id and price.get("invoice_grouping_key")
    }


def _windows(subscription: JsonObject, start: float, end: float) -> list[tuple[int, int]]:
    """Day windows within the timeframe and the subscription's active period, demarcated at the customer's
    midnight (the sandbox's customers live in UTC), the first and last cut at the range's ends, as Orb
    does."""
    active_from = parse_iso(subscription["start_date"])
    active_to = parse_iso(subscription["end_date"]) if subscription.get("end_date") else end
    low, high = int(max(start, active_from)), int(min(end, active_to))
    windows: list[tuple[int, int]] = []
    while low < high and len(windows) < 2000:
        upper = min((low // DAY + 1) * DAY, high)
        windows.append((low, upper))
        low = upper
    return windows


def _quantity(
    subscription_id: str, metric_id: str, window_start: int, window_end: int, group: str | None
) -> float:
    """Deterministic usage: each day's total is fixed, and a window cut short gets its share of the day."""
    day = window_start // DAY * DAY
    daily = int(hex_id(subscription_id, metric_id, day, group)[:6], 16) % 5000
    return float(round(daily * (window_end - window_start) / DAY))
