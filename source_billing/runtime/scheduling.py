"""Which slice a free worker reads next: the rate budgets decide, not the order slices were generated in.

The CDK's thread pool runs slices first come, first served, and a worker holds its slice until the slice's
last page. When the first hundred slices queued belong to one endpoint (Stripe's 25/s, Orb's 10/s
ledger), every worker ends up waiting in that endpoint's budget while the other endpoints, with room to
spare, wait for a worker. `FairThreadPool` hands the workers out instead:

- each stream has a level: how many of its slices may be in flight. It starts at one and grows by one
  (at most every `GROWTH_INTERVAL_SECONDS` / level, so a stream far from its need doubles quickly) when
  one of the stream's requests is answered while the stream uses its whole level, unless a limit that
  gives out nearly all its slots has just held its requests back (`Pacing.throttled`: it reads as fast as
  its limits allow, and another worker would only wait). So each stream settles at what its budget and the
  API's latency call for, and the other workers stay free for the streams with room to spare. A slice
  that ends is replaced, so a stream keeps its level;
- round robin over the streams below their level, so no stream's backlog blocks another's.

Partition generators and other tasks run as they come, within the same worker count. These two rules are
the ones `make bench-ablation` showed earn their place (README); four more (even shares of a shared limit,
spare workers given back, no growth while answers slow down or while the output queue is full) did not
and were removed.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from airbyte_cdk.sources.concurrent_source.thread_pool_manager import ThreadPoolManager
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition

from source_billing.http.budget import Pacing

# A stream's level grows by one at most every GROWTH_INTERVAL_SECONDS / level: at one slice in flight, a
# tenth of a second shows what the last worker added in the budget before the next is added; at ten, the
# same tenth of a second sees ten answers.
GROWTH_INTERVAL_SECONDS = 0.1

Task = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...]]


class Load(NamedTuple):
    """What a stream has of the workers: `in_flight` slices read now, of the `level` it may have."""

    level: int
    in_flight: int


@dataclass
class _Lane:
    """One stream's slices: those waiting for a worker, and how many may be in flight."""

    pacing: Pacing | None = None
    waiting: deque[Task] = field(default_factory=deque)
    in_flight: int = 0
    level: int = 1
    answered_at_growth: int = 0
    changed_at: float = -math.inf


class FairThreadPool(ThreadPoolManager):
    """A `ThreadPoolManager` that starts a slice only when its stream can use another worker.

    It implements each public method of the base (`submit`, `check_for_errors_and_shutdown` and
    `prune_to_validate_has_reached_futures_limit`, which the concurrent source calls, and `is_done`) on its
    own executor and futures, so it relies on none of the base class's private members."""

    def __init__(self, workers: int, logger: logging.Logger) -> None:
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workerpool")
        super().__init__(executor, logger)
        self._executor = executor
        self._submitted: list[Future[Any]] = []
        self._workers = workers
        self._lanes: dict[str, _Lane] = {}
        # The lanes with slices waiting, in round-robin order.
        self._queued: OrderedDict[str, _Lane] = OrderedDict()
        self._others: deque[Task] = deque()
        self._running = 0
        self._dispatch_lock = threading.Lock()

    @property
    def workers(self) -> int:
        """How many tasks run at once."""
        return self._workers

    def load(self, stream: str) -> Load:
        """The stream's level and slices in flight (a stream the pool has not seen: level 1, none)."""
        with self._dispatch_lock:
            lane = self._lanes.get(stream)
            return Load(1, 0) if lane is None else Load(lane.level, lane.in_flight)

    def pace(self, stream: str, pacing: Pacing) -> None:
        """Schedule the slices of `stream` by what its requests meet in the rate budget."""
        with self._dispatch_lock:
            self._lanes.setdefault(stream, _Lane()).pacing = pacing
        pacing.on_answer(partial(self._answered, stream))

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        future: Future[Any] = Future()
        with self._dispatch_lock:
            self._submitted.append(future)
            if args and isinstance(args[0], Partition):
                stream = args[0].stream_name()
                lane = self._lanes.setdefault(stream, _Lane())
                lane.waiting.append((future, function, args))
                self._queued.setdefault(stream, lane)
            else:
                self._others.append((future, function, args))
            self._dispatch()

    def _answered(self, stream: str) -> None:
        """After each answer to one of the stream's requests: grow its level if it could use more."""
        with self._dispatch_lock:
            lane = self._lanes[stream]
            pacing = lane.pacing
            if (
                pacing is not None
                and lane.in_flight >= lane.level
                and lane.level < self._workers
                and pacing.answered > lane.answered_at_growth
                and time.monotonic() - lane.changed_at >= GROWTH_INTERVAL_SECONDS / lane.level
                and not pacing.throttled()
            ):
                lane.level += 1
                lane.answered_at_growth = pacing.answered
                lane.changed_at = time.monotonic()
            self._dispatch()

    def _dispatch(self) -> None:
        """Start what may start now (with the lock held)."""
        while self._running < self._workers:
            picked = self._next()
            if picked is None:
                return
            lane, task = picked
            self._running += 1
            if lane is not None:
                lane.in_flight += 1
            self._executor.submit(self._run, lane, task)

    def _next(self) -> tuple[_Lane | None, Task] | None:
        if self._others:
            return None, self._others.popleft()
        for stream, lane in self._queued.items():
            if lane.in_flight < lane.level:
                task = lane.waiting.popleft()
                # Round robin: the stream served goes to the back of the line.
                self._queued.move_to_end(stream)
                if not lane.waiting:
                    del self._queued[stream]
                return lane, task
        return None

    def _run(self, lane: _Lane | None, task: Task) -> None:
        future, function, args = task
        try:
            if future.set_running_or_notify_cancel():
                try:
                    result = function(*args)
                except BaseException as error:  # handed to the future, as ThreadPoolExecutor does
                    future.set_exception(error)
                else:
                    future.set_result(result)
        finally:
            with self._dispatch_lock:
                if lane is not None:
                    lane.in_flight -= 1
                self._running -= 1
                self._dispatch()

    def prune_to_validate_has_reached_futures_limit(self) -> bool:
        """Whether as many tasks wait or run as the CDK lets partition generation queue (it pauses then);
        at that many, the tasks that ended without an error are forgotten first."""
        with self._dispatch_lock:
            if len(self._submitted) >= self.DEFAULT_MAX_QUEUE_SIZE:
                self._submitted = [future for future in self._submitted if not _ended_well(future)]
            return len(self._submitted) >= self.DEFAULT_MAX_QUEUE_SIZE

    def is_done(self) -> bool:
        """Whether every task submitted has ended."""
        with self._dispatch_lock:
            return all(future.done() for future in self._submitted)

    def check_for_errors_and_shutdown(self) -> None:
        """At the end of a read: wait for every task (as the CDK's check does), stop the workers, then
        raise what the tasks raised."""
        with self._dispatch_lock:
            submitted = list(self._submitted)
        errors = [future.exception() for future in submitted if not future.cancelled()]
        self._stop()
        if raised := [error for error in errors if error is not None]:
            raise RuntimeError(f"Failed reading with errors: {raised}")

    def _stop(self) -> None:
        with self._dispatch_lock:
            for future, _, _ in itertools.chain(
                self._others, *(lane.waiting for lane in self._queued.values())
            ):
                future.cancel()
            self._others.clear()
            self._queued.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _ended_well(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None
