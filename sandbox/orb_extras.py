"""Orb's billable metrics, license types, licenses, credit blocks, customer balance transactions and
subscription schedules, seeded after the other Orb objects they derive from (mixed into ``OrbData``).

- Metrics: the three decomposable ones prices use, and a unique count (non-decomposable) whose price groups
  invoices by ``region``; every third plan charges it.
- Licenses: every other subscription that has started holds 1-3 seat licenses, active while it is,
  inactive (ended with it) once it ended.
- Credit blocks: one per customer and ledger currency, derived from the ledger entries (``credits`` for all,
  ``USD`` as well for every tenth customer).
- Balance transactions: every third customer has one or two.
- Schedules: one entry per subscription (its plan from its start), and a scheduled plan change for every
  fifth active one.
"""

from __future__ import annotations

import random

from orb.types.billable_metric import BillableMetric
from orb.types.customers.balance_transaction_list_response import BalanceTransactionListResponse
from orb.types.customers.credit_list_response import CreditListResponse
from orb.types.license_list_response import LicenseListResponse
from orb.types.license_type_list_response import LicenseTypeListResponse
from orb.types.subscription_fetch_schedule_response import SubscriptionFetchScheduleResponse

from sandbox.clock import iso_z, parse_iso
from sandbox.orb_objects import orb_object
from sandbox.seed import DAY, between
from sandbox.store import Collection, JsonObject

DECOMPOSABLE_METRICS: tuple[JsonObject, ...] = (
    {"id": "bm_tokens", "name": "Tokens", "property": "tokens"},
    {"id": "bm_api_calls", "name": "API calls", "property": "calls"},
    {"id": "bm_storage", "name": "Storage GB", "property": "gigabytes"},
)
# A unique count is not decomposable: Orb groups it only by its price's invoice grouping key.
UNIQUE_METRIC: JsonObject = {
    "id": "bm_unique_users",
    "name": "Unique users",
    "property": "user_id",
    "decomposable": False,
}
UNIQUE_GROUPING_KEY = "region"
ALL_METRICS: tuple[JsonObject, ...] = (*DECOMPOSABLE_METRICS, UNIQUE_METRIC)
LICENSE_TYPES = (("Seat", "user_id"), ("Workspace", "workspace_id"))


class OrbExtras:
    """Seeders of the objects above (``OrbData`` provides the attributes below)."""

    seed: int
    now: int
    collections: dict[str, Collection]
    generated: dict[str, list[JsonObject]]

    def new_id(self, kind: str) -> str:
        """A deterministic Orb-style id (provided by ``OrbData``)."""
        raise NotImplementedError

    def _seed_billable_metrics(self, rng: random.Random, count: int) -> list[JsonObject]:
        """The metrics (the count is ignored); also adds the unique count's price to every third plan."""
        self._add_unique_price()
        objects = []
        for index, metric in enumerate(ALL_METRICS):
            aggregate = (
                f"count(distinct {metric['property']})"
                if metric.get("decomposable") is False
                else f"sum({metric['property']})"
            )
            objects.append(
                {
                    **orb_object(BillableMetric),
                    "_created": self.now - (len(ALL_METRICS) - index) * DAY,
                    "id": metric["id"],
                    "name": metric["name"],
                    "item": {
                        "id": self.new_id("item"),
                        "name": metric["name"],
                        "created_at": iso_z(self.now),
                    },
                    "sql": f"SELECT {aggregate} FROM events WHERE event_name = 'inference'",
                }
            )
        return objects

    def _add_unique_price(self) -> None:
        created = self.now - 90 * DAY
        price: JsonObject = {
            **(self.generated["prices"][0] if self.generated["prices"] else {}),
            "id": self.new_id("price"),
            "name": UNIQUE_METRIC["name"],
            "external_price_id": "price-unique-users",
            "price_type": "usage_price",
            "created_at": iso_z(created),
            "billable_metric": {"id": UNIQUE_METRIC["id"]},
            "fixed_price_quantity": None,
            "invoice_grouping_key": UNIQUE_GROUPING_KEY,
            "unit_config": {"unit_amount": "2.00"},
        }
        self.collections["prices"].insert(-created, price)
        # Subscriptions embed their plan's price list (the same list): they charge the metric too.
        for plan in self.generated["plans"][::3]:
            plan["prices"].append(dict(price))

    def _seed_license_types(self, rng: random.Random, count: int) -> list[JsonObject]:
        return [
            {
                **orb_object(LicenseTypeListResponse),
                "_created": self.now - (10 - index) * DAY,
                "id": self.new_id("license_type"),
                "name": name,
                "grouping_key": key,
            }
            for index, (name, key) in enumerate(LICENSE_TYPES)
        ]

    def _seed_licenses(self, rng: random.Random, count: int) -> list[JsonObject]:
        """Seat licenses of every other started subscription (the count is ignored)."""
        license_types = self.generated["license_types"]
        objects: list[JsonObject] = []
        for index, subscription in enumerate(self.generated["subscriptions"]):
            if index % 2 or subscription["status"] == "upcoming" or not license_types:
                continue
            start = int(parse_iso(subscription["start_date"]))
            for seat in range(rng.randint(1, 3)):
                created = between(rng, start, self.now - 60)
                objects.append(
                    {
                        **orb_object(LicenseListResponse),
                        "_created": created,
                        "id": self.new_id("license"),
                        "external_license_id": f"user-{index}-{seat}",
                        "license_type_id": license_types[seat % len(license_types)]["id"],
                        "subscription_id": subscription["id"],
                        "status": "active" if subscription["status"] == "active" else "inactive",
                        "start_date": iso_z(created),
                        "end_date": subscription["end_date"],
                    }
                )
        return objects

    def _seed_credit_blocks(self, rng: random.Random, count: int) -> list[JsonObject]:
        """A block per customer and ledger currency, as its ledger entries name it (the count is ignored)."""
        blocks: dict[str, JsonObject] = {}
        for entry in self.generated["credit_ledger_entries"]:
            block = entry["credit_block"]
            found = blocks.get(block["id"])
            if found is None:
                found = blocks[block["id"]] = {
                    **orb_object(CreditListResponse),
                    "_created": int(parse_iso(entry["created_at"])),
                    "_parent": f"{entry['customer']['id']}|{entry['currency']}",
                    "id": block["id"],
                    "credit_block_source": "manual",
                    "effective_date": entry["created_at"],
                    "expiry_date": block["expiry_date"],
                    "per_unit_cost_basis": block["per_unit_cost_basis"],
                }
            found["balance"] = max(0.0, float(found["balance"]) + float(entry["amount"]))
            found["_created"] = min(int(found["_created"]), int(parse_iso(entry["created_at"])))
        return list(blocks.values())

    def _seed_balance_transactions(self, rng: random.Random, count: int) -> list[JsonObject]:
        """One or two for every third customer (the count is ignored)."""
        objects: list[JsonObject] = []
        for index, customer in enumerate(self.generated["customers"][::3]):
            balance = 0.0
            for number in range(1 + index % 2):
                created = between(rng, int(parse_iso(customer["created_at"])), self.now - 60)
                amount = float(rng.choice((-25, -10, 5, 40)))
                objects.append(
                    {
                        **orb_object(BalanceTransactionListResponse),
                        "_created": created,
                        "_parent": customer["id"],
                        "id": self.new_id("balance_transaction"),
                        "action": "manual_adjustment" if number == 0 else "applied_to_invoice",
                        "amount": f"{amount:.2f}",
                        "created_at": iso_z(created),
                        "description": "Goodwill credit" if number == 0 else None,
                        "starting_balance": f"{balance:.2f}",
                        "ending_balance": f"{balance + amount:.2f}",
                        "type": "increment" if amount > 0 else "decrement",
                    }
                )
                balance += amount
        return objects

    def _seed_subscription_schedules(self, rng: random.Random, count: int) -> list[JsonObject]:
        """Each subscription's plan from its start; a scheduled change for every fifth active one."""
        plans = self.generated["plans"]
        objects: list[JsonObject] = []
        for index, subscription in enumerate(self.generated["subscriptions"]):
            plan = subscription["plan"]
            created = int(parse_iso(subscription["created_at"]))
            change = subscription["status"] == "active" and index % 5 == 0 and len(plans) > 1
            change_at = iso_z(self.now + 10 * DAY)
            objects.append(
                self._schedule(
                    subscription,
                    plan,
                    created,
                    subscription["start_date"],
                    change_at if change else subscription["end_date"],
                )
            )
            if change:
                other = plans[(plans.index(plan) + 1) % len(plans)] if plan in plans else plans[0]
                objects.append(self._schedule(subscription, other, self.now - DAY, change_at, None))
        return objects

    def _end_licenses(self, subscription_id: str, end_date: str) -> None:
        """A subscription's licenses end with it."""
        licenses = self.collections["licenses"]
        for found in list(licenses.objects()):
            if found["subscription_id"] == subscription_id and found["status"] == "active":
                licenses.replace({**found, "status": "inactive", "end_date": end_date})

    @staticmethod
    def _schedule(
        subscription: JsonObject, plan: JsonObject, created: int, start: str, end: str | None
    ) -> JsonObject:
        return {
            **orb_object(SubscriptionFetchScheduleResponse),
            "_created": created,
            "_parent": subscription["id"],
            "id": f"{subscription['id']}|{start}",
            "created_at": iso_z(created),
            "start_date": start,
            "end_date": end,
            "plan": {
                "id": plan["id"],
                "external_plan_id": plan.get("external_plan_id"),
                "name": plan["name"],
            },
        }
