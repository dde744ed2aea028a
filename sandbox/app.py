"""The sandbox as one object: options, clock, data of the three APIs, faults, limits and the log."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox.clock import Clock
from sandbox.faults import FAULT_KINDS, FaultConfig, FaultInjector, RateLimiter
from sandbox.integrator_api import IntegratorApi
from sandbox.orb_api import OrbApi
from sandbox.request_log import RequestLog, Stats
from sandbox.seed import Scales
from sandbox.store import JsonObject
from sandbox.stripe_api import StripeApi
from sandbox.wire import ApiRequest, ApiResponse


class Emulator(Protocol):
    """What the HTTP server needs from an API emulator."""

    name: str

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request (auth, limits and errors included)."""
        ...

    def error(self, status: int, retry_after: int) -> ApiResponse:
        """An injected 5xx or 429 in this API's error shape."""
        ...

    def control_objects(self, resource: str, account: str | None) -> list[JsonObject]:
        """All current objects of a resource (children across all parents), in list order."""
        ...

    def control_create(self, resource: str, fields: dict[str, Any], account: str | None) -> JsonObject:
        """Create an object from ``fields`` (ids generated) and return it."""
        ...

    def control_update(
        self, resource: str, object_id: str, fields: dict[str, Any], account: str | None
    ) -> JsonObject:
        """Merge fields into an object and return it."""
        ...

    def control_delete(self, resource: str, object_id: str, account: str | None) -> JsonObject:
        """Delete an object and return it as it was."""
        ...


@dataclass
class SandboxOptions:
    """Everything the command line can set.

    Attributes:
        host: Loopback address to bind.
        port: Port (0 = any free port).
        seed: Seed of all generated data.
        scale: Objects per top-level resource.
        scale_for: Per-resource overrides, ``"api.resource" -> count``.
        latency_ms: Delay added to every API request.
        rate_limits: Enforce the vendors' documented rate limits.
        fault_rate: Share of API requests that get a fault.
        fault_kinds: Kinds of faults to inject.
        fault_seed: Seed of the fault sequence.
        integrator_page_size: Items per integrator.io page before a ``Link`` header.
        now: Fixed start time (epoch seconds) instead of the real time.
        max_seconds: Stop by itself after this long (None = run until stopped).
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    scale: int = 200
    scale_for: dict[str, int] = field(default_factory=dict)
    latency_ms: float = 0.0
    rate_limits: bool = False
    fault_rate: float = 0.0
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    fault_seed: int = 1
    integrator_page_size: int = 1000
    now: float | None = None
    max_seconds: float | None = None

    @property
    def scales(self) -> Scales:
        """The object counts as a ``Scales`` value."""
        return Scales(self.scale, dict(self.scale_for))


class Sandbox:
    """State shared by all request handlers.

    Args:
        options: The options to start with.
    """

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.clock = Clock(options.now)
        self.limiter = RateLimiter(options.rate_limits)
        self.faults = FaultInjector(
            FaultConfig(rate=options.fault_rate, kinds=list(options.fault_kinds), seed=options.fault_seed)
        )
        self.log = RequestLog()
        self.stats = Stats()
        self.latency_ms = options.latency_ms
        self.stopping = threading.Event()
        scales = options.scales
        self.apis: dict[str, Emulator] = {
            "stripe": StripeApi(options.seed, scales, self.clock, self.limiter),
            "orb": OrbApi(options.seed, scales, self.clock, self.limiter),
            "integrator": IntegratorApi(
                options.seed, scales, self.clock, self.limiter, options.integrator_page_size
            ),
        }
