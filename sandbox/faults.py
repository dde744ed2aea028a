"""Fault injection and rate limiting, shared by the three API emulators.

Faults model the infrastructure between a client and the API (errors, dropped connections, slow or
broken bodies); rate limits model each vendor's documented budget. Both are deterministic: faults draw
from a seeded generator in request order, and limits depend only on request timing.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("500", "502", "503", "drop", "timeout", "malformed", "truncated", "429")


@dataclass
class FaultConfig:
    """What to inject; see ``POST /_control/faults``.

    Attributes:
        rate: Probability (0..1) that one API request gets a fault.
        kinds: Fault kinds to pick from (uniformly).
        seed: Seed of the generator that decides which requests fail and how.
        retry_after: ``Retry-After`` seconds on injected 429s.
        burst_429: The next N API requests all get 429 (counts down).
        apis: Limit faults to these APIs (empty = all).
        paths: Limit faults to paths matching one of these regexes (empty = all).
        hang: Accept every API request and never answer (until the server stops or faults are cleared).
        timeout_seconds: How long a ``timeout`` fault holds the request before answering.
    """

    rate: float = 0.0
    kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    seed: int = 1
    retry_after: int = 1
    burst_429: int = 0
    apis: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    hang: bool = False
    timeout_seconds: float = 30.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        """Build a config from the control API body, validating every field.

        Args:
            data: The decoded JSON body.

        Returns:
            The config.

        Raises:
            ValueError: On unknown keys, unknown kinds, bad regexes or out-of-range numbers.
        """
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        config = cls(**data)
        config.kinds = [str(kind) for kind in config.kinds]
        bad = [kind for kind in config.kinds if kind not in FAULT_KINDS]
        if bad or not config.kinds:
            raise ValueError(f"fault kinds must be a non-empty subset of {list(FAULT_KINDS)}; got {bad}")
        if not 0.0 <= float(config.rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        for pattern in config.paths:
            re.compile(pattern)
        if config.burst_429 < 0 or config.retry_after < 0 or config.timeout_seconds < 0:
            raise ValueError("burst_429, retry_after and timeout_seconds must not be negative")
        return config

    def to_json(self) -> dict[str, Any]:
        """Return the config as a JSON-compatible dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class FaultInjector:
    """Decides, request by request, whether and how to fail.

    Args:
        config: Initial configuration (no faults when None).
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._rng = random.Random(self._config.seed)
        self._patterns = [re.compile(pattern) for pattern in self._config.paths]
        self.cleared = threading.Event()

    @property
    def config(self) -> FaultConfig:
        """The active configuration."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration and restart the seeded sequence.

        Args:
            config: The new configuration.
        """
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._patterns = [re.compile(pattern) for pattern in config.paths]
            # Wake requests held by a previous ``hang`` so clearing faults frees them.
            self.cleared.set()
            self.cleared = threading.Event()

    def clear(self) -> None:
        """Remove all faults."""
        self.configure(FaultConfig())

    def decide(self, api: str, path: str) -> str | None:
        """Pick the fault for one API request, if any.

        Args:
            api: ``stripe``, ``orb`` or ``integrator``.
            path: The path below the API prefix.

        Returns:
            ``"hang"``, a kind from ``FAULT_KINDS``, or None for a normal answer.
        """
        with self._lock:
            config = self._config
            if config.apis and api not in config.apis:
                return None
            if self._patterns and not any(pattern.search(path) for pattern in self._patterns):
                return None
            if config.hang:
                return "hang"
            if config.burst_429 > 0:
                config.burst_429 -= 1
                return "429"
            if config.rate <= 0:
                return None
            # Two draws per matching request, always, so the sequence depends only on request order.
            roll = self._rng.random()
            kind = config.kinds[self._rng.randrange(len(config.kinds))]
            return kind if roll < config.rate else None


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds (a sliding log).

    Args:
        limit: Events allowed per window.
        window: Window length in seconds.
    """

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        events = self._events
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        return events[0] + self.window - now

    def record(self, now: float) -> None:
        """Count one event at ``now``."""
        self._events.append(now)


class TokenBucket:
    """A bucket of ``capacity`` tokens refilled at ``rate`` tokens per second.

    Args:
        capacity: Burst size.
        rate: Refill per second.
    """

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self._tokens = capacity
        self._stamp = time.monotonic()

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def record(self, now: float) -> None:
        """Take one token (``wait_time`` must have been called just before)."""
        self._tokens -= 1.0


@dataclass(frozen=True)
class Limit:
    """One budget a request counts against.

    Attributes:
        key: Identifies the budget (e.g. ``stripe:acct_sandbox:test:/v1/customers``).
        rate: Requests per second.
        burst: Bucket size for token buckets; 0 means a sliding 1-second window of ``rate``.
    """

    key: str
    rate: float
    burst: float = 0.0


class RateLimiter:
    """All budgets of all APIs; a request passes only if every budget it names has room.

    Args:
        enabled: Whether limits are enforced at all (``--rate-limits``).
    """

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._meters: dict[str, SlidingWindow | TokenBucket] = {}

    def check(self, limits: list[Limit]) -> int | None:
        """Count a request against its budgets.

        Args:
            limits: The budgets this request uses.

        Returns:
            None when the request may proceed (it is then counted everywhere), otherwise the whole
            seconds a client should wait (for ``Retry-After``; at least 1).
        """
        if not self.enabled or not limits:
            return None
        now = time.monotonic()
        with self._lock:
            meters = [self._meter(limit) for limit in limits]
            wait = max(meter.wait_time(now) for meter in meters)
            if wait > 0:
                return max(1, math.ceil(wait))
            for meter in meters:
                meter.record(now)
            return None

    def reset(self) -> None:
        """Forget all counted requests."""
        with self._lock:
            self._meters.clear()

    def _meter(self, limit: Limit) -> SlidingWindow | TokenBucket:
        meter = self._meters.get(limit.key)
        if meter is None:
            meter = TokenBucket(limit.burst, limit.rate) if limit.burst else SlidingWindow(int(limit.rate))
            self._meters[limit.key] = meter
        return meter
