"""Rate budgets with several layers: a request spends from every policy that matches it.

The CDK's `APIBudget` applies only the first matching policy, but Stripe limits requests per account
and, at the same time, per endpoint; Orb limits its ledger and usage endpoints apart from the rest. Here a
request waits until each matching layer has room, so a sync runs just under every documented limit
instead of provoking 429s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from airbyte_cdk.sources.streams.call_rate import (
    AbstractCallRatePolicy,
    HttpAPIBudget,
    HttpRequestRegexMatcher,
    MovingWindowCallRatePolicy,
    Rate,
)

# Requests leave the client spaced by the budget but reach the API with network jitter; counting each second
# as a little longer keeps the API's own one-second count under its limit instead of provoking 429s.
BUDGET_SECOND = timedelta(seconds=1.05)


@dataclass(frozen=True)
class Limit:
    """At most `per_second` requests per second, together, to the endpoint templates given (such as
    `/v1/customers/{id}/sources`, relative to the API root), or to the whole API when none is given."""

    per_second: int
    endpoints: tuple[str, ...] = ()


def endpoint_pattern(prefix: str, templates: tuple[str, ...]) -> str:
    """A regex over URL paths: the API root's path prefix, then one of the endpoint templates."""
    if not templates:
        return "^" + re.escape(prefix) + "/"
    alternatives = []
    for template in templates:
        parts = re.split(r"\{[^}]+\}", template)
        alternatives.append("[^/]+".join(re.escape(part) for part in parts))
    return "^" + re.escape(prefix) + "(?:" + "|".join(alternatives) + ")$"


class LayeredBudget(HttpAPIBudget):
    """An `HttpAPIBudget` whose request spends from every matching policy, in the order given."""

    def __init__(self, api_base_url: str, limits: Iterable[Limit]) -> None:
        parts = urlsplit(api_base_url)
        origin, prefix = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
        policies: list[AbstractCallRatePolicy] = [
            MovingWindowCallRatePolicy(
                rates=[Rate(limit=limit.per_second, interval=BUDGET_SECOND)],
                matchers=[
                    HttpRequestRegexMatcher(
                        url_base=origin, url_path_pattern=endpoint_pattern(prefix, limit.endpoints)
                    )
                ],
            )
            for limit in limits
        ]
        super().__init__(policies=policies)

    def acquire_call(self, request: Any, block: bool = True, timeout: float | None = None) -> None:
        for policy in self._policies:
            if policy.matches(request):
                self._do_acquire(request=request, policy=policy, block=block, timeout=timeout)

    def update_from_response(self, request: Any, response: Any) -> None:
        # A 429 empties every layer the request belongs to, so all workers pause, not just this one.
        available = self.get_calls_left_from_response(response)
        if available is None:
            return
        for policy in self._policies:
            if policy.matches(request):
                policy.update(available_calls=available, call_reset_ts=None)
