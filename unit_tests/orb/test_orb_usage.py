"""Subscription usage: a slice per subscription, days read once and whole, grouped rows with unique keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
import pytest
import requests_mock
from airbyte_cdk.models import SyncMode

from source_billing.orb.usage import billable_metric_ids, usage_id
from unit_tests.orb.builders import V1, ids, page, read_slices, stream

USAGE = "orb_subscription_usage"
NOW = "2024-06-10T15:30:00Z"
DAY = timedelta(days=1)


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


@pytest.fixture(autouse=True)
def _frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = pendulum.datetime(2024, 6, 10, 15, 30)
    monkeypatch.setattr(pendulum, "now", lambda tz=None: frozen)


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


def _usage_api(request: Any, context: Any) -> dict[str, Any]:
    query = {key: values[0] for key, values in request.qs.items()}
    assert query["granularity"] == "day"
    assert query["view_mode"] == "periodic"
    usage = _windows(query["timeframe_start"], query["timeframe_end"])
    if "group_by" not in query:
        return {
            "data": [
                {"billable_metric": {"id": "bm_a", "name": "A"}, "usage": usage, "view_mode": "periodic"}
            ]
        }
    return {
        "data": [
            {
                "billable_metric": {"id": query["billable_metric_id"], "name": "A"},
                "metric_group": {"property_key": query["group_by"], "property_value": value},
                "usage": usage,
                "view_mode": "periodic",
            }
            for value in ("eu", "us")
        ],
        "pagination_metadata": {"has_more": False, "next_cursor": None},
    }


def test_given_a_long_running_subscription_when_read_then_each_day_comes_once_and_the_cursor_is_today() -> (
    None
):
    usage = stream(USAGE)
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page([_subscription(1, "2023-01-01T06:00:00Z")]))
        mock.get(f"{V1}/subscriptions/sub_1/usage", json=_usage_api)
        records, _ = read_slices(usage)
        requests = [r.qs for r in mock.request_history if r.path.endswith("/usage")]
    starts = [r["timeframe_start"] for r in records]
    assert len(starts) == len(set(starts)) == len(set(ids(records)))
    assert starts[0] == "2023-01-01T06:00:00Z"
    assert starts[-1] == "2024-06-10T00:00:00Z"
    assert sorted(starts) == starts
    assert len(requests) == 2, "527 days in parts of at most a year"
    assert requests[1]["timeframe_start"] == ["2024-01-01T00:00:00Z"], (
        "the day the first part cut comes again"
    )
    assert records[365]["timeframe_start"] == "2024-01-01T00:00:00Z"
    assert all(r["subscription_id"] == "sub_1" and r["customer_id"] == "cus_1" for r in records)
    assert usage.state == {"sub_1": {"timeframe_start": "2024-06-10T00:00:00Z"}}


def test_given_state_when_synced_then_read_from_the_last_day_less_lookback_and_ended_ones_not_again() -> None:
    usage = stream(USAGE, lookback_window_days=1)
    usage.state = {
        "sub_1": {"timeframe_start": "2024-06-09T00:00:00Z"},
        "sub_2": {"timeframe_start": "2024-05-01T00:00:00Z"},
    }
    subscriptions = [
        _subscription(1, "2024-01-01T00:00:00Z"),
        _subscription(2, "2024-01-01T00:00:00Z", end="2024-05-01T00:00:00Z"),
        _subscription(3, "2024-01-01T00:00:00Z", end="2024-06-01T12:00:00Z"),
        {**_subscription(4, "2024-07-01T00:00:00Z"), "status": "upcoming"},
    ]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page(subscriptions))
        slices = list(usage.stream_slices(sync_mode=SyncMode.incremental))
    assert [(s["partition"], s["start"], s["end"]) for s in slices if s is not None] == [
        ("sub_1", "2024-06-08T00:00:00Z", "2024-06-10T15:30:00Z"),
        ("sub_3", "2024-01-01T00:00:00Z", "2024-06-01T12:00:00Z"),
    ]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions/sub_3/usage", json=_usage_api)
        ended = slices[1]
        assert ended is not None
        list(usage.read_records(SyncMode.full_refresh, stream_slice=ended))
        usage.close_slice(ended)
    assert usage.state["sub_3"] == {"timeframe_start": "2024-06-01T12:00:00Z"}, "read to its end: done"


def test_given_a_grouping_key_and_plan_when_read_then_one_request_per_metric_and_unique_keys() -> None:
    usage = stream(
        USAGE, subscription_usage_grouping_key="region", plan_id="plan_1", start_date="2024-06-08T00:00:00Z"
    )
    with requests_mock.Mocker(case_sensitive=True) as mock:
        subscriptions = mock.get(
            f"{V1}/subscriptions",
            json=page([_subscription(1, "2024-01-01T00:00:00Z", metrics=("bm_a", "bm_b"))]),
        )
        mock.get(f"{V1}/subscriptions/sub_1/usage", json=_usage_api)
        records, _ = read_slices(usage)
        metrics = [r.qs["billable_metric_id"][0] for r in mock.request_history if r.path.endswith("/usage")]
    assert subscriptions.last_request.qs["plan_id"] == ["plan_1"]
    assert metrics == ["bm_a", "bm_b", "bm_interval"]
    assert len(records) == 3 * 2 * 3  # metrics x groups x days (two whole, one in progress)
    assert len(set(ids(records))) == len(records)
    assert {(r["grouping_key"], r["grouping_value"]) for r in records} == {("region", "eu"), ("region", "us")}
    assert records[0]["id"] == usage_id("sub_1", "bm_a", "2024-06-08T00:00:00Z", "region", "eu")


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
    assert billable_metric_ids(_subscription(1, NOW, metrics=("bm_b", "bm_a"))) == [
        "bm_a",
        "bm_b",
        "bm_interval",
    ]
    assert billable_metric_ids({"plan": None, "price_intervals": []}) == []


def _refusing_usage_api(unique: str, invoice_key: str) -> Any:
    """Orb's rule for a non-decomposable metric: grouped only by its price's invoice key, else 400."""

    def answer(request: Any, context: Any) -> dict[str, Any]:
        query = {key: values[0] for key, values in request.qs.items()}
        if query.get("billable_metric_id") == unique and query.get("group_by") != invoice_key:
            context.status_code = 400
            return {"type": "400-request-validation-errors", "status": 400, "title": "Bad", "detail": "no"}
        body = _usage_api(request, context)
        if "group_by" not in query:  # ungrouped: every metric of the subscription
            series = body["data"][0]
            body["data"] = [
                {**series, "billable_metric": {"id": metric, "name": metric}}
                for metric in ("bm_a", unique, "bm_interval")
            ]
        return body

    return answer


def test_given_a_unique_count_metric_when_grouped_by_another_key_then_read_ungrouped_once_refused() -> None:
    usage = stream(USAGE, subscription_usage_grouping_key="region", start_date="2024-06-08T00:00:00Z")
    subscriptions = [_subscription(n, "2024-01-01T00:00:00Z", metrics=("bm_a", "bm_unique")) for n in (1, 2)]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page(subscriptions))
        for n in (1, 2):
            mock.get(f"{V1}/subscriptions/sub_{n}/usage", json=_refusing_usage_api("bm_unique", "user"))
        records, messages = read_slices(usage)
        asked = [
            (r.path.split("/")[3], r.qs.get("billable_metric_id", [None])[0])
            for r in mock.request_history
            if r.path.endswith("/usage")
        ]
    unique = [r for r in records if r["billable_metric_id"] == "bm_unique"]
    assert len(unique) == 2 * 3, "both subscriptions' days, ungrouped"
    assert {(r["grouping_key"], r["grouping_value"]) for r in unique} == {(None, None)}
    grouped = [r for r in records if r["billable_metric_id"] != "bm_unique"]
    assert {r["grouping_key"] for r in grouped} == {"region"}
    assert len(set(ids(records))) == len(records)
    # Refused once: the second subscription does not ask for the metric grouped again.
    assert asked == [
        ("sub_1", "bm_a"),
        ("sub_1", "bm_interval"),
        ("sub_1", "bm_unique"),
        ("sub_1", None),
        ("sub_2", "bm_a"),
        ("sub_2", "bm_interval"),
        ("sub_2", None),
    ]
    (warning,) = messages
    assert warning.log is not None
    assert "bm_unique" in warning.log.message
    assert usage.state["sub_1"] == {"timeframe_start": "2024-06-10T00:00:00Z"}


def test_given_a_unique_count_metric_whose_price_groups_invoices_by_the_key_when_read_then_grouped() -> None:
    usage = stream(USAGE, subscription_usage_grouping_key="user", start_date="2024-06-08T00:00:00Z")
    subscription = _subscription(1, "2024-01-01T00:00:00Z", metrics=("bm_unique",))
    subscription["plan"]["prices"][0]["invoice_grouping_key"] = "user"
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page([subscription]))
        mock.get(f"{V1}/subscriptions/sub_1/usage", json=_refusing_usage_api("bm_unique", "user"))
        records, messages = read_slices(usage)
    assert not messages
    assert {(r["billable_metric_id"], r["grouping_key"]) for r in records} == {
        ("bm_unique", "user"),
        ("bm_interval", "user"),
    }
