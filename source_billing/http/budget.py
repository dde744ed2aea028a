"""Rate budgets with several layers: a request spends from every limit that matches it.

The CDK's `APIBudget` applies only the first matching policy, but Stripe limits requests per account
and, at the same time, per endpoint; Orb limits its ledger and usage endpoints apart from the rest. Here a
request waits until each matching layer has room, so a sync runs just under every documented limit
instead of provoking 429s.

Each layer is an even schedule (`Spacing`): a request books the layer's next free slot and sleeps until
it, so requests leave evenly spaced at the limit's rate, without bursts at the start of each second and
without a herd of sleeping workers waking at once to compete for the same freed slot.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from airbyte_cdk.sources.streams.call_rate import (
    AbstractCallRatePolicy,
    APIBudget,
    CallRateLimitHit,
    HttpAPIBudget,
)

# Requests leave the client spaced by the budget but reach the API with network jitter; counting each second
# as a little longer keeps the API's own one-second count under its limit instead of provoking 429s.
BUDGET_SECOND = timedelta(seconds=1.05)
# A request is held back by a layer when it waited longer than one slot for a layer that gave out at least
# SATURATED of its slots lately (over SATURATION_SECONDS, and at least SATURATION_SLOTS slots); the stream
# then counts as held back for THROTTLED_SECONDS. A wait alone could be a burst of requests well below the
# limit.
SATURATED = 0.97
SATURATION_SECONDS = 0.25
SATURATION_SLOTS = 10
THROTTLED_SECONDS = 0.25
# After each 429 a layer spaces its slots SLOWER_AFTER_429 times more, up to SLOWEST times its nominal; the
# extra spacing halves every RECOVERY_HALF_LIFE_SECONDS without another 429 (the jitter that bunched the
# requests, such as a moment of CPU contention, passes). In seconds whatever the limit: every limit counts a
# one-second window, so each has the same 50 ms of room for jitter (`BUDGET_SECOND`). Counted in slots
# (500), Orb's 10/s ledger took 52 s to recover from two 429s at its start, reading up to 4% slower.
SLOWER_AFTER_429 = 1.02
SLOWEST = 1.2
RECOVERY_HALF_LIFE_SECONDS = 5.0
# A window-based layer never lets its `per_second` + 1 latest requests leave within GATE_SECONDS: the API's
# one-second window, plus 20 ms for the jitter of the way there. The schedule alone spaces slots, but a
# request can leave late for its slot (it waited for another layer's slot, or for the interpreter lock)
# while the next ones leave on time: at Orb's 10/s ledger, 11 requests then reached the API within a second.
GATE_SECONDS = 1.02
# Request URLs whose matching layers are remembered (paths with ids repeat per parent object).
MATCHES_CACHED = 4096


class Clock(Protocol):
    """Where the limits read the time and wait: the `time` module, or a test's clock."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


@dataclass(frozen=True)
class Limit:
    """At most `per_second` requests per second, together, to the endpoint templates given (such as
    `/v1/customers/{id}/sources`, relative to the API root), or to the whole API when none is given.

    `bucket`: the API counts requests in a bucket of that many, refilled at `per_second` (not per second of
    its clock). Jitter cannot overrun a bucket that the requests do not drain, so its slots come exactly
    `per_second` a second instead of per `BUDGET_SECOND`."""

    per_second: int
    endpoints: tuple[str, ...] = ()
    bucket: int = 0


def endpoint_pattern(prefix: str, templates: tuple[str, ...]) -> str:
    """A regex over URL paths: the API root's path prefix, then one of the endpoint templates."""
    if not templates:
        return "^" + re.escape(prefix) + "/"
    alternatives = []
    for template in templates:
        parts = re.split(r"\{[^}]+\}", template)
        alternatives.append("[^/]+".join(re.escape(part) for part in parts))
    return "^" + re.escape(prefix) + "(?:" + "|".join(alternatives) + ")$"


class Spacing:
    """One limit as an even schedule: each request gets the next free slot, `BUDGET_SECOND / per_second`
    after the one before, and also waits until the limit lets it leave (`depart`). A `bucket` limit (see
    `Limit`) spaces its slots one second / `per_second` apart and has no departure check. Thread-safe."""

    def __init__(self, per_second: int, path: str, bucket: bool = False, clock: Clock = time) -> None:
        self.per_second = per_second
        self.path = re.compile(path)
        # When the requests of the last `GATE_SECONDS` left, for `depart` (none kept for a bucket).
        self._departures: deque[float] | None = None if bucket else deque()
        self._nominal = (1.0 if bucket else BUDGET_SECOND.total_seconds()) / per_second
        self.interval = self._nominal
        self._slowed_at = 0.0
        self._next = -math.inf
        self._first = math.inf
        # The slots booked lately (and ahead), oldest first.
        self._booked: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock

    def reserve(self) -> float:
        """Book the next free slot: the seconds to wait for it (0 when one is free now)."""
        with self._lock:
            now = self._clock.monotonic()
            slot = max(now, self._next)
            self._book(slot, now)
            return slot - now

    def _book(self, slot: float, now: float) -> None:
        if self.interval > self._nominal:
            recovered = 0.5 ** ((now - self._slowed_at) / RECOVERY_HALF_LIFE_SECONDS)
            self.interval = self._nominal + (self.interval - self._nominal) * recovered
            self._slowed_at = now
        self._next = slot + self.interval
        self._first = min(self._first, slot)
        self._booked.append(slot)
        self._forget_before(now)

    def _forget_before(self, now: float) -> float:
        """Drop the bookings older than the window `saturated` looks at; the window."""
        window = max(SATURATION_SECONDS, SATURATION_SLOTS * self.interval)
        while self._booked and self._booked[0] < now - window:
            self._booked.popleft()
        return window

    def saturated(self) -> bool:
        """Whether the layer gave out at least `SATURATED` of its slots lately: over the last
        `SATURATION_SECONDS` or `SATURATION_SLOTS` slots, whichever is longer (or since its first booking,
        if that is more recent, but never less than `SATURATION_SLOTS` slots)."""
        with self._lock:
            now = self._clock.monotonic()
            window = self._forget_before(now)
            if not self._booked:
                return False
            span = max(min(now - self._first, window), SATURATION_SLOTS * self.interval)
            return len(self._booked) * self.interval >= SATURATED * span

    def depart(self) -> float:
        """Count a request as leaving now, unless `per_second` requests left within the last `GATE_SECONDS`:
        then the seconds to wait before asking again (0 once counted)."""
        if self._departures is None:
            return 0.0
        with self._lock:
            now = self._clock.monotonic()
            departures = self._departures
            while departures and departures[0] <= now - GATE_SECONDS:
                departures.popleft()
            if len(departures) >= self.per_second:
                return departures[0] + GATE_SECONDS - now
            departures.append(now)
            return 0.0

    @property
    def departures_remembered(self) -> int:
        """How many departure times the layer holds: those of the last `GATE_SECONDS` only, so a limit
        raised to 100,000/s stays small over a long sync."""
        with self._lock:
            return len(self._departures or ())

    def take_if_free(self) -> bool:
        """Book a slot only if one is free now."""
        with self._lock:
            now = self._clock.monotonic()
            if self._next > now:
                return False
            self._book(now, now)
            return True

    def until_free(self) -> float:
        """The seconds until the next free slot, without booking it."""
        with self._lock:
            return max(0.0, self._next - self._clock.monotonic())

    def pause(self, seconds: float) -> None:
        """Give no slot for the next `seconds`, and space the slots a little more for a while: the API
        answered 429, so requests reach it less evenly than they leave (at most `SLOWEST` times the
        nominal spacing, back to nominal over a few `RECOVERY_HALF_LIFE_SECONDS`)."""
        with self._lock:
            now = self._clock.monotonic()
            self._next = max(self._next, now + seconds)
            self.interval = min(self.interval * SLOWER_AFTER_429, self._nominal * SLOWEST)
            self._slowed_at = now


class LayeredBudget(HttpAPIBudget):
    """An `HttpAPIBudget` whose requests spend from every matching limit, in the order given."""

    def __init__(self, api_base_url: str, limits: Iterable[Limit], clock: Clock = time) -> None:
        super().__init__(policies=[])
        parts = urlsplit(api_base_url)
        self._origin, prefix = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
        self._layers = [
            Spacing(limit.per_second, endpoint_pattern(prefix, limit.endpoints), bool(limit.bucket), clock)
            for limit in limits
        ]
        # Matching runs every layer's regex; a sync repeats the same few hundred URLs (less their query).
        self._matching = lru_cache(maxsize=MATCHES_CACHED)(self._layers_for)
        self.clock = clock

    def _layers_for(self, url: str) -> tuple[Spacing, ...]:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self._origin:
            return ()
        path = parts.path.rstrip("/")
        return tuple(layer for layer in self._layers if layer.path.search(path))

    def matching(self, request: Any) -> tuple[Spacing, ...]:
        """The layers a request spends from, in the order given."""
        return self._matching(str(request.url).partition("?")[0])

    def acquire_call(self, request: Any, block: bool = True, timeout: float | None = None) -> None:
        self.acquire(request, block)

    def acquire(self, request: Any, block: bool = True) -> Spacing | None:
        """Spend from every layer the request matches, waiting for each layer's slot in turn, then until
        each layer lets it leave (`Spacing.depart`); without `block`, raise `CallRateLimitHit` instead of
        waiting. Returns the layer whose limit held the request back, if one did."""
        held_by = None
        layers = self.matching(request)
        for layer in layers:
            if not block:
                if not layer.take_if_free():
                    raise _refused(request, layer, layer.until_free())
                continue
            if (wait := layer.reserve()) > 0:
                # Requests a moment apart wait briefly for each other; a longer wait for a layer that gives
                # out nearly all its slots means its limit, not the latency, bounds the requests.
                if wait > layer.interval and layer.saturated():
                    held_by = layer
                self.clock.sleep(wait)
        for layer in layers:
            while (late := layer.depart()) > 0:
                if not block:
                    raise _refused(request, layer, late)
                self.clock.sleep(late)
        return held_by

    def get_matching_policy(self, request: Any) -> AbstractCallRatePolicy | None:
        return None  # the layers are not CDK policies

    def update_from_response(self, request: Any, response: Any) -> None:
        # A 429 (or a `ratelimit-remaining: 0`) pauses every layer the request belongs to, so all workers
        # pause, not just this one: the API counted a few requests too many in its last second (they
        # reached it bunched by network and scheduling jitter), and a tenth of a second without requests
        # lets its count fall back under the limit. The refused request itself waits as `Retry-After` says.
        if self.get_calls_left_from_response(response) == 0:
            for layer in self.matching(request):
                layer.pause(BUDGET_SECOND.total_seconds() / 10)


def _refused(request: Any, layer: Spacing, wait: float) -> CallRateLimitHit:
    return CallRateLimitHit(
        error="no request slot free now",
        item=request,
        weight=1,
        rate=f"{layer.per_second}/s",
        time_to_wait=timedelta(seconds=wait),
    )


class Pacing(APIBudget):
    """One stream's view of its API's shared budget, which tells the scheduler whether another worker
    would make the stream faster: not when a limit that gives out nearly all its slots holds its requests
    back (`throttled`: it reads as fast as its limits allow)."""

    def __init__(self, budget: LayeredBudget) -> None:
        super().__init__(policies=[])
        self._budget = budget
        self._clock = budget.clock
        self._waited_at = -math.inf
        self._held_by: Spacing | None = None
        self._answered = 0
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_answer(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each answer to one of the stream's requests."""
        with self._lock:
            self._listeners.append(listener)

    def throttled(self) -> bool:
        """Whether one of the stream's requests was held back by a limit in the last moment, and that
        limit still gives out nearly all its slots (once another stream sharing it ends, it has room)."""
        held_by = self._held_by
        return (
            held_by is not None
            and self._clock.monotonic() - self._waited_at < THROTTLED_SECONDS
            and held_by.saturated()
        )

    @property
    def held_by(self) -> Spacing | None:
        """The limit that last held one of the stream's requests back."""
        return self._held_by

    @property
    def answered(self) -> int:
        """How many of the stream's requests were answered so far."""
        return self._answered

    def acquire_call(self, request: Any, block: bool = True, timeout: float | None = None) -> None:
        held_by = self._budget.acquire(request, block)
        if held_by is not None:
            self._held_by, self._waited_at = held_by, self._clock.monotonic()

    def get_matching_policy(self, request: Any) -> AbstractCallRatePolicy | None:
        return self._budget.get_matching_policy(request)

    def update_from_response(self, request: Any, response: Any) -> None:
        self._budget.update_from_response(request, response)
        with self._lock:
            self._answered += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
