"""The worker pool that hands workers to the streams whose rate budgets have room."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from queue import Queue
from typing import Any
from unittest.mock import Mock

import pytest
import requests
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition

from source_billing.http.budget import Pacing
from source_billing.runtime import scheduling
from source_billing.runtime.scheduling import FairThreadPool
from unit_tests.test_budget import FakeClock

WAIT = 5.0


@dataclass
class FakePacing:
    """What the pool reads of a stream's pacing: answers so far, whether it waits for its budget, and for
    what share of its time."""

    answered: int = 0
    waiting_for_budget: bool = False
    waiting_share: float = 0.0
    held_by: object = None  # the limit that held it back: the same for every stream here
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def on_answer(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def throttled(self) -> bool:
        return self.waiting_for_budget

    def congested(self) -> bool:
        return False

    def answer(self) -> None:
        self.answered += 1
        for listener in self.listeners:
            listener()


def _partition(stream: str) -> Partition:
    partition = Mock(spec=Partition)
    partition.stream_name.return_value = stream
    return partition


class Slices:
    """Slices that run until released, recording which are running."""

    def __init__(self) -> None:
        self.running: list[str] = []
        self.finished = 0
        self.release = threading.Event()
        self._changed = threading.Condition()

    def read(self, partition: Partition) -> None:
        with self._changed:
            self.running.append(partition.stream_name())
            self._changed.notify_all()
        assert self.release.wait(WAIT)
        with self._changed:
            self.finished += 1
            self._changed.notify_all()

    def submit(self, pool: FairThreadPool, *streams: str) -> None:
        """One slice of each stream named, in that order."""
        for stream in streams:
            pool.submit(self.read, _partition(stream))

    def wait_finished(self, count: int) -> int:
        """Wait until `count` slices have ended; how many have."""
        with self._changed:
            self._changed.wait_for(lambda: self.finished >= count, WAIT)
            return self.finished

    def wait_for(self, count: int) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.running) >= count, WAIT), self.running
            return sorted(self.running)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[FairThreadPool]:
    monkeypatch.setattr(scheduling, "GROWTH_INTERVAL_SECONDS", 0.0)
    pool = FairThreadPool(4, logging.getLogger("test"), Queue(maxsize=10))
    yield pool
    pool._threadpool.shutdown(wait=False, cancel_futures=True)


def _pace(pool: FairThreadPool, stream: str, pacing: FakePacing) -> None:
    pool.pace(stream, pacing)  # the pool reads only what FakePacing has


def _settle(pool: FairThreadPool, stream: str, in_flight: int) -> None:
    """Wait until the stream has `in_flight` slices in flight: a worker settles its lane just after its
    future's result."""
    deadline = time.monotonic() + WAIT
    while pool.load(stream).in_flight > in_flight and time.monotonic() < deadline:
        time.sleep(0.01)


def test_given_one_stream_queued_first_when_workers_free_then_each_stream_starts_one_slice(
    pool: FairThreadPool,
) -> None:
    slices = Slices()
    slices.submit(pool, *["customers"] * 6 + ["invoices"] * 2)
    assert slices.wait_for(2) == ["customers", "invoices"]
    slices.release.set()
    assert slices.wait_finished(8) == 8


def test_given_answers_without_waiting_when_a_stream_uses_its_level_then_it_gets_another_worker(
    pool: FairThreadPool,
) -> None:
    slices, pacing = Slices(), FakePacing()
    _pace(pool, "customers", pacing)
    slices.submit(pool, *["customers"] * 4)
    slices.wait_for(1)
    pacing.answer()
    assert slices.wait_for(2) == ["customers"] * 2
    pacing.answer()
    pacing.answer()
    assert slices.wait_for(4) == ["customers"] * 4
    slices.release.set()


def test_given_a_stream_waiting_for_its_budget_when_answered_then_its_level_stays_and_others_get_workers(
    pool: FairThreadPool,
) -> None:
    slices, throttled = Slices(), FakePacing(waiting_for_budget=True)
    _pace(pool, "ledger", throttled)
    slices.submit(pool, *["ledger"] * 5)
    slices.wait_for(1)
    for _ in range(5):
        throttled.answer()
    slices.submit(pool, "plans")
    assert slices.wait_for(2) == ["ledger", "plans"]
    assert pool.load("ledger").in_flight == 1  # two workers stay free
    slices.release.set()


def test_given_a_slice_that_ends_when_its_stream_has_more_then_it_is_replaced_at_the_same_level(
    pool: FairThreadPool,
) -> None:
    read: list[Partition] = []
    _pace(pool, "ledger", FakePacing(waiting_for_budget=True))
    partitions = [_partition("ledger") for _ in range(3)]
    for partition in partitions:
        pool.submit(read.append, partition)
    for future in list(pool._futures):
        future.result(WAIT)
    assert read == partitions


def test_given_a_task_that_raises_when_run_then_its_future_holds_the_error() -> None:
    pool = FairThreadPool(2, logging.getLogger("test"), Queue(maxsize=10))

    def fail(_: Any) -> None:
        raise ValueError("boom")

    pool.submit(fail, _partition("customers"))
    (future,) = pool._futures
    assert isinstance(future.exception(WAIT), ValueError)
    pool._threadpool.shutdown(wait=True)


def test_given_answers_in_quick_succession_when_a_stream_could_grow_then_it_grows_once_per_interval() -> None:
    pool = FairThreadPool(4, logging.getLogger("test"), Queue(maxsize=10))
    slices, pacing = Slices(), FakePacing()
    _pace(pool, "customers", pacing)
    slices.submit(pool, *["customers"] * 4)
    slices.wait_for(1)
    for _ in range(3):
        pacing.answer()
    assert pool.load("customers").level == 2
    slices.release.set()
    pool._threadpool.shutdown(wait=True)


@pytest.mark.parametrize(("waiting", "level"), [(9, 2), (10, 1)])
def test_given_records_waiting_for_output_when_a_stream_could_grow_then_it_grows_unless_the_queue_is_full(
    pool: FairThreadPool, waiting: int, level: int
) -> None:
    slices, pacing = Slices(), FakePacing()
    _pace(pool, "customers", pacing)
    slices.submit(pool, *["customers"] * 3)
    slices.wait_for(1)
    for _ in range(waiting):
        pool._output.put("record")  # the queue holds 10
    pacing.answer()
    assert pool.load("customers").level == level
    slices.release.set()


@pytest.mark.parametrize("held_back", [True, False])
def test_given_real_pacing_when_a_request_is_answered_then_throttled_says_whether_a_limit_held_it_back(
    held_back: bool,
) -> None:
    layer = Mock()
    layer.saturated.return_value = True
    budget = Mock()
    budget.clock = FakeClock()
    budget.acquire.return_value = layer if held_back else None
    pacing = Pacing(budget)
    request = Mock()
    assert not pacing.throttled()
    pacing.acquire_call(request)
    pacing.update_from_response(request, Mock())
    assert pacing.throttled() is held_back
    assert pacing.answered == 1
    layer.saturated.return_value = False  # another stream sharing the limit ended: it has room again
    assert not pacing.throttled()


def test_given_requests_that_wait_as_long_as_they_take_when_answered_then_half_the_time_is_waiting() -> None:
    budget = Mock()
    budget.clock = FakeClock()
    budget.acquire.side_effect = lambda *_: budget.clock.sleep(0.05)
    pacing = Pacing(budget)
    answer = requests.Response()
    answer.elapsed = timedelta(seconds=0.05)
    for _ in range(3):
        pacing.acquire_call(Mock())
        pacing.update_from_response(Mock(), answer)
    assert pacing.waiting_share == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(("waiting_share", "level_after"), [(0.8, 2), (0.5, 3)])
def test_given_a_held_back_stream_when_a_slice_ends_while_another_waits_for_a_worker_then_it_gives_up_a_spare(
    pool: FairThreadPool, waiting_share: float, level_after: int
) -> None:
    slices, gate = Slices(), threading.Event()
    _pace(pool, "ledger", FakePacing(waiting_for_budget=True, waiting_share=waiting_share))
    _pace(pool, "plans", FakePacing())
    pool._lanes["ledger"].level = 3
    pool._lanes["plans"].level = 2
    pool.submit(lambda _: gate.wait(WAIT), _partition("ledger"))
    slices.submit(pool, "ledger", "ledger", "plans")
    slices.wait_for(3)
    slices.submit(pool, "plans")  # all 4 workers busy: plans waits below its level
    gate.set()  # one ledger slice ends
    assert slices.wait_for(4) == ["ledger", "ledger", "plans", "plans"]
    # 3 workers waiting 80% of their time wait 2.4 workers' time: 2 would read as fast, so the ledger gives
    # the spare back. At 50%, 1.5 workers' time: it keeps its level (alone on its limit, no other
    # held-back stream asks for an even share), and reads at 3 again once a worker is free.
    assert pool.load("ledger").level == level_after
    slices.release.set()


def test_given_a_held_back_stream_with_a_spare_when_no_stream_waits_for_a_worker_then_it_keeps_its_level(
    pool: FairThreadPool,
) -> None:
    slices = Slices()
    _pace(pool, "ledger", FakePacing(waiting_for_budget=True, waiting_share=0.8))
    pool._lanes["ledger"].level = 3
    slices.submit(pool, *["ledger"] * 2)
    slices.wait_for(2)
    ended: list[Partition] = []
    pool.submit(ended.append, _partition("ledger"))
    list(pool._futures)[-1].result(WAIT)
    _settle(pool, "ledger", 2)
    assert pool.load("ledger").level == 3  # two workers free: the spare absorbs answers that come late
    slices.release.set()


def test_given_streams_held_back_by_a_shared_limit_when_a_slice_of_the_busiest_ends_then_it_yields_a_worker(
    pool: FairThreadPool,
) -> None:
    slices = Slices()
    busy, quiet = FakePacing(waiting_for_budget=True), FakePacing(waiting_for_budget=True)
    _pace(pool, "customers", busy)
    _pace(pool, "invoices", quiet)
    pool._lanes["customers"].level = 2
    slices.submit(pool, "invoices")
    slices.submit(pool, "customers")
    slices.wait_for(2)
    done: list[Partition] = []
    pool.submit(done.append, _partition("customers"))
    for future in list(pool._futures)[2:]:
        future.result(WAIT)
    _settle(pool, "customers", 1)
    # customers (2 slices) was above the held-back streams' median (invoices: 1): its ended slice is not
    # replaced, so both now read with one slice each and share the limit equally.
    assert pool.load("customers").level == 1
    assert pool.load("invoices").level == 1
    slices.release.set()


def test_given_streams_sharing_a_limit_when_one_with_fewer_slices_is_answered_then_it_catches_up() -> None:
    pool = FairThreadPool(6, logging.getLogger("test"), Queue(maxsize=10))
    slices = Slices()
    pacings = {name: FakePacing(waiting_for_budget=True) for name in ("charges", "refunds", "prices")}
    for name, pacing in pacings.items():
        _pace(pool, name, pacing)
    pool._lanes["charges"].level = 2
    pool._lanes["refunds"].level = 2
    slices.submit(pool, *("charges", "charges", "refunds", "refunds", "prices", "prices"))
    slices.wait_for(5)  # prices reads one slice, its second waits
    pacings["prices"].answer()
    # Held back like the others, but with half their share of the limit: it grows to their level.
    assert slices.wait_for(6) == ["charges", "charges", "prices", "prices", "refunds", "refunds"]
    assert pool.load("prices").level == 2
    slices.release.set()
    pool._threadpool.shutdown(wait=True)
