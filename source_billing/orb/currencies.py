"""The ledger currencies of Orb customers: which credit ledgers (one per currency or pricing unit) to read.

Orb keeps one credit ledger per customer and currency: Orb's default custom unit, "credits", and any
real-world currency or custom pricing unit the customer holds prepaid credits in. `GET
/customers/{id}/credits/ledger` and `GET /customers/{id}/credits` read one of them, chosen by `currency`
(credits when absent), and no endpoint lists a customer's ledgers. The candidates are therefore:

- credits, always (Orb's default ledger: what the connector read before it read other currencies);
- the customer's own `currency` (the one it is invoiced in: prepaid dollar commitments live there);
- every currency and custom pricing unit the account's prices name (`currency`, a price in a custom pricing
  unit names that unit, and `credit_allocation.currency`, the unit of the credits a price allocates),
  read once per sync from `GET /prices` (100 requests/s).

A candidate other than credits is taken only when the customer has, or had, a credit block in it (`GET
/customers/{id}/credits?currency=&include_all_blocks=true&limit=1`, at 100 requests/s): every ledger entry
belongs to a block, and that list keeps expired and depleted blocks, so a ledger without blocks is empty.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_billing.orb.base import OrbApi, OrbStream

CREDITS = "credits"  # Orb's default ledger currency, read when `currency` is not sent
CURRENCY = "currency"


class AccountCurrencies:
    """The currencies and custom pricing units the account's prices name, read once per sync on first use.

    One instance per stream: each stream lists the prices itself, on the thread that first needs them.
    """

    def __init__(self, api: OrbApi) -> None:
        self._prices = OrbStream(api=api, name="orb_prices", path="prices")
        self._lock = threading.Lock()
        self._found: tuple[str, ...] | None = None

    def __call__(self) -> tuple[str, ...]:
        with self._lock:
            if self._found is None:
                prices = self._prices.read_records(SyncMode.full_refresh)
                self._found = tuple(sorted(price_currencies(prices)))
            return self._found


def price_currencies(prices: Iterable[Any]) -> set[str]:
    """The currencies and custom pricing units named by prices (their own, and their allocations')."""
    found: set[str] = set()
    for price in prices:
        if not isinstance(price, Mapping):
            continue
        allocation = price.get("credit_allocation") or {}
        for value in (price.get(CURRENCY), allocation.get(CURRENCY)):
            if value:
                found.add(str(value))
    return found


def candidate_currencies(customer: Mapping[str, Any], account: Iterable[str]) -> list[str]:
    """The ledgers besides credits a customer may hold credits in: its own currency and the account's."""
    found = {str(value) for value in (customer.get(CURRENCY), *account) if value}
    found.discard(CREDITS)
    return sorted(found)


def currency_param(currency: str) -> dict[str, str]:
    """The `currency` query parameter of a ledger or credits request (none for credits, Orb's default)."""
    return {} if currency == CREDITS else {CURRENCY: currency}
