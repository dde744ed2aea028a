"""Orb lists read per customer or subscription, through the connector's entry point: licenses re-read while
their subscription is open, credit blocks in each ledger currency, balance transactions, schedules with a
built id, and the plain lists of metrics and license types."""

from __future__ import annotations

from typing import Any

import pytest
from airbyte_cdk.models import SyncMode

from unit_tests.entrypoint import NOW, MockedApi, final_state, read_stream, records, stream_error
from unit_tests.orb.builders import LIMIT, REJECTED, customer, error, ids, orb_config, page, request


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


def _licenses(api: MockedApi, subscription: int, *licenses: dict[str, Any]) -> None:
    """A subscription's licenses, asked for by naming it."""
    api.get(request("licenses", {**LIMIT, "subscription_id": f"sub_{subscription}"}), page(licenses))


def test_given_subscriptions_when_licenses_are_read_then_one_request_per_subscription_naming_it(
    api: MockedApi,
) -> None:
    api.get(request("subscriptions", LIMIT), page([_subscription(1), _subscription(2, "ended")]))
    _licenses(api, 1, _license(1, 1))
    _licenses(api, 2, _license(2, 2, "inactive"))
    output = read_stream(orb_config(), "orb_licenses")
    assert not output.errors
    assert sorted(ids(records(output))) == ["lic_1", "lic_2"]


def test_given_a_licenses_state_when_synced_then_open_new_and_formerly_open_subscriptions_read_again(
    api: MockedApi,
) -> None:
    subscriptions = [
        _subscription(1),  # open: its licenses still change
        _subscription(2, "ended"),  # ended before the last sync: not read again (no request)
        _subscription(3, "ended"),  # open at the last sync, ended since: read once more
        _subscription(4, "ended", created_at="2024-05-02T00:00:00Z"),  # created since the last sync
        _subscription(5, "upcoming"),
    ]
    api.get(request("subscriptions", LIMIT), page(subscriptions))
    for n in (1, 3, 4, 5):
        _licenses(api, n, _license(n, n, "active" if n in (1, 5) else "inactive"))
    saved = {"open_subscription_ids": ["sub_3"], "synced_from": "2024-05-01T00:00:00Z"}
    output = read_stream(orb_config(), "orb_licenses", SyncMode.incremental, saved)
    assert not output.errors
    assert sorted(ids(records(output))) == ["lic_1", "lic_3", "lic_4", "lic_5"]
    assert final_state(output) == {"open_subscription_ids": ["sub_1", "sub_5"], "synced_from": NOW}


def test_given_a_licenses_sync_that_breaks_off_when_a_subscription_fails_then_the_state_stays(
    api: MockedApi,
) -> None:
    api.get(request("subscriptions", LIMIT), page([_subscription(1), _subscription(2)]))
    _licenses(api, 1, _license(1, 1))
    api.get(request("licenses", {**LIMIT, "subscription_id": "sub_2"}), error(400))
    saved = {"open_subscription_ids": ["sub_1"], "synced_from": "2024-05-01T00:00:00Z"}
    output = read_stream(orb_config(), "orb_licenses", SyncMode.incremental, saved)
    assert stream_error(output, "orb_licenses").message.startswith(REJECTED)
    assert final_state(output) == saved, "one subscription of the two is still unread"


def test_given_customers_when_credit_blocks_are_read_then_every_block_in_each_candidate_currency(
    api: MockedApi,
) -> None:
    api.get(request("customers", LIMIT), page([{**customer(1), "currency": "USD"}, customer(2)]))
    api.get(request("prices", LIMIT), page([{"id": "p1", "currency": "USD", "credit_allocation": None}]))
    for customer_id in ("cus_1", "cus_2"):
        for currency in ("credits", "USD"):
            # Credits is Orb's default ledger: no `currency` names it.
            named = {} if currency == "credits" else {"currency": currency}
            query = {**LIMIT, "include_all_blocks": "true", **named}
            block = {"id": f"blk_{customer_id}_{currency}", "balance": 1.0}
            api.get(request(f"customers/{customer_id}/credits", query), page([block]))
    output = read_stream(orb_config(), "orb_credit_blocks")
    assert not output.errors
    assert sorted((r["customer_id"], r["currency"], r["id"]) for r in records(output)) == [
        ("cus_1", "USD", "blk_cus_1_USD"),
        ("cus_1", "credits", "blk_cus_1_credits"),
        ("cus_2", "USD", "blk_cus_2_USD"),
        ("cus_2", "credits", "blk_cus_2_credits"),
    ]


def test_given_schedule_entries_without_ids_when_read_then_each_gets_subscription_and_start_date_as_id(
    api: MockedApi,
) -> None:
    entries: list[dict[str, Any]] = [
        {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-07-01T00:00:00Z", "plan": {"id": "plan_a"}},
        {"start_date": "2024-07-01T00:00:00Z", "end_date": None, "plan": {"id": "plan_b"}},
    ]
    api.get(request("subscriptions", LIMIT), page([_subscription(1)]))
    api.get(request("subscriptions/sub_1/schedule", LIMIT), page(entries))
    output = read_stream(orb_config(), "orb_subscription_schedules")
    assert ids(records(output)) == ["sub_1|2024-01-01T00:00:00Z", "sub_1|2024-07-01T00:00:00Z"]
    assert {r["subscription_id"] for r in records(output)} == {"sub_1"}


def test_given_customers_when_balance_transactions_are_read_then_each_names_its_customer(
    api: MockedApi,
) -> None:
    api.get(request("customers", LIMIT), page([customer(1), customer(2)]))
    api.get(request("customers/cus_1/balance_transactions", LIMIT), page([{"id": "cbt_1"}], "next"))
    api.get(
        request("customers/cus_1/balance_transactions", {**LIMIT, "cursor": "next"}), page([{"id": "cbt_2"}])
    )
    api.get(request("customers/cus_2/balance_transactions", LIMIT), page([]))
    output = read_stream(orb_config(), "orb_customer_balance_transactions")
    assert [(r["id"], r["customer_id"]) for r in records(output)] == [("cbt_1", "cus_1"), ("cbt_2", "cus_1")]


@pytest.mark.parametrize(
    ("stream", "path", "listed"),
    [
        ("orb_billable_metrics", "metrics", {"id": "bm_1", "status": "archived"}),
        ("orb_license_types", "license_types", {"id": "lt_1", "grouping_key": "user_id"}),
    ],
)
def test_given_metrics_and_license_types_when_read_then_plain_lists_without_time_filters(
    api: MockedApi, stream: str, path: str, listed: dict[str, Any]
) -> None:
    api.get(request(path, LIMIT), page([listed]))
    # Even with a start date.
    output = read_stream(orb_config(start_date="2024-01-01T00:00:00Z"), stream)
    assert records(output) == [listed]
