"""What a Stripe object factory can see while seeding: randomness, time, ids and other objects."""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Any

from sandbox.seed import base62_id, between, spread_created
from sandbox.store import Collection, JsonObject

CURRENCIES = ("usd", "usd", "usd", "eur", "gbp")


class SeedContext:
    """Shared state of one Stripe account while its objects are generated (and later created).

    Args:
        seed: Run seed.
        account: Account id (``acct_sandbox`` or a connected account).
        tag: One character put at the start of every id's random part, so accounts never collide.
        slot: Index of the account (0 = platform), used for the e-mail range.
        now: Sandbox time at generation.
        collections: The account's collections by resource name (filled while seeding).
    """

    def __init__(
        self, seed: int, account: str, tag: str, slot: int, now: int, collections: dict[str, Collection]
    ) -> None:
        self.seed = seed
        self.account = account
        self.tag = tag
        self.slot = slot
        self.now = now
        self.collections = collections
        self.rng = random.Random(0)
        self._counters: dict[str, int] = {}
        self.generated: dict[str, list[JsonObject]] = {}
        # Values factories derive from many generated objects, computed once (keys name their inputs).
        self.memo: dict[Hashable, Any] = {}

    def new_id(self, prefix: str, length: int = 14) -> str:
        """Return the next deterministic id for a prefix, e.g. ``cus_S3kT...``."""
        count = self._counters.get(prefix, 0)
        self._counters[prefix] = count + 1
        return f"{prefix}_{self.tag}{base62_id(length - 1, self.seed, self.account, prefix, count)}"

    def pick(self, resource: str) -> JsonObject | None:
        """Return a random object generated so far for a resource, or None when there is none."""
        objects = self.generated.get(resource)
        return self.rng.choice(objects) if objects else None

    def pick_id(self, resource: str) -> str | None:
        """Return the id of a random existing object of a resource, or None."""
        obj = self.pick(resource)
        return None if obj is None else str(obj["id"])

    def created(self) -> int:
        """A creation time spread over the last three years (a share in the last 30 days)."""
        return spread_created(self.rng, self.now)

    def after(self, *objects: JsonObject | None) -> int:
        """A creation time after all given objects were created (and not after now)."""
        start = max((int(obj.get("created", 0)) for obj in objects if obj is not None), default=0)
        if start == 0:
            return self.created()
        return between(self.rng, start + 1, self.now)

    def amount(self, low: int = 500, high: int = 50000) -> int:
        """An amount in the currency's minor unit, rounded to whole units most of the time."""
        value = self.rng.randint(low, high)
        return value - value % 100 if self.rng.random() < 0.7 else value

    def currency(self) -> str:
        """A currency code, mostly ``usd``."""
        return self.rng.choice(CURRENCIES)

    def metadata(self) -> dict[str, str]:
        """Small realistic metadata (searchable through ``metadata['k']``)."""
        meta = {"source": "sandbox"}
        if self.rng.random() < 0.5:
            meta["tier"] = self.rng.choice(("basic", "pro", "enterprise"))
        return meta

    def chance(self, share: float) -> bool:
        """True with probability ``share``."""
        return self.rng.random() < share

    def choice(self, options: tuple[Any, ...] | list[Any]) -> Any:
        """A random element."""
        return self.rng.choice(options)


def price_summary(price: JsonObject | None) -> JsonObject | None:
    """The compact price object Stripe embeds in items and lines (a snapshot of the main fields)."""
    if price is None:
        return None
    keys = ("id", "object", "active", "currency", "nickname", "product", "recurring", "type", "unit_amount")
    summary = {key: price.get(key) for key in keys}
    return summary


def list_object(
    data: list[JsonObject], url: str, has_more: bool, total_count: int | None = None
) -> JsonObject:
    """A Stripe list object as embedded in another object (first page only)."""
    value: JsonObject = {"object": "list", "data": data, "has_more": has_more}
    if total_count is not None:
        value["total_count"] = total_count
    value["url"] = url
    return value


def first_page(items: list[JsonObject], url: str) -> JsonObject:
    """The first page (10) of all of a parent's children as Stripe embeds it, with ``total_count``."""
    return list_object(items[:10], url, len(items) > 10, len(items))
