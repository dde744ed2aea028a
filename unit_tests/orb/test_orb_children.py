"""Orb lists read per customer or subscription: licenses re-read while their subscription is open, credit
blocks in each ledger currency, balance transactions, schedules with a built id, and the plain lists of
metrics and license types."""

from __future__ import annotations

from typing import Any

import requests_mock
from airbyte_cdk.models import SyncMode

from unit_tests.orb.builders import V1, customer, ids, page, read_slices, stream


def _subscription(n: int, status: str = "active", created_at: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"id": f"sub_{n}", "status": status, "created_at": created_at}


def _license(n: int, subscription: int, status: str = "active") -> dict[str, Any]:
    return {
        "id": f"lic_{n}",
        "subscription_id": f"sub_{subscription}",
        "status": status,
        "start_date": "2024-02-01T00:00:00Z",
        "end_date": None if status == "active" else "2024-06-01T00:00:00Z",
        "external_license_id": f"user-{n}",
        "license_type_id": "lt_1",
    }


def _licenses_api(licenses: list[dict[str, Any]]) -> Any:
    def answer(request: Any, context: Any) -> dict[str, Any]:
        wanted = request.qs["subscription_id"][0]
        return page([lic for lic in licenses if lic["subscription_id"] == wanted])

    return answer


def test_given_subscriptions_when_licenses_are_read_then_one_request_per_subscription_naming_it() -> None:
    licenses = stream("orb_licenses")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page([_subscription(1), _subscription(2, "ended")]))
        listed = mock.get(f"{V1}/licenses", json=_licenses_api([_license(1, 1), _license(2, 2, "inactive")]))
        records, _ = read_slices(licenses, SyncMode.full_refresh)
        queries = [request.qs for request in listed.request_history]
    assert ids(records) == ["lic_1", "lic_2"]
    assert queries == [
        {"limit": ["100"], "subscription_id": ["sub_1"]},
        {"limit": ["100"], "subscription_id": ["sub_2"]},
    ]


def test_given_a_licenses_state_when_synced_then_open_new_and_formerly_open_subscriptions_read_again() -> (
    None
):
    licenses = stream("orb_licenses")
    licenses.state = {"open_subscription_ids": ["sub_3"], "synced_from": "2024-05-01T00:00:00Z"}
    subscriptions = [
        _subscription(1),  # open: its licenses still change
        _subscription(2, "ended"),  # ended before the last sync: not read again
        _subscription(3, "ended"),  # open at the last sync, ended since: read once more
        _subscription(4, "ended", created_at="2024-05-02T00:00:00Z"),  # created since the last sync
        _subscription(5, "upcoming"),
    ]
    everything = [_license(n, n, "active" if n in (1, 5) else "inactive") for n in range(1, 6)]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page(subscriptions))
        mock.get(f"{V1}/licenses", json=_licenses_api(everything))
        records, _ = read_slices(licenses)
    assert sorted(ids(records)) == ["lic_1", "lic_3", "lic_4", "lic_5"]
    assert licenses.state["open_subscription_ids"] == ["sub_1", "sub_5"]
    assert licenses.state["synced_from"] > "2024-05-01T00:00:00Z"


def test_given_a_licenses_sync_that_breaks_off_when_a_slice_is_not_closed_then_the_state_stays() -> None:
    licenses = stream("orb_licenses")
    saved = {"open_subscription_ids": ["sub_1"], "synced_from": "2024-05-01T00:00:00Z"}
    licenses.state = dict(saved)
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page([_subscription(1), _subscription(2)]))
        mock.get(f"{V1}/licenses", json=_licenses_api([_license(1, 1)]))
        slices = list(licenses.stream_slices(sync_mode=SyncMode.incremental))
        first = slices[0]
        assert first is not None
        list(licenses.read_records(SyncMode.full_refresh, stream_slice=first))
        licenses.close_slice(first)
    assert licenses.state == saved, "one subscription of the two is still unread"


def test_given_customers_when_credit_blocks_are_read_then_every_block_in_each_candidate_currency() -> None:
    blocks = stream("orb_credit_blocks")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([{**customer(1), "currency": "USD"}, customer(2)]))
        mock.get(f"{V1}/prices", json=page([{"id": "p1", "currency": "USD", "credit_allocation": None}]))

        def answer(request: Any, context: Any) -> dict[str, Any]:
            currency = request.qs.get("currency", ["credits"])[0]
            return page([{"id": f"blk_{request.path.split('/')[3]}_{currency}", "balance": 1.0}])

        credits = mock.get(requests_mock.ANY, json=answer)
        mock.get(f"{V1}/customers", json=page([{**customer(1), "currency": "USD"}, customer(2)]))
        mock.get(f"{V1}/prices", json=page([{"id": "p1", "currency": "USD", "credit_allocation": None}]))
        records, _ = read_slices(blocks, SyncMode.full_refresh)
        block_queries = [r.qs for r in credits.request_history if r.path.endswith("/credits")]
    assert sorted((r["customer_id"], r["currency"], r["id"]) for r in records) == [
        ("cus_1", "USD", "blk_cus_1_USD"),
        ("cus_1", "credits", "blk_cus_1_credits"),
        ("cus_2", "USD", "blk_cus_2_USD"),
        ("cus_2", "credits", "blk_cus_2_credits"),
    ]
    assert all(query["include_all_blocks"] == ["true"] for query in block_queries)


def test_given_schedule_entries_without_ids_when_read_then_each_gets_subscription_and_start_date_as_id() -> (
    None
):
    schedules = stream("orb_subscription_schedules")
    entries = [
        {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-07-01T00:00:00Z", "plan": {"id": "plan_a"}},
        {"start_date": "2024-07-01T00:00:00Z", "end_date": None, "plan": {"id": "plan_b"}},
    ]
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/subscriptions", json=page([_subscription(1)]))
        mock.get(f"{V1}/subscriptions/sub_1/schedule", json=page(entries))
        records, _ = read_slices(schedules, SyncMode.full_refresh)
    assert ids(records) == ["sub_1|2024-01-01T00:00:00Z", "sub_1|2024-07-01T00:00:00Z"]
    assert {r["subscription_id"] for r in records} == {"sub_1"}


def test_given_customers_when_balance_transactions_are_read_then_each_names_its_customer() -> None:
    transactions = stream("orb_customer_balance_transactions")
    with requests_mock.Mocker(case_sensitive=True) as mock:
        mock.get(f"{V1}/customers", json=page([customer(1), customer(2)]))
        mock.get(f"{V1}/customers/cus_1/balance_transactions", json=page([{"id": "cbt_1"}], "next"))
        mock.get(f"{V1}/customers/cus_1/balance_transactions?cursor=next", json=page([{"id": "cbt_2"}]))
        mock.get(f"{V1}/customers/cus_2/balance_transactions", json=page([]))
        records, _ = read_slices(transactions, SyncMode.full_refresh)
    assert [(r["id"], r["customer_id"]) for r in records] == [("cbt_1", "cus_1"), ("cbt_2", "cus_1")]


def test_given_metrics_and_license_types_when_read_then_plain_lists_without_time_filters() -> None:
    with requests_mock.Mocker(case_sensitive=True) as mock:
        metrics = mock.get(f"{V1}/metrics", json=page([{"id": "bm_1", "status": "archived"}]))
        types = mock.get(f"{V1}/license_types", json=page([{"id": "lt_1", "grouping_key": "user_id"}]))
        metric_records, _ = read_slices(stream("orb_billable_metrics"), SyncMode.full_refresh)
        type_records, _ = read_slices(stream("orb_license_types"), SyncMode.full_refresh)
    assert ids(metric_records) == ["bm_1"]
    assert ids(type_records) == ["lt_1"]
    assert metrics.last_request.qs == {"limit": ["100"]}
    assert types.last_request.qs == {"limit": ["100"]}
