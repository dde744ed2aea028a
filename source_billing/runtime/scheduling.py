"""Which slice a free worker reads next: the rate budgets decide, not the order slices were generated in.

The CDK's thread pool runs slices first come, first served, and a worker holds its slice until the slice's
last page. When the first hundred slices queued belong to one endpoint (Stripe's 25/s, Orb's 10/s
ledger), every worker ends up waiting in that endpoint's budget while the other endpoints and APIs, with
room to spare, wait for a worker. `FairThreadPool` hands the workers out instead:

- each stream has a level: how many of its slices may be in flight. It starts at one and grows by one
  (at most every `GROWTH_INTERVAL_SECONDS` / level, so a stream far from its need doubles quickly) when
  one of the stream's requests is answered while the stream uses its whole level, unless another worker
  would not make it faster: a limit that gives out nearly all its slots has just held its requests back
  (`Pacing.throttled`: it reads as fast as its limits allow), its answers take much longer than its first
  ones (`Pacing.congested`: the API or this process is the bound), or the output queue is full (the
  records wait for the main thread to write them). So each stream settles at what its budget and the
  API's latency call for, and the other workers stay free for the streams and APIs with room to spare.
  A slice that ends is replaced, so a stream keeps its level, unless the stream is held back and either
  has a worker to spare while another stream waits for one, or is above the median level of the streams
  held back by the same limit (`_yield_share`; one below that median grows even while held back);
- round robin over the streams below their level, so no stream's backlog blocks another's.

Partition generators and other tasks run as they come, within the same worker count.
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
from queue import Queue
from typing import Any, NamedTuple

from airbyte_cdk.sources.concurrent_source.thread_pool_manager import ThreadPoolManager
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition

from source_billing.http.budget import Pacing

# A stream's level grows by one at most every GROWTH_INTERVAL_SECONDS / level: at one slice in flight, a
# tenth of a second shows what the last worker added in the budget (and in the output queue) before the
# next is added; at ten, the same tenth of a second sees ten answers.
GROWTH_INTERVAL_SECONDS = 0.1

# A held-back stream whose workers together spent this many workers' time waiting for the budget has one
# to spare: one fewer would still read as fast. It gives it back (one at most every SHRINK_INTERVAL_SECONDS)
# only when another stream waits for a worker: until then the spare absorbs answers that come late.
SPARE_WORKERS = 2
SHRINK_INTERVAL_SECONDS = 0.05

# How long the output queue counts as backed up after it was seen full.
BACKED_UP_SECONDS = 0.2

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
    """A `ThreadPoolManager` that starts a slice only when its stream can use another worker."""

    def __init__(self, workers: int, logger: logging.Logger, output: Queue[Any]) -> None:
        super().__init__(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workerpool"), logger)
        self._workers = workers
        self._output = output
        self._backed_up_at = -math.inf
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
        self._futures.append(future)
        with self._dispatch_lock:
            if args and isinstance(args[0], Partition):
                stream = args[0].stream_name()
                lane = self._lanes.setdefault(stream, _Lane())
                lane.waiting.append((future, function, args))
                self._queued.setdefault(stream, lane)
            else:
                self._others.append((future, function, args))
            self._dispatch()

    def _answered(self, stream: str) -> None:
        """After each answer to one of the stream's requests: grow its level if it could use more, or if
        it is held back by a limit it shares and has fewer slices in flight than most streams held back
        by the same limit (its share of the limit's requests is smaller than theirs)."""
        with self._dispatch_lock:
            lane = self._lanes[stream]
            pacing = lane.pacing
            if (
                pacing is not None
                and lane.in_flight >= lane.level
                and lane.level < self._workers
                and pacing.answered > lane.answered_at_growth
                and time.monotonic() - lane.changed_at >= GROWTH_INTERVAL_SECONDS / lane.level
                and (not pacing.throttled() or lane.level < self._held_median(pacing))
                and not pacing.congested()
                and not self._output_backed_up()
            ):
                lane.level += 1
                lane.answered_at_growth = pacing.answered
                lane.changed_at = time.monotonic()
            self._dispatch()

    def _output_backed_up(self) -> bool:
        """Whether records waited for the main thread to write them in the last moment: then more workers
        would only hold more pages in memory, not read faster."""
        now = time.monotonic()
        if self._output.qsize() >= self._output.maxsize > 0:
            self._backed_up_at = now
        return now - self._backed_up_at < BACKED_UP_SECONDS

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
            self._threadpool.submit(self._run, lane, task)

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
                    self._yield_share(lane)  # while this worker still counts as busy
                    lane.in_flight -= 1
                self._running -= 1
                self._dispatch()

    def _yield_share(self, lane: _Lane) -> None:
        """When a slice of a held-back stream ends, it is not replaced if the stream has a worker to spare
        while another stream waits for one: its workers together spent at least `SPARE_WORKERS` workers'
        time waiting for the budget, so one fewer would read as fast. Nor is it replaced if the stream has
        more slices in flight than most other streams held back by the same limit: streams sharing a limit
        (Stripe's 100/s per account) get its requests in proportion to their slices in flight, so equal
        levels share it equally and the streams finish together instead of one ending alone at its
        endpoint's 25/s."""
        pacing = lane.pacing
        if pacing is None or lane.level <= 1 or not pacing.throttled():
            return
        if lane.level * pacing.waiting_share >= SPARE_WORKERS and self._starved():
            now = time.monotonic()
            if now - lane.changed_at >= SHRINK_INTERVAL_SECONDS:
                lane.level -= 1
                lane.changed_at = now
            return
        if lane.level > self._held_median(pacing):
            lane.level -= 1

    def _held_median(self, pacing: Pacing) -> float:
        """The (lower) median level of the streams reading that are held back by the same limit as this
        one (infinite when none is)."""
        held = sorted(
            other.level
            for other in self._lanes.values()
            if other.in_flight
            and other.pacing is not None
            and other.pacing.held_by is pacing.held_by
            and other.pacing.throttled()
        )
        return held[(len(held) - 1) // 2] if held else math.inf

    def _starved(self) -> bool:
        """Whether every worker is busy while a stream below its level has slices waiting."""
        return self._running >= self._workers and any(
            other.in_flight < other.level for other in self._queued.values()
        )

    def _shutdown(self) -> None:
        with self._dispatch_lock:
            for future, _, _ in itertools.chain(
                self._others, *(lane.waiting for lane in self._queued.values())
            ):
                future.cancel()
            self._others.clear()
            self._queued.clear()
        super()._shutdown()
