"""The rate budgets' even schedules and their layers."""

from __future__ import annotations

import pytest
import requests

from source_billing.http.budget import (
    BUDGET_SECOND,
    GATE_SECONDS,
    RECOVERY_HALF_LIFE_SECONDS,
    SATURATION_SLOTS,
    LayeredBudget,
    Limit,
    Spacing,
)

BASE = "https://api.example.test/api"


def _request(path: str) -> requests.PreparedRequest:
    return requests.Request("GET", f"{BASE}{path}?limit=100").prepare()


def _answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def test_given_a_limit_when_slots_are_booked_at_once_then_they_are_evenly_spaced_over_the_budget_second() -> (
    None
):
    spacing = Spacing(100, "^/")
    waits = [spacing.reserve() for _ in range(4)]
    interval = BUDGET_SECOND.total_seconds() / 100
    assert waits[0] == 0
    assert waits[1:] == pytest.approx([interval, 2 * interval, 3 * interval], abs=0.002)


def test_given_a_bucket_limit_when_slots_are_booked_at_once_then_they_are_spaced_at_its_refill_rate() -> None:
    budget = LayeredBudget(BASE, [Limit(100, bucket=1_000)])
    (layer,) = budget.matching(_request("/v1/flows"))
    waits = [layer.reserve() for _ in range(4)]
    assert waits[1:] == pytest.approx([0.01, 0.02, 0.03], abs=0.002)


def test_given_a_window_limit_when_its_requests_leave_bunched_then_the_one_too_many_waits() -> None:
    """Requests that left late for their slots and the next ones on time: the window check holds the
    eleventh of a 10/s limit until a second (and the jitter margin) after the first."""
    spacing = Spacing(10, "^/")
    assert [spacing.depart() for _ in range(10)] == [0.0] * 10
    wait = spacing.depart()
    assert GATE_SECONDS - 0.05 < wait <= GATE_SECONDS
    assert spacing.depart() > 0, "still not counted: it has not left"


def test_given_a_bucket_limit_when_requests_leave_bunched_then_none_waits() -> None:
    budget = LayeredBudget(BASE, [Limit(10, bucket=1_000)])
    (layer,) = budget.matching(_request("/v1/flows"))
    assert [layer.depart() for _ in range(50)] == [0.0] * 50


class FakeClock:
    """A clock for the limits: `sleep` moves `monotonic` on, and is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_given_a_window_limit_when_ten_requests_left_at_once_then_acquire_holds_the_eleventh_one() -> None:
    clock = FakeClock()
    budget = LayeredBudget(BASE, [Limit(10)], clock)
    (layer,) = budget.matching(_request("/v1/customers"))
    for _ in range(10):
        layer.depart()  # ten requests left together (late for their slots), none booked ahead
    budget.acquire(_request("/v1/customers"))
    assert clock.slept == [pytest.approx(GATE_SECONDS)]


def test_given_layers_when_a_request_is_matched_then_it_spends_from_its_endpoint_and_the_whole_api() -> None:
    budget = LayeredBudget(BASE, [Limit(25, ("/v1/customers/{id}/sources",)), Limit(100)])
    assert [layer.per_second for layer in budget.matching(_request("/v1/customers/cus_1/sources"))] == [
        25,
        100,
    ]
    assert [layer.per_second for layer in budget.matching(_request("/v1/customers"))] == [100]
    other_host = requests.Request("GET", "https://elsewhere.test/api/v1/customers").prepare()
    assert budget.matching(other_host) == ()


def test_given_a_layer_booked_ahead_when_a_request_waits_then_acquire_says_the_limit_held_it_back() -> None:
    budget = LayeredBudget(BASE, [Limit(100)])
    request = _request("/v1/customers")
    (layer,) = budget.matching(request)
    assert budget.acquire(request) is None  # a free slot
    assert budget.acquire(request) is None  # waiting for the next slot: a moment apart, not held back
    for _ in range(SATURATION_SLOTS):
        layer.reserve()  # slots booked ahead, as requests in flight elsewhere would
    assert budget.acquire(request) is layer  # waiting behind them: held back by the limit


def test_given_a_burst_on_a_layer_with_room_when_a_request_waits_then_acquire_says_it_was_not_held_back() -> (
    None
):
    clock = FakeClock()
    budget = LayeredBudget(BASE, [Limit(1000)], clock)
    request = _request("/v1/customers")
    (layer,) = budget.matching(request)
    layer.reserve()
    clock.now += 0.1  # a tenth of a second with one request: the layer gave out 1% of its slots
    for _ in range(25):
        layer.reserve()  # a burst of requests at once, 26 ms of slots
    assert not layer.saturated()
    assert budget.acquire(request) is None  # it waited many slots, behind a burst only


def test_given_a_layer_giving_out_its_slots_when_asked_then_it_is_saturated_until_the_requests_thin_out() -> (
    None
):
    clock = FakeClock()
    spacing = Spacing(1000, "^/", clock=clock)
    for _ in range(SATURATION_SLOTS):
        spacing.reserve()
    assert spacing.saturated()
    clock.now += 0.05  # no request for 50 slots
    assert not spacing.saturated()


def test_given_a_429_when_answered_then_every_layer_of_the_request_pauses_a_tenth_of_a_second() -> None:
    budget = LayeredBudget(BASE, [Limit(25, ("/v1/customers",)), Limit(100)])
    budget.update_from_response(_request("/v1/customers"), _answer(200))
    assert all(layer.until_free() == 0 for layer in budget.matching(_request("/v1/customers")))
    budget.update_from_response(_request("/v1/customers"), _answer(429))
    for layer in budget.matching(_request("/v1/customers")):
        assert layer.until_free() == pytest.approx(BUDGET_SECOND.total_seconds() / 10, abs=0.02)


def test_given_429s_when_answered_then_the_layer_spaces_its_slots_more_up_to_a_bound() -> None:
    spacing = Spacing(100, "^/")
    nominal = spacing.interval
    spacing.pause(0)
    assert spacing.interval == pytest.approx(nominal * 1.02)
    for _ in range(50):
        spacing.pause(0)
    assert spacing.interval == pytest.approx(nominal * 1.2)


def test_given_a_429_long_ago_when_slots_are_booked_then_the_spacing_is_back_to_nominal() -> None:
    clock = FakeClock()
    spacing = Spacing(100, "^/", clock=clock)
    nominal = spacing.interval
    spacing.pause(0)
    assert spacing.interval == pytest.approx(nominal * 1.02)
    clock.now += 20 * RECOVERY_HALF_LIFE_SECONDS  # twenty half-lives without a 429
    spacing.reserve()
    assert spacing.interval == pytest.approx(nominal, rel=0.001)


def test_given_requests_over_a_long_sync_when_they_leave_then_only_the_last_seconds_are_kept() -> None:
    """A limit raised to 100,000/s must not keep 100,000 departure times per endpoint: older than the
    window, they are forgotten."""
    clock = FakeClock()
    spacing = Spacing(100_000, "^/", clock=clock)
    for _ in range(1_000):
        assert spacing.depart() == 0
        clock.now += 0.01
    assert spacing.departures_remembered <= GATE_SECONDS / 0.01 + 1
