"""What each API's rate limits allow for the requests a sync made, and how close the sync came to it.

The ceiling of a sync on one API is defined from the requests the sandbox served (every answer except a
429: a request the limits turned away was not needed, and a retry of it is counted when it is served):

- every served request counts against one or more *budgets*, exactly as the sandbox enforces them:
  Stripe: the account's 100/s (live key; 25/s test) and its endpoint template's 25/s (20/s for search and
  files); Orb: 10/s shared by the ledger and usage endpoints, 100/s for every other endpoint;
  integrator.io: 300/s per token (the sustained refill rate; the bucket's burst of 1,000 is left out);
- `minimum_seconds` = max over budgets b of (requests counted by b) / (rate of b): the shortest time in
  which the limits let those requests through;
- `ceiling_rps` = served requests / `minimum_seconds`; `achieved_rps` = served requests / the span of the
  API's requests (first to last arrival at the sandbox);
- `fraction` = `achieved_rps` / `ceiling_rps` = `minimum_seconds` / span.

With 8 Stripe endpoints of equal weight this is min(100, 25 x 8) = 100 requests/s; with one endpoint
it is 25/s; an Orb sync whose ledger requests outweigh a tenth of its other requests is bound by the
ledger's 10/s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.stripe_routes import match

STRIPE_ACCOUNT_RATE = {"live": 100.0, "test": 25.0}
STRIPE_ENDPOINT_RATE = 25.0
STRIPE_SEARCH_AND_FILES_RATE = 20.0
ORB_LEDGER_AND_USAGE_RATE = 10.0
ORB_OTHER_RATE = 100.0
INTEGRATOR_RATE = 300.0
RATE_LIMITED = 429


@dataclass(frozen=True)
class Budget:
    """One rate limit a request counts against.

    Attributes:
        key: Identifies the limit (`stripe:account`, `stripe:/v1/customers`, `orb:ledger_usage`...).
        per_second: Requests per second it lets through, sustained.
    """

    key: str
    per_second: float


def stripe_budgets(path: str, mode: str = "live") -> tuple[Budget, ...]:
    """The budgets of one Stripe request (path below the API prefix, e.g. `/v1/customers`).

    Args:
        path: The request path.
        mode: `live` or `test`: the key's mode, which sets the account-wide rate.

    Returns:
        The account budget and the endpoint's (search and files have their own 20/s).
    """
    account = Budget("stripe:account", STRIPE_ACCOUNT_RATE[mode])
    route, _ = match(path)
    if route is None:
        return (account,)
    if route.kind == "search":
        return account, Budget("stripe:search", STRIPE_SEARCH_AND_FILES_RATE)
    if route.row is not None and route.row.rate_group:
        return account, Budget(f"stripe:{route.row.rate_group}", STRIPE_SEARCH_AND_FILES_RATE)
    return account, Budget(f"stripe:{route.template}", STRIPE_ENDPOINT_RATE)


def orb_budgets(path: str) -> tuple[Budget, ...]:
    """Orb: the ledger and usage endpoints share 10/s; every other endpoint shares 100/s."""
    if path.endswith(("/credits/ledger", "/usage")):
        return (Budget("orb:ledger_usage", ORB_LEDGER_AND_USAGE_RATE),)
    return (Budget("orb:other", ORB_OTHER_RATE),)


def integrator_budgets(path: str) -> tuple[Budget, ...]:
    """integrator.io: one 300/s bucket per token, whatever the endpoint."""
    return (Budget("integrator", INTEGRATOR_RATE),)


def budgets_for(api: str, path: str, stripe_mode: str = "live") -> tuple[Budget, ...]:
    """The budgets of one request of `api` (`stripe`, `orb` or `integrator`)."""
    if api == "stripe":
        return stripe_budgets(path, stripe_mode)
    if api == "orb":
        return orb_budgets(path)
    if api == "integrator":
        return integrator_budgets(path)
    raise ValueError(f"unknown api {api!r}")


def minimum_seconds(counts: Mapping[Budget, int]) -> float:
    """The shortest time in which every budget lets its requests through: max of count / rate."""
    return max((count / budget.per_second for budget, count in counts.items()), default=0.0)


@dataclass(frozen=True)
class ApiTraffic:
    """What one API saw of one sync, from the sandbox's request log.

    Attributes:
        api: `stripe`, `orb` or `integrator`.
        requests: Requests made (every logged request, 429s and failures included).
        served: Requests answered with anything but 429 (what the sync needed).
        rate_limited: Requests answered 429.
        failed: Requests answered >= 400 other than 429, or not answered.
        span_seconds: First to last request arrival.
        minimum_seconds: What the limits allow for the served requests (see the module docstring).
        bound: The budget that sets `minimum_seconds`.
        endpoints: Served requests per budget key.
    """

    api: str
    requests: int
    served: int
    rate_limited: int
    failed: int
    span_seconds: float
    minimum_seconds: float
    bound: str
    endpoints: dict[str, int]

    @property
    def achieved_rps(self) -> float | None:
        """Served requests per second over the span (None for fewer than two requests)."""
        return self.served / self.span_seconds if self.span_seconds > 0 else None

    @property
    def ceiling_rps(self) -> float | None:
        """Served requests per second the limits allow (None without served requests)."""
        return self.served / self.minimum_seconds if self.minimum_seconds > 0 else None

    @property
    def fraction(self) -> float | None:
        """Achieved over ceiling requests per second: `minimum_seconds` / span."""
        return self.minimum_seconds / self.span_seconds if self.span_seconds > 0 else None

    @property
    def rate_limited_share(self) -> float:
        """429s over requests made."""
        return self.rate_limited / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        """The fields and the derived rates, for the results file."""
        return {
            "api": self.api,
            "requests": self.requests,
            "served": self.served,
            "rate_limited": self.rate_limited,
            "failed": self.failed,
            "span_seconds": self.span_seconds,
            "minimum_seconds": self.minimum_seconds,
            "bound": self.bound,
            "endpoints": dict(self.endpoints),
            "achieved_rps": self.achieved_rps,
            "ceiling_rps": self.ceiling_rps,
            "fraction_of_ceiling": self.fraction,
            "rate_limited_share": self.rate_limited_share,
        }


def api_traffic(api: str, entries: Iterable[Mapping[str, Any]], stripe_mode: str = "live") -> ApiTraffic:
    """Summarise the request-log entries of one API (entries of other APIs are skipped).

    Args:
        api: The API to summarise.
        entries: Entries of the sandbox's `/_control/requests` (`api`, `path`, `time`, `status`).
        stripe_mode: The Stripe key's mode.

    Returns:
        The summary.
    """
    requests = served = rate_limited = failed = 0
    first = last = 0.0
    counts: Counter[Budget] = Counter()
    for entry in entries:
        if entry["api"] != api:
            continue
        moment = float(entry["time"])
        first = moment if requests == 0 else min(first, moment)
        last = moment if requests == 0 else max(last, moment)
        requests += 1
        status = entry.get("status")
        if status == RATE_LIMITED:
            rate_limited += 1
            continue
        if status is None or int(status) >= 400:
            failed += 1
        served += 1
        counts.update(budgets_for(api, str(entry["path"]), stripe_mode))
    bound = max(counts, key=lambda budget: counts[budget] / budget.per_second, default=None)
    return ApiTraffic(
        api=api,
        requests=requests,
        served=served,
        rate_limited=rate_limited,
        failed=failed,
        span_seconds=last - first,
        minimum_seconds=minimum_seconds(counts),
        bound="" if bound is None else f"{bound.key} {bound.per_second:g}/s",
        endpoints={
            budget.key: count for budget, count in sorted(counts.items(), key=lambda item: item[0].key)
        },
    )
