"""The worker pool that hands workers to the streams whose rate budgets have room."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from queue import Queue
from typing import Any
from unittest.mock import Mock

import pytest
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition

from source_billing.http.budget import Pacing
from source_billing.runtime import scheduling
from source_billing.runtime.scheduling import FairThreadPool
from unit_tests.test_budget import FakeClock

WAIT = 5.0


@dataclass
class FakePacing:
    """What the pool reads of a stream's pacing: answers so far, and whether it waits for its budget."""

    answered: int = 0
    waiting_for_budget: bool = False
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def on_answer(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def throttled(self) -> bool:
        return self.waiting_for_budget

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
def slices() -> Slices:
    return Slices()


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch, slices: Slices) -> Iterator[FairThreadPool]:
    monkeypatch.setattr(scheduling, "GROWTH_INTERVAL_SECONDS", 0.0)
    pool = FairThreadPool(4, logging.getLogger("test"))
    yield pool
    _finish(pool, slices)


def _finish(pool: FairThreadPool, slices: Slices) -> None:
    """Release the slices, wait for every task (the CDK's check blocks on each one) and shut down."""
    slices.release.set()
    pool.check_for_errors_and_shutdown()


def _pace(pool: FairThreadPool, stream: str, pacing: FakePacing) -> None:
    pool.pace(stream, pacing)  # the pool reads only what FakePacing has


def test_given_one_stream_queued_first_when_workers_free_then_each_stream_starts_one_slice(
    pool: FairThreadPool, slices: Slices
) -> None:
    slices.submit(pool, *["customers"] * 6 + ["invoices"] * 2)
    assert slices.wait_for(2) == ["customers", "invoices"]
    slices.release.set()
    assert slices.wait_finished(8) == 8


def test_given_answers_without_waiting_when_a_stream_uses_its_level_then_it_gets_another_worker(
    pool: FairThreadPool, slices: Slices
) -> None:
    pacing = FakePacing()
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
    pool: FairThreadPool, slices: Slices
) -> None:
    throttled = FakePacing(waiting_for_budget=True)
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
    read: Queue[Partition] = Queue()
    _pace(pool, "ledger", FakePacing(waiting_for_budget=True))
    partitions = [_partition("ledger") for _ in range(3)]
    for partition in partitions:
        pool.submit(read.put, partition)
    assert [read.get(timeout=WAIT) for _ in partitions] == partitions


def test_given_a_task_that_raises_when_run_then_the_cdk_check_raises_its_error() -> None:
    pool = FairThreadPool(2, logging.getLogger("test"))

    def fail(_: Any) -> None:
        raise ValueError("boom")

    pool.submit(fail, _partition("customers"))
    with pytest.raises(RuntimeError, match="boom"):
        pool.check_for_errors_and_shutdown()  # waits for the task, as the CDK's end of a read does


def test_given_answers_in_quick_succession_when_a_stream_could_grow_then_it_grows_once_per_interval() -> None:
    pool = FairThreadPool(4, logging.getLogger("test"))
    slices, pacing = Slices(), FakePacing()
    _pace(pool, "customers", pacing)
    slices.submit(pool, *["customers"] * 4)
    slices.wait_for(1)
    for _ in range(3):
        pacing.answer()
    assert pool.load("customers").level == 2
    _finish(pool, slices)


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


def test_given_tasks_when_they_end_then_is_done_and_the_futures_limit_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(FairThreadPool, "DEFAULT_MAX_QUEUE_SIZE", 2)
    pool, gate = FairThreadPool(1, logging.getLogger("test")), threading.Event()
    pool.submit(gate.wait, WAIT)
    pool.submit(lambda: None)  # waits for the one worker
    assert not pool.is_done()
    assert pool.prune_to_validate_has_reached_futures_limit()  # two tasks wait or run: the limit
    gate.set()
    pool.check_for_errors_and_shutdown()  # waits for both
    assert pool.is_done()
    assert not pool.prune_to_validate_has_reached_futures_limit()  # both ended well: forgotten
