"""The ceiling arithmetic: which budgets a request spends from, and what the limits allow."""

from __future__ import annotations

from typing import Any

import pytest

from bench.ceiling import Budget, api_traffic, minimum_seconds, orb_budgets, stripe_budgets


def entry(api: str, path: str, time: float, status: int | None = 200) -> dict[str, Any]:
    return {"api": api, "path": path, "time": time, "status": status}


def test_given_a_stripe_list_when_classified_then_it_spends_from_the_account_and_its_endpoint() -> None:
    assert stripe_budgets("/v1/customers") == (
        Budget("stripe:account", 100.0),
        Budget("stripe:/v1/customers", 25.0),
    )


def test_given_a_test_key_when_classified_then_the_account_allows_25_per_second() -> None:
    assert stripe_budgets("/v1/customers", "test")[0] == Budget("stripe:account", 25.0)


def test_given_a_child_list_when_classified_then_its_endpoint_is_the_template_not_the_parent_id() -> None:
    first = stripe_budgets("/v1/customers/cus_A/tax_ids")
    second = stripe_budgets("/v1/customers/cus_B/tax_ids")
    assert first == second
    assert first[1].per_second == 25.0


def test_given_search_and_files_when_classified_then_they_have_their_own_20_per_second() -> None:
    assert stripe_budgets("/v1/customers/search")[1] == Budget("stripe:search", 20.0)
    assert stripe_budgets("/v1/files")[1] == Budget("stripe:files", 20.0)


def test_given_orb_paths_when_classified_then_ledger_and_usage_share_10_per_second() -> None:
    ledger = Budget("orb:ledger_usage", 10.0)
    assert orb_budgets("/v1/customers/c1/credits/ledger") == (ledger,)
    assert orb_budgets("/v1/subscriptions/s1/usage") == (ledger,)
    assert orb_budgets("/v1/customers") == (Budget("orb:other", 100.0),)


def test_given_8_equal_stripe_endpoints_when_computing_the_ceiling_then_the_account_limit_binds() -> None:
    counts = {Budget("stripe:account", 100.0): 1600}
    counts |= {Budget(f"stripe:/v1/e{index}", 25.0): 200 for index in range(8)}
    assert minimum_seconds(counts) == pytest.approx(16.0)  # 1600 / 100 beats 200 / 25 = 8


def test_given_one_stripe_endpoint_when_computing_the_ceiling_then_its_25_per_second_binds() -> None:
    counts = {Budget("stripe:account", 100.0): 500, Budget("stripe:/v1/customers", 25.0): 500}
    assert minimum_seconds(counts) == pytest.approx(20.0)


def test_given_no_requests_when_computing_the_ceiling_then_it_takes_no_time() -> None:
    assert minimum_seconds({}) == 0.0


def test_given_an_orb_log_when_summarised_then_the_ledger_bounds_it_and_429s_are_not_needed() -> None:
    entries = [entry("orb", "/v1/customers", 0.0), entry("orb", "/v1/plans", 0.5)]
    entries += [
        entry("orb", f"/v1/customers/c{index}/credits/ledger", 1.0 + index * 0.2) for index in range(40)
    ]
    entries.append(entry("orb", "/v1/customers/c0/credits/ledger", 2.0, status=429))
    entries.append(entry("stripe", "/v1/customers", 100.0))  # another API: left out

    traffic = api_traffic("orb", entries)

    assert (traffic.requests, traffic.served, traffic.rate_limited, traffic.failed) == (43, 42, 1, 0)
    assert traffic.minimum_seconds == pytest.approx(4.0)  # 40 ledger requests at 10/s
    assert traffic.bound == "orb:ledger_usage 10/s"
    assert traffic.span_seconds == pytest.approx(8.8)  # 0.0 .. 1.0 + 39 * 0.2
    assert traffic.fraction == pytest.approx(4.0 / 8.8)
    assert traffic.achieved_rps == pytest.approx(42 / 8.8)
    assert traffic.ceiling_rps == pytest.approx(42 / 4.0)
    assert traffic.rate_limited_share == pytest.approx(1 / 43)
    assert traffic.endpoints == {"orb:ledger_usage": 40, "orb:other": 2}


def test_given_failed_requests_when_summarised_then_they_count_against_the_limits_and_as_failed() -> None:
    entries = [entry("integrator", "/v1/connectors", 0.0), entry("integrator", "/v1/x", 1.0, status=500)]
    entries.append(entry("integrator", "/v1/y", 2.0, status=None))

    traffic = api_traffic("integrator", entries)

    assert (traffic.served, traffic.failed) == (3, 2)
    assert traffic.minimum_seconds == pytest.approx(3 / 300)


def test_given_a_single_request_when_summarised_then_rates_are_unknown_rather_than_infinite() -> None:
    traffic = api_traffic("stripe", [entry("stripe", "/v1/customers", 5.0)])

    assert traffic.span_seconds == 0.0
    assert traffic.fraction is None
    assert traffic.achieved_rps is None
    assert traffic.ceiling_rps == pytest.approx(25.0)  # one endpoint: its 25/s binds
