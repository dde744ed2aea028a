"""Shared helpers for deterministic seed data: scales, ids, time spreads and the e-mail pool."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

DAY = 86400
YEAR = 365 * DAY
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Scales:
    """How many objects to seed per resource.

    Attributes:
        default: Objects per top-level resource (``--scale``).
        overrides: ``"api.resource" -> count`` (``--scale-for``).
    """

    default: int = 200
    overrides: dict[str, int] = field(default_factory=dict)

    def get(self, api: str, resource: str, default: int | None = None) -> int:
        """Return the count for one resource.

        Args:
            api: ``stripe``, ``orb`` or ``integrator``.
            resource: Resource name as used by ``--scale-for``.
            default: The count when not overridden (``self.default`` when None).

        Returns:
            A non-negative count.
        """
        value = self.overrides.get(f"{api}.{resource}")
        if value is None:
            value = self.default if default is None else default
        return max(0, int(value))


def rng_for(seed: int, *parts: object) -> random.Random:
    """Return a generator seeded from the run seed and a path of names.

    Each resource gets its own stream, so scaling one resource does not reshuffle the others.

    Args:
        seed: The run seed (``--seed``).
        parts: Names that identify the stream, e.g. ``("stripe", "acct_sandbox", "customers")``.

    Returns:
        A ``random.Random`` (string seeds hash with SHA-512: stable across runs and platforms).
    """
    return random.Random(":".join([str(seed), *map(str, parts)]))


def _digest(parts: tuple[object, ...]) -> int:
    text = "|".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")


def base62_id(length: int, *parts: object) -> str:
    """A deterministic base62 string derived from ``parts``.

    Args:
        length: Number of characters.
        parts: What the id is derived from.

    Returns:
        The string.
    """
    number = _digest(parts)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def hex_id(*parts: object) -> str:
    """A deterministic 24-character hex id (MongoDB ObjectId style, as integrator.io uses)."""
    return f"{_digest(parts):032x}"[:24]


def spread_created(rng: random.Random, now: int, recent_share: float = 0.2, span: int = 3 * YEAR) -> int:
    """Pick a creation time in the last ``span`` seconds, with a share in the last 30 days.

    The recent share makes 30-day event windows and incremental syncs meaningful at small scales.

    Args:
        rng: The stream to draw from.
        now: Sandbox "now" in epoch seconds.
        recent_share: Fraction of objects created in the last 30 days.
        span: How far back the oldest object may be.

    Returns:
        Epoch seconds.
    """
    if rng.random() < recent_share:
        return now - rng.randint(60, 30 * DAY)
    return now - rng.randint(30 * DAY, span)


def between(rng: random.Random, start: int, end: int) -> int:
    """A time between ``start`` and ``end`` (inclusive); ``start`` when the range is empty."""
    return start if end <= start else rng.randint(start, end)


@dataclass(frozen=True)
class EmailPool:
    """Where each API draws its customers' e-mails from in the one pool ``user{n}@example.com``.

    Stripe takes ``[0, stripe)``, Orb ``[stripe // 2, stripe // 2 + orb)`` and licenses
    ``[stripe // 4 + 1, ...)``, so joins by e-mail find matches in every pair and mismatches exist.
    Connected Stripe accounts use disjoint ranges far above.

    Attributes:
        stripe_customers: Number of platform Stripe customers.
        orb_customers: Number of Orb customers.
    """

    stripe_customers: int
    orb_customers: int

    @staticmethod
    def email(n: int) -> str:
        """The pool's n-th address."""
        return f"user{n}@example.com"

    def orb(self, index: int) -> str:
        """E-mail of the index-th Orb customer."""
        return self.email(self.stripe_customers // 2 + index)

    def license(self, index: int) -> str:
        """E-mail of the index-th license (index 0 is reserved for an address no customer has)."""
        if index == 0:
            return self.email(self.stripe_customers + self.orb_customers + 500_000)
        return self.email(self.stripe_customers // 4 + index)
