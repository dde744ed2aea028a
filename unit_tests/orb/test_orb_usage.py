"""Subscription usage through the connector's entry point: a slice per subscription, days read once and
whole, grouped rows with unique keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from source_billing.orb.usage import billable_metric_grouping_keys, usage_id
from unit_tests.entrypoint import MockedApi, final_state, read_stream, records, warnings
from unit_tests.orb.builders import LIMIT, answer, error, ids, orb_config, page, request

USAGE = "orb_subscription_usage"
NOW = "2024-06-10T15:30:00Z"
"""The sync's second in these tests."""
DAY = timedelta(days=1)
RECENT = "2024-06-08T00:00:00Z"
"""A start date: the usage read is three days (two whole, one in progress)."""


def _subscription(
    n: int, start: str, end: str | None = None, metrics: tuple[str, ...] = ("bm_a",)
) -> dict[str, Any]:
    prices = [{"id": f"price_{m}", "billable_metric": {"id": m}} for m in metrics]
    return {
        "id": f"sub_{n}",
        "status": "active" if end is None else "ended",
        "start_date": start,
        "end_date": end,
        "customer": {"id": f"cus_{n}"},
        "plan": {"id": "plan_1", "prices": [*prices, {"id": "fixed", "billable_metric": None}]},
        "price_intervals": [{"price": {"billable_metric": {"id": "bm_interval"}}}],
    }


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _windows(start: str, end: str) -> list[dict[str, Any]]:
    """Orb's day windows: cut at the timeframe's ends, demarcated at the customer's midnight (UTC here)."""
    low, high = _parse(start), _parse(end)
    windows = []
    while low < high:
        upper = min(datetime(low.year, low.month, low.day, tzinfo=UTC) + DAY, high)
        windows.append({"quantity": 1.0, "timeframe_start": _iso(low), "timeframe_end": _iso(upper)})
        low = upper
    return windows


def _timeframe(start: str, end: str) -> dict[str, str]:
    return {"granularity": "day", "view_mode": "periodic", "timeframe_start": start, "timeframe_end": end}


def _ungrouped(api: MockedApi, n: int, start: str, end: str, metrics: tuple[str, ...] = ("bm_a",)) -> None:
    """A subscription's usage over [start, end), every metric of it in one answer."""
    usage = _windows(start, end)
    data = [
        {"billable_metric": {"id": m, "name": m}, "usage": usage, "view_mode": "periodic"} for m in metrics
    ]
    api.get(request(f"subscriptions/sub_{n}/usage", _timeframe(start, end)), answer({"data": data}))


def _grouped(api: MockedApi, n: int, metric: str, key: str, refused: bool = False) -> None:
    """One metric's usage of a subscription since `RECENT`, grouped by `key`: in the groups eu and us, or
    refused (a non-decomposable metric not grouped by its price's invoice grouping key)."""
    query = {**_timeframe(RECENT, NOW), "billable_metric_id": metric, "group_by": key}
    usage = _windows(RECENT, NOW)
    data = [
        {
            "billable_metric": {"id": metric, "name": metric},
            "metric_group": {"property_key": key, "property_value": value},
            "usage": usage,
            "view_mode": "periodic",
        }
        for value in ("eu", "us")
    ]
    api.get(request(f"subscriptions/sub_{n}/usage", query), error(400) if refused else page(data))


def _read(state: dict[str, Any] | None = None, /, **settings: Any) -> EntrypointOutput:
    return read_stream(orb_config(**settings), USAGE, SyncMode.incremental, state, now=NOW)


def test_given_a_long_running_subscription_when_read_then_each_day_comes_once_and_the_cursor_is_today(
    api: MockedApi,
) -> None:
    api.get(request("subscriptions", LIMIT), page([_subscription(1, "2023-01-01T06:00:00Z")]))
    # 527 days in parts of at most a year: the day the first part cut short comes again, whole.
    _ungrouped(api, 1, "2023-01-01T06:00:00Z", "2024-01-01T06:00:00Z")
    _ungrouped(api, 1, "2024-01-01T00:00:00Z", NOW)
    output = _read()
    rows = records(output)
    starts = [r["timeframe_start"] for r in rows]
    assert len(starts) == len(set(starts)) == len(set(ids(rows)))
    assert starts[0] == "2023-01-01T06:00:00Z"
    assert starts[-1] == "2024-06-10T00:00:00Z"
    assert sorted(starts) == starts
    assert rows[365]["timeframe_start"] == "2024-01-01T00:00:00Z"
    assert all(r["subscription_id"] == "sub_1" and r["customer_id"] == "cus_1" for r in rows)
    assert final_state(output) == {"sub_1": {"timeframe_start": "2024-06-10T00:00:00Z"}}


def test_given_state_when_synced_then_read_from_the_last_day_less_lookback_and_ended_ones_not_again(
    api: MockedApi,
) -> None:
    subscriptions = [
        _subscription(1, "2024-01-01T00:00:00Z"),
        _subscription(2, "2024-01-01T00:00:00Z", end="2024-05-01T00:00:00Z"),
        _subscription(3, "2024-01-01T00:00:00Z", end="2024-06-01T12:00:00Z"),
        {**_subscription(4, "2024-07-01T00:00:00Z"), "status": "upcoming"},
    ]
    api.get(request("subscriptions", LIMIT), page(subscriptions))
    # sub_1 from a day before its last day; sub_3, never read, from its start to its end; sub_2, read to its
    # end, and sub_4, upcoming, not at all.
    _ungrouped(api, 1, "2024-06-08T00:00:00Z", NOW)
    _ungrouped(api, 3, "2024-01-01T00:00:00Z", "2024-06-01T12:00:00Z")
    saved = {
        "sub_1": {"timeframe_start": "2024-06-09T00:00:00Z"},
        "sub_2": {"timeframe_start": "2024-05-01T00:00:00Z"},
    }
    output = _read(saved, lookback_window_days=1)
    assert not output.errors
    assert final_state(output) == {
        "sub_1": {"timeframe_start": "2024-06-10T00:00:00Z"},
        "sub_2": {"timeframe_start": "2024-05-01T00:00:00Z"},
        "sub_3": {"timeframe_start": "2024-06-01T12:00:00Z"},  # read to its end: done
    }


def test_given_a_grouping_key_and_plan_when_read_then_one_request_per_metric_and_unique_keys(
    api: MockedApi,
) -> None:
    subscription = _subscription(1, "2024-01-01T00:00:00Z", metrics=("bm_a", "bm_b"))
    api.get(request("subscriptions", {**LIMIT, "plan_id": "plan_1"}), page([subscription]))
    for metric in ("bm_a", "bm_b", "bm_interval"):
        _grouped(api, 1, metric, "region")
    output = _read(subscription_usage_grouping_key="region", plan_id="plan_1", start_date=RECENT)
    rows = records(output)
    assert list(dict.fromkeys(r["billable_metric_id"] for r in rows)) == ["bm_a", "bm_b", "bm_interval"]
    assert len(rows) == 3 * 2 * 3  # metrics x groups x days (two whole, one in progress)
    assert len(set(ids(rows))) == len(rows)
    assert {(r["grouping_key"], r["grouping_value"]) for r in rows} == {("region", "eu"), ("region", "us")}
    assert rows[0]["id"] == usage_id("sub_1", "bm_a", RECENT, "region", "eu")


def test_given_group_values_with_separators_when_keyed_then_ids_stay_distinct() -> None:
    keys = {
        usage_id("sub_1", "bm_a", "2024-06-08T00:00:00Z", "k", value)
        for value in ("a|b", "a", "b", "", None, "a|")
    }
    assert len(keys) == 5, "None and the empty string are the same group"
    assert usage_id("sub_1", "bm_a", "2024-06-08T00:00:00Z") not in keys


def test_given_a_subscription_when_its_metrics_are_listed_then_plan_prices_and_price_intervals_count() -> (
    None
):
    assert sorted(billable_metric_grouping_keys(_subscription(1, NOW, metrics=("bm_b", "bm_a")))) == [
        "bm_a",
        "bm_b",
        "bm_interval",
    ]
    assert billable_metric_grouping_keys({"plan": None, "price_intervals": []}) == {}


def test_given_a_unique_count_metric_when_grouped_by_another_key_then_read_ungrouped_once_refused(
    api: MockedApi,
) -> None:
    """Orb groups a non-decomposable metric only by its price's invoice grouping key. Once refused, the
    metric is not asked for grouped again: one worker reads the subscriptions one after the other, so the
    second one's read comes after the first one's refusal."""
    subscriptions = [_subscription(n, "2024-01-01T00:00:00Z", metrics=("bm_a", "bm_unique")) for n in (1, 2)]
    api.get(request("subscriptions", LIMIT), page(subscriptions))
    for n in (1, 2):
        _grouped(api, n, "bm_a", "region")
        _grouped(api, n, "bm_interval", "region")
        _ungrouped(api, n, RECENT, NOW, metrics=("bm_a", "bm_unique", "bm_interval"))
    _grouped(api, 1, "bm_unique", "region", refused=True)
    config = {**orb_config(subscription_usage_grouping_key="region", start_date=RECENT), "max_concurrency": 1}
    output = read_stream(config, USAGE, SyncMode.incremental, now=NOW)
    rows = records(output)
    # The CDK's output omits a record's top-level nulls: an ungrouped row has no grouping key or value.
    read = [(r["subscription_id"], r["billable_metric_id"], r.get("grouping_key")) for r in rows]
    assert list(dict.fromkeys(read)) == [
        ("sub_1", "bm_a", "region"),
        ("sub_1", "bm_interval", "region"),
        ("sub_1", "bm_unique", None),
        ("sub_2", "bm_a", "region"),
        ("sub_2", "bm_interval", "region"),
        ("sub_2", "bm_unique", None),
    ]
    unique = [r for r in rows if r["billable_metric_id"] == "bm_unique"]
    assert len(unique) == 2 * 3, "both subscriptions' days, ungrouped"
    assert {(r.get("grouping_key"), r.get("grouping_value")) for r in unique} == {(None, None)}
    assert len(set(ids(rows))) == len(rows)
    (warning,) = warnings(output)
    assert "bm_unique" in warning
    assert final_state(output) == {
        "sub_1": {"timeframe_start": "2024-06-10T00:00:00Z"},
        "sub_2": {"timeframe_start": "2024-06-10T00:00:00Z"},
    }


def test_given_a_unique_count_metric_whose_price_groups_invoices_by_the_key_when_read_then_grouped(
    api: MockedApi,
) -> None:
    subscription = _subscription(1, "2024-01-01T00:00:00Z", metrics=("bm_unique",))
    subscription["plan"]["prices"][0]["invoice_grouping_key"] = "user"
    api.get(request("subscriptions", LIMIT), page([subscription]))
    _grouped(api, 1, "bm_interval", "user")
    _grouped(api, 1, "bm_unique", "user")
    output = _read(subscription_usage_grouping_key="user", start_date=RECENT)
    assert not output.errors
    assert not warnings(output)
    assert {(r["billable_metric_id"], r["grouping_key"]) for r in records(output)} == {
        ("bm_unique", "user"),
        ("bm_interval", "user"),
    }
