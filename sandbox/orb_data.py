"""Orb's seed data: customers, plans, prices, items, subscriptions, invoices, credit notes, coupons,
credit ledger entries and usage events, then metrics, licenses, credit blocks, balance transactions and
schedules (``orb_extras.py``), all deterministic from the seed. Each object starts from its model in
Orb's SDK (``orb_objects``: every field, empty) and sets what the sandbox models; an embedded object
(a subscription's customer and plan, a plan's prices) is the whole object, as Orb embeds it."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from orb.types import Coupon, CreditNote, Customer, Item, Plan, Subscription
from orb.types.shared.invoice import Invoice
from orb.types.shared.invoice import LineItem as InvoiceLineItem
from orb.types.shared.price import UnitPrice

from sandbox.clock import iso_z, parse_iso
from sandbox.orb_extras import ALL_METRICS, DECOMPOSABLE_METRICS, OrbExtras
from sandbox.orb_ledger import EVENT_CHOICES, OrbLedger, minified
from sandbox.orb_objects import orb_object
from sandbox.seed import DAY, EmailPool, Scales, base62_id, between, rng_for, spread_created
from sandbox.store import Collection, JsonObject

METRICS = DECOMPOSABLE_METRICS  # what seeded prices and invoice lines charge
__all__ = ["ALL_METRICS", "METRICS", "OrbData", "money"]
INVOICE_STATUSES = ("draft", "issued", "issued", "paid", "paid", "paid", "paid", "synced", "void")


def money(value: float) -> str:
    """Orb sends monetary amounts as decimal strings."""
    return f"{value:.2f}"


class OrbData(OrbLedger, OrbExtras):
    """All Orb objects.

    Args:
        seed: Run seed.
        now: Sandbox time at generation.
        scales: Object counts (``orb.customers``, ``orb.credit_ledger_entries`` is per-customer driven).
        pool: Where customer e-mails come from.
    """

    RESOURCES = (
        "items",
        "prices",
        "plans",
        "customers",
        "subscriptions",
        "invoices",
        "credit_notes",
        "coupons",
        "credit_ledger_entries",
        # Seeded last, from the objects above (so that adding them shifted no other object's id).
        "billable_metrics",
        "license_types",
        "licenses",
        "credit_blocks",
        "balance_transactions",
        "subscription_schedules",
    )

    def __init__(self, seed: int, now: int, scales: Scales, pool: EmailPool) -> None:
        self.seed = seed
        self.now = now
        self.pool = pool
        self.collections = {name: Collection(name) for name in self.RESOURCES}
        self.events: dict[str, JsonObject] = {}
        self.generated: dict[str, list[JsonObject]] = {}
        self._counter = 0
        for name in self.RESOURCES:
            objects = self._seeder(name)(rng_for(seed, "orb", name), scales.get("orb", name))
            self.generated[name] = objects
            self._insert(name, objects)

    # Helpers ----------------------------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        """A deterministic Orb-style id (22 base62 characters)."""
        self._counter += 1
        return base62_id(22, self.seed, "orb", kind, self._counter)

    def _seeder(self, name: str) -> Callable[[random.Random, int], list[JsonObject]]:
        seeder: Callable[[random.Random, int], list[JsonObject]] = getattr(self, f"_seed_{name}")
        return seeder

    def _insert(self, name: str, objects: list[JsonObject]) -> None:
        """Store objects; ``_created`` (epoch seconds) orders them, ledger entries hang off customers, and
        ``_parent`` names the parent of other child objects."""
        self.collections[name].load(
            (
                -int(obj.pop("_created")),
                obj,
                obj.pop("_parent", None)
                or (obj["customer"]["id"] if name == "credit_ledger_entries" else None),
            )
            for obj in objects
        )

    # Seeders (in dependency order) ------------------------------------------------------------------

    def _seed_items(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        for index in range(count):
            created = spread_created(rng, self.now)
            objects.append(
                {
                    **orb_object(Item),
                    "_created": created,
                    "id": self.new_id("item"),
                    "name": f"Item {index}",
                    "created_at": iso_z(created),
                }
            )
        return objects

    def _seed_prices(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        items = self.generated["items"]
        for index in range(count):
            item = rng.choice(items) if items else {"id": None, "name": None, "created_at": None}
            usage = rng.random() < 0.6
            metric = rng.choice(METRICS) if usage else None
            created = spread_created(rng, self.now)
            objects.append(
                {
                    **orb_object(UnitPrice),
                    "_created": created,
                    "id": self.new_id("price"),
                    "name": metric["name"] if metric else f"Platform fee {index}",
                    "external_price_id": f"price-{index}",
                    "price_type": "usage_price" if usage else "fixed_price",
                    "created_at": iso_z(created),
                    "cadence": rng.choice(("monthly", "monthly", "annual")),
                    "billable_metric": {"id": metric["id"]} if metric else None,
                    "fixed_price_quantity": None if usage else 1.0,
                    "currency": "USD",
                    "item": {"id": item["id"], "name": item["name"]},
                    "unit_config": {"unit_amount": money(rng.choice((0.002, 0.5, 1, 25, 99)))},
                    "billing_cycle_configuration": {"duration": 1, "duration_unit": "month"},
                }
            )
        return objects

    def _seed_plans(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        prices = self.generated["prices"]
        for index in range(count):
            created = spread_created(rng, self.now)
            chosen = rng.sample(prices, min(len(prices), rng.randint(1, 3)))
            objects.append(
                {
                    **orb_object(Plan),
                    "_created": created,
                    "id": self.new_id("plan"),
                    "name": f"Plan {index}",
                    "description": "Usage-based plan",
                    "external_plan_id": f"plan-{index}",
                    "currency": "USD",
                    "invoicing_currency": "USD",
                    "status": "archived" if rng.random() < 0.1 else "active",
                    "created_at": iso_z(created),
                    "version": 1,
                    "net_terms": 30,
                    "product": {
                        "id": self.new_id("product"),
                        "name": f"Product {index}",
                        "created_at": iso_z(created),
                    },
                    "prices": [dict(price) for price in chosen],
                }
            )
        return objects

    def _seed_customers(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        for index in range(count):
            created = spread_created(rng, self.now)
            objects.append(
                {
                    **orb_object(Customer),
                    "_created": created,
                    "id": self.new_id("customer"),
                    "external_customer_id": f"ext-{index}",
                    "name": f"Orb User {index}",
                    "email": self.pool.orb(index),
                    "currency": "USD",
                    "balance": money(0 if rng.random() < 0.8 else -rng.randint(1, 500)),
                    "created_at": iso_z(created),
                    "timezone": "Etc/UTC",
                    "auto_collection": True,
                    "exempt_from_automated_tax": False,
                    "email_delivery": True,
                    "payment_provider": "stripe" if rng.random() < 0.5 else None,
                    "metadata": {"segment": rng.choice(("smb", "mid", "enterprise"))},
                }
            )
        return objects

    def _seed_subscriptions(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        customers, plans = self.generated["customers"], self.generated["plans"]
        for _ in range(count):
            if not customers or not plans:
                break
            customer, plan = rng.choice(customers), rng.choice(plans)
            created = between(rng, self._epoch(customer), self.now - 3600)
            status = rng.choice(("active", "active", "active", "ended", "upcoming"))
            start = created if status != "upcoming" else self.now + rng.randint(1, 20) * DAY
            end = between(rng, start + DAY, self.now - 60) if status == "ended" else None
            period_start = max(start, self.now - rng.randint(0, 29) * DAY)
            objects.append(
                {
                    **orb_object(Subscription),
                    "_created": created,
                    "id": self.new_id("subscription"),
                    "customer": dict(customer),
                    # Orb embeds the whole plan, prices (and their metrics) included.
                    "plan": dict(plan),
                    "status": status,
                    "start_date": iso_z(start),
                    "end_date": None if end is None else iso_z(end),
                    "created_at": iso_z(created),
                    "current_billing_period_start_date": iso_z(period_start),
                    "current_billing_period_end_date": iso_z(period_start + 30 * DAY),
                    "auto_collection": True,
                    "billing_cycle_day": rng.randint(1, 28),
                    "net_terms": 30,
                }
            )
        return objects

    def _seed_invoices(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        subscriptions, customers = self.generated["subscriptions"], self.generated["customers"]
        for index in range(count):
            subscription = rng.choice(subscriptions) if subscriptions and rng.random() < 0.85 else None
            customer = (
                subscription["customer"] if subscription else (rng.choice(customers) if customers else None)
            )
            if customer is None:
                break
            created = between(rng, self._epoch(subscription or customer), self.now - 60)
            status = rng.choice(INVOICE_STATUSES)
            objects.append(self._invoice(rng, index, created, status, customer, subscription))
        return objects

    def _invoice(
        self,
        rng: random.Random,
        index: int,
        created: int,
        status: str,
        customer: JsonObject,
        subscription: JsonObject | None,
    ) -> JsonObject:
        lines: list[JsonObject] = [
            {
                **orb_object(InvoiceLineItem),
                "id": self.new_id("line"),
                "name": rng.choice(METRICS)["name"],
                "quantity": float(rng.randint(1, 5000)),
                "amount": money(rng.randint(100, 90000) / 100),
                "start_date": iso_z(created - 30 * DAY),
                "end_date": iso_z(created),
            }
            for _ in range(rng.randint(1, 3))
        ]
        total = money(sum(float(line["amount"]) for line in lines))
        issued = status in ("issued", "paid", "synced", "void")
        # A subscription's draft is the invoice of its current period, dated at the period's end (future).
        dated = created
        if status == "draft" and subscription is not None:
            dated = int(parse_iso(subscription["current_billing_period_end_date"]))
        return {
            **orb_object(Invoice),
            "_created": created,
            "id": self.new_id("invoice"),
            "invoice_number": f"ORB-{index:06d}",
            "customer": minified(customer),
            "subscription": {"id": subscription["id"]} if subscription else None,
            "status": status,
            "invoice_date": iso_z(dated),
            "due_date": iso_z(dated + 30 * DAY),
            "issued_at": iso_z(created + 600) if issued else None,
            "paid_at": iso_z(created + 2 * DAY) if status in ("paid", "synced") else None,
            "voided_at": iso_z(created + DAY) if status == "void" else None,
            "eligible_to_issue_at": iso_z(created),
            "created_at": iso_z(created),
            "currency": "USD",
            "amount_due": "0.00" if status in ("paid", "synced", "void") else total,
            "subtotal": total,
            "total": total,
            "line_items": lines,
            "invoice_source": "subscription" if subscription else "one_off",
            "auto_collection": {"enabled": True, "next_attempt_at": None, "previously_attempted_at": None},
            "will_auto_issue": status == "draft",
        }

    def _seed_credit_notes(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        invoices = [inv for inv in self.generated["invoices"] if inv["status"] != "draft"]
        for index in range(count):
            if not invoices:
                break
            invoice = rng.choice(invoices)
            created = between(rng, self._epoch(invoice) + 60, self.now)
            amount = money(float(invoice["total"]) * rng.choice((0.1, 0.5, 1.0)))
            objects.append(
                {
                    **orb_object(CreditNote),
                    "_created": created,
                    "id": self.new_id("credit_note"),
                    "created_at": iso_z(created),
                    "credit_note_number": f"CN-{index:05d}",
                    "customer": invoice["customer"],
                    "invoice_id": invoice["id"],
                    "reason": rng.choice(
                        ("Duplicate", "Fraudulent", "Order change", "Product unsatisfactory")
                    ),
                    "subtotal": amount,
                    "total": amount,
                    "type": rng.choice(("refund", "adjustment")),
                    "discounts": [],
                }
            )
        return objects

    def _seed_coupons(self, rng: random.Random, count: int) -> list[JsonObject]:
        objects = []
        for index in range(count):
            archived = rng.random() < 0.15
            objects.append(
                {
                    **orb_object(Coupon),
                    "_created": spread_created(rng, self.now),
                    "id": self.new_id("coupon"),
                    "redemption_code": f"ORB{index:04d}",
                    "discount": {
                        "discount_type": "percentage",
                        "percentage_discount": rng.choice((0.05, 0.1, 0.2)),
                        "applies_to_price_ids": [],
                        "reason": None,
                    },
                    "times_redeemed": rng.randint(0, 30),
                    "duration_in_months": rng.choice((None, 3, 12)),
                    "archived_at": iso_z(self.now - DAY) if archived else None,
                }
            )
        return objects

    # Mutations (control API) ------------------------------------------------------------------------

    def create(self, resource: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Create one object: a generated one with ``fields`` laid over it, created now.

        Ledger entries need ``_parent`` (or ``customer_id``): the customer; they continue its sequence
        numbers and balance. ``created_at`` backdates an entry (its usage event too); ``_event`` decides a
        decrement's ``event_id``: ``stored`` (an event that exists), ``missing`` (an id no event has) or
        ``none``.

        Raises:
            KeyError: Unknown resource or customer.
            ValueError: A ledger entry without a customer.
        """
        collection = self._collection(resource)
        fields = dict(fields)
        rng = rng_for(self.seed, "orb", resource, "control", self._counter)
        if resource == "credit_ledger_entries":
            customer_id = fields.pop("_parent", None) or fields.pop("customer_id", None)
            if not customer_id:
                raise ValueError("credit_ledger_entries need '_parent' (the customer id)")
            customer = self.collections["customers"].get(str(customer_id))
            if customer is None:
                raise KeyError(f"no Orb customer {customer_id}")
            when = int(parse_iso(str(fields.pop("created_at")))) if fields.get("created_at") else now
            event = fields.pop("_event", None)
            if event not in (None, *EVENT_CHOICES):
                raise ValueError(f"_event must be one of {list(EVENT_CHOICES)}")
            kind = str(fields.get("entry_type", "increment"))
            obj = self._next_ledger_entry(rng, customer, kind, when, event)
        else:
            saved_now, self.now = self.now, now
            try:
                obj = self._seeder(resource)(rng, 1)[0]
            finally:
                self.now = saved_now
            if "created_at" in obj:
                obj["created_at"] = iso_z(now)
            obj["_created"] = now
        obj.update(fields)
        self._insert(resource, [obj])
        return collection.get(obj["id"]) or obj

    def update(self, resource: str, object_id: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Merge fields into an object; status and plan changes keep the related fields consistent.

        Raises:
            KeyError: Unknown resource or id.
        """
        collection = self._collection(resource)
        old = collection.get(object_id)
        if old is None:
            raise KeyError(f"no Orb {resource} object {object_id}")
        new = {**old, **fields, "id": object_id}
        if resource == "invoices" and "status" in fields:
            status = fields["status"]
            stamp = iso_z(now)
            if status in ("paid", "synced"):
                new.setdefault("paid_at", None)
                new["paid_at"] = new["paid_at"] or stamp
                new["amount_due"] = "0.00"
            if status == "void":
                new["voided_at"] = stamp
                new["amount_due"] = "0.00"
            if status in ("issued", "paid", "synced") and not new.get("issued_at"):
                new["issued_at"] = stamp
        if resource == "subscriptions":
            plan = fields.get("plan", fields.get("plan_id"))
            plan_id = plan.get("id") if isinstance(plan, dict) else plan
            if plan_id is not None:
                plan_object = self.collections["plans"].get(str(plan_id))
                if plan_object is None:
                    raise KeyError(f"no Orb plan {plan_id}")
                new["plan"] = dict(plan_object)  # embedded whole, as seeded
                new.pop("plan_id", None)
            if fields.get("status") == "ended" and not new.get("end_date"):
                new["end_date"] = iso_z(now)
            if fields.get("status") == "ended":
                self._end_licenses(object_id, str(new["end_date"]))
        if resource == "licenses" and fields.get("status") == "inactive" and not new.get("end_date"):
            new["end_date"] = iso_z(now)  # deactivated now, as `POST /licenses/{id}/deactivate` does
        collection.replace(new)
        return new

    def delete(self, resource: str, object_id: str) -> JsonObject:
        """Delete an object.

        Raises:
            KeyError: Unknown resource or id.
        """
        return self._collection(resource).remove(object_id)

    def _collection(self, resource: str) -> Collection:
        collection = self.collections.get(resource)
        if collection is None:
            raise KeyError(f"unknown Orb resource {resource!r}; use one of {list(self.RESOURCES)}")
        return collection
