"""Orb credit ledger entries (all seven entry types) and the usage events decrements point at."""

from __future__ import annotations

import random
from typing import Any

from orb.types.customers.credits.ledger_list_response import LedgerListResponse

from sandbox.clock import iso_z, parse_iso
from sandbox.orb_objects import orb_variant
from sandbox.seed import DAY, between, hex_id
from sandbox.store import Collection, JsonObject

EVENT_CHOICES = ("stored", "missing", "none")
GROUP_VALUES = {"region": ("eu-west-1", "us-east-1", "ap-south-1"), "model": ("gpt", "claude", "llama")}
# Every seventh-or-so customer gets one entry of each of the seven ledger entry types.
FULL_LEDGER = (
    "increment",
    "decrement",
    "expiration_change",
    "decrement",
    "void_initiated",
    "void",
    "amendment",
    "credit_block_expiry",
    "decrement",
)


def minified(customer: JsonObject) -> JsonObject:
    return {"id": customer["id"], "external_customer_id": customer["external_customer_id"]}


class OrbLedger:
    """Ledger and usage-event seeding, mixed into ``OrbData`` (which provides the attributes below)."""

    seed: int
    now: int
    collections: dict[str, Collection]
    events: dict[str, JsonObject]
    generated: dict[str, list[JsonObject]]
    _counter: int

    def new_id(self, kind: str) -> str:
        """A deterministic Orb-style id (provided by ``OrbData``)."""
        raise NotImplementedError

    def _seed_credit_ledger_entries(self, rng: random.Random, count: int) -> list[JsonObject]:
        """Ledger entries per customer; every customer's last entry is recent, however old it is.

        The count is ignored: each customer gets 2-4 entries in credits (Orb's default ledger), every
        seventh all seven entry types; every tenth customer also has a ledger in USD.
        """
        objects: list[JsonObject] = []
        for index, customer in enumerate(self.generated["customers"]):
            kinds = FULL_LEDGER if index % 7 == 0 else ("increment",) + ("decrement",) * rng.randint(1, 3)
            first = between(rng, self._epoch(customer) + 60, self.now - 20 * DAY)
            times = sorted(between(rng, first, self.now - 3 * DAY) for _ in kinds[:-1])
            times.append(self.now - rng.randint(60, 3 * DAY))
            objects.extend(self._ledger(rng, customer, kinds, times))
        for customer in self.generated["customers"][1::10]:
            first = between(rng, self._epoch(customer) + 60, self.now - 10 * DAY)
            times = [first, self.now - rng.randint(60, 3 * DAY)]
            objects.extend(self._ledger(rng, customer, ("increment", "decrement"), times, currency="USD"))
        return objects

    def _ledger(
        self,
        rng: random.Random,
        customer: JsonObject,
        kinds: tuple[str, ...],
        times: list[int],
        event: str | None = None,
        currency: str = "credits",
    ) -> list[JsonObject]:
        balance = 0.0
        block = {
            "id": self.new_id("block"),
            "expiry_date": iso_z(self.now + 180 * DAY),
            "per_unit_cost_basis": "1.00",
            "filters": [],
        }
        entries: list[JsonObject] = []
        for sequence, (kind, when) in enumerate(zip(kinds, times, strict=True), start=1):
            delta = {
                "increment": 1000.0,
                "decrement": -float(rng.randint(1, 120)),
                "void": -float(rng.randint(1, 50)),
                "amendment": float(rng.choice((-25, 25))),
                "credit_block_expiry": -min(balance, 100.0),
            }.get(kind, 0.0)
            entry: JsonObject = {
                **orb_variant(LedgerListResponse, "entry_type", kind),
                "_created": when,
                "id": self.new_id("ledger"),
                "ledger_sequence_number": sequence,
                "entry_status": "pending"
                if kind == "decrement" and sequence == len(kinds) - 1
                else "committed",
                "entry_type": kind,
                "customer": minified(customer),
                "amount": delta,
                "starting_balance": balance,
                "ending_balance": balance + delta,
                "currency": currency,
                "created_at": iso_z(when),
                "credit_block": dict(block),
                "description": f"{kind.replace('_', ' ').capitalize()} entry",
            }
            balance += delta
            entry.update(self._ledger_extras(rng, kind, when, customer, len(entries), event))
            entries.append(entry)
        return entries

    def _ledger_extras(
        self,
        rng: random.Random,
        kind: str,
        when: int,
        customer: JsonObject,
        position: int,
        event: str | None = None,
    ) -> dict[str, Any]:
        if kind == "decrement":
            # A third point at a stored event, a third at an id no event has, a third have none.
            choice = (self._counter + position) % 3 if event is None else EVENT_CHOICES.index(event)
            event_id = None
            if choice == 0:
                event_id = self._usage_event(rng, customer, when - 60)["id"]
            elif choice == 1:
                event_id = f"missing-{hex_id(self.seed, 'orb-missing', self._counter)}"
            return {"event_id": event_id}
        if kind in ("expiration_change", "void_initiated"):
            extras: dict[str, Any] = {"new_block_expiry_date": iso_z(when + 90 * DAY)}
            if kind == "void_initiated":
                extras.update(void_amount=25.0, void_reason="refund")
            return extras
        if kind == "void":
            return {"void_amount": 25.0, "void_reason": "refund"}
        if kind == "increment":
            return {"created_invoices": []}
        return {}

    def _usage_event(self, rng: random.Random, customer: JsonObject, when: int) -> JsonObject:
        event_id = hex_id(self.seed, "orb-event", len(self.events))
        event = {
            "id": f"{event_id[:8]}-{event_id[8:12]}-{event_id[12:16]}-{event_id[16:20]}-{event_id[20:]}",
            "customer_id": customer["id"],
            "external_customer_id": customer["external_customer_id"],
            "event_name": "inference",
            "timestamp": iso_z(when),
            "properties": {
                "tokens": rng.randint(10, 50000),
                "region": rng.choice(GROUP_VALUES["region"]),
                "model": rng.choice(GROUP_VALUES["model"]),
            },
            "deprecated": False,
        }
        self.events[event["id"]] = event
        return event

    def _next_ledger_entry(
        self, rng: random.Random, customer: JsonObject, kind: str, now: int, event: str | None = None
    ) -> JsonObject:
        ledger = self.collections["credit_ledger_entries"]
        keys = ledger.children(customer["id"])
        last = ledger.get(keys[0][1]) if keys else None
        entry = self._ledger(rng, customer, (kind,), [now], event)[0]
        if last is not None:
            start = float(last["ending_balance"])
            entry.update(
                ledger_sequence_number=int(last["ledger_sequence_number"]) + 1,
                starting_balance=start,
                ending_balance=start + float(entry["amount"]),
            )
        return entry

    @staticmethod
    def _epoch(obj: JsonObject) -> int:
        return int(parse_iso(str(obj["created_at"])))
