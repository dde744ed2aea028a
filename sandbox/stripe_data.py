"""One Stripe account's data: seeded from the resource table, plus its events and control mutations."""

from __future__ import annotations

import json
import threading
from typing import Any

from sandbox.seed import DAY, Scales, between, rng_for
from sandbox.store import Collection, JsonObject
from sandbox.stripe_context import SeedContext
from sandbox.stripe_resources import RESOURCES_BY_NAME, STRIPE_RESOURCES, StripeResource

API_VERSION = "2023-08-16"
EVENT_RETENTION = 30 * DAY
ACCOUNT_TAGS = {"acct_sandbox": "P", "acct_sandbox_a": "A", "acct_sandbox_b": "B"}


# List order is newest first; within one second, what was created later comes first. The primary sort
# value is therefore -(created * TICKS + tick), with tick 0 for seed data and increasing for changes.
TICKS = 10**9


def order_value(created: int, tick: int = 0) -> int:
    """The primary sort value of an object created at ``created`` (see ``TICKS``)."""
    return -(created * TICKS + tick)


def snapshot(obj: JsonObject) -> JsonObject:
    """A deep copy of an object as it is now (event payloads must not change with the object)."""
    copied: JsonObject = json.loads(json.dumps(obj))
    return copied


class StripeAccountData:
    """All objects and events of one Stripe account.

    Args:
        seed: Run seed.
        account: Account id.
        slot: Account index (0 = platform); selects the e-mail range.
        now: Sandbox time at generation.
        scales: Object counts.
    """

    def __init__(self, seed: int, account: str, slot: int, now: int, scales: Scales) -> None:
        self.account = account
        self.created_at = now - 3 * 365 * DAY
        self.collections: dict[str, Collection] = {row.name: Collection(row.name) for row in STRIPE_RESOURCES}
        self.events = Collection("events")
        self.ctx = SeedContext(seed, account, ACCOUNT_TAGS.get(account, "X"), slot, now, self.collections)
        self._seed = seed
        self._sequence = 0
        self._lock = threading.RLock()
        self._generate(scales)
        self._seed_events(now)

    # Seeding ----------------------------------------------------------------------------------------

    def _generate(self, scales: Scales) -> None:
        ctx = self.ctx
        for row in STRIPE_RESOURCES:
            ctx.rng = rng_for(self._seed, "stripe", self.account, row.name)
            if row.parent is None:
                objects = [row.factory(ctx, index) for index in range(scales.get("stripe", row.name))]
                ctx.generated[row.name] = objects
                field = row.created_field
                self.collections[row.name].load((order_value(int(obj[field])), obj, None) for obj in objects)
                continue
            items: list[tuple[int, JsonObject, str | None]] = []
            children_all: list[JsonObject] = []
            for parent in ctx.generated[row.parent]:
                count = row.per_parent(ctx) if row.per_parent else 1
                children = [row.factory(ctx, index, parent) for index in range(count)]
                if row.fill_parent is not None:
                    row.fill_parent(ctx, parent, children)
                for child in children:
                    items.append((self._next_sequence(), child, str(parent["id"])))
                children_all.extend(children)
            ctx.generated[row.name] = children_all
            self.collections[row.name].load(items)

    def _seed_events(self, now: int) -> None:
        """``*.created`` events for recent objects, then ``*.updated`` events for some objects.

        Objects up to 40 days old get a created event, so some events exist beyond the 30-day
        retention (stored, never listed) and tests can check that they stay hidden.
        """
        ctx = self.ctx
        ctx.rng = rng_for(self._seed, "stripe", self.account, "events")
        events: list[JsonObject] = []
        for row in STRIPE_RESOURCES:
            created_type, updated_type, _ = row.events
            objects = ctx.generated.get(row.name, [])
            if created_type:
                for obj in objects:
                    if int(obj[row.created_field]) >= now - 40 * DAY:
                        events.append(self._event(created_type, int(obj[row.created_field]), snapshot(obj)))
            if updated_type:
                for obj in objects:
                    created = int(obj[row.created_field])
                    if ctx.chance(0.1) and created < now - 120:
                        when = between(ctx.rng, max(created + 60, now - 45 * DAY), now - 60)
                        previous = {"metadata": {"tier": obj["metadata"].get("tier")}}
                        obj["metadata"] = {
                            **obj["metadata"],
                            "tier": ctx.choice(("basic", "pro", "enterprise")),
                        }
                        events.append(self._event(updated_type, when, snapshot(obj), previous))
        self.events.load((order_value(int(event["created"])), event, None) for event in events)

    def _event(
        self, event_type: str, created: int, payload: JsonObject, previous: JsonObject | None = None
    ) -> JsonObject:
        data: JsonObject = {"object": payload}
        if previous is not None:
            data["previous_attributes"] = previous
        event: JsonObject = {
            "id": self.ctx.new_id("evt", 24),
            "object": "event",
            "api_version": API_VERSION,
            "created": created,
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if self.account != "acct_sandbox":
            # Events of connected accounts name the account they happened on.
            event["account"] = self.account
        return event

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    # Reads ------------------------------------------------------------------------------------------

    def find(self, object_id: str) -> JsonObject | None:
        """Find an object of any top-level resource by id (used by ``expand``)."""
        for row in STRIPE_RESOURCES:
            if not row.is_child:
                obj = self.collections[row.name].get(object_id)
                if obj is not None:
                    return obj
        return None

    def account_object(self) -> JsonObject:
        """The ``account`` object ``GET /v1/account`` returns."""
        return {
            "id": self.account,
            "object": "account",
            "business_profile": {
                "mcc": "5734",
                "name": f"Sandbox {self.account}",
                "url": "https://example.com",
            },
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "country": "US",
            "created": self.created_at,
            "default_currency": "usd",
            "details_submitted": True,
            "email": f"billing+{self.account}@example.com",
            "metadata": {},
            "payouts_enabled": True,
            "settings": {"dashboard": {"display_name": f"Sandbox {self.account}", "timezone": "Etc/UTC"}},
            "type": "standard",
        }

    # Mutations (control API) ------------------------------------------------------------------------

    def create(self, resource: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Create an object: a generated one with ``fields`` laid over it; emits its created event.

        Args:
            resource: Resource name.
            fields: Fields to set; child resources need ``_parent`` (or their parent parameter).
            now: Sandbox time, used as ``created``.

        Returns:
            The stored object.

        Raises:
            KeyError: Unknown resource or parent.
            ValueError: A child without a parent.
        """
        row = _row(resource)
        fields = dict(fields)
        with self._lock:
            ctx = self.ctx
            ctx.rng = rng_for(self._seed, "stripe", self.account, resource, "control", ctx.new_id("ctl"))
            if row.parent is None:
                obj = row.factory(ctx, len(self.collections[resource]))
                if row.created_field not in fields:
                    obj[row.created_field] = now
                obj.update(fields)
                self.collections[resource].insert(
                    order_value(int(obj[row.created_field]), self._next_sequence()), obj
                )
                self._emit(row.events[0], now, obj)
                return obj
            parent_id = fields.pop("_parent", None) or (row.parent_param and fields.get(row.parent_param))
            if not parent_id:
                raise ValueError(f"{resource} needs '_parent' (the id of its {row.parent} object)")
            parent = self.collections[row.parent].get(str(parent_id))
            if parent is None:
                raise KeyError(f"no {row.parent} object {parent_id}")
            obj = row.factory(ctx, 0, parent)
            obj.update(fields)
            self.collections[resource].insert(self._next_sequence(), obj, str(parent_id))
            self._refresh_parent(row, str(parent_id), now)
            return obj

    def update(self, resource: str, object_id: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Merge fields into an object (``metadata`` merges key by key, ``None`` removes a key).

        Args:
            resource: Resource name.
            object_id: The object's id.
            fields: Fields to change.
            now: Sandbox time of the change (the updated event's ``created``).

        Returns:
            The updated object.

        Raises:
            KeyError: Unknown resource or id.
        """
        row = _row(resource)
        with self._lock:
            collection = self.collections[resource]
            old = collection.get(object_id)
            if old is None:
                raise KeyError(f"no {resource} object {object_id}")
            new = snapshot(old)
            previous: JsonObject = {}
            for key, value in fields.items():
                if key == "id":
                    continue
                if key == "metadata" and isinstance(value, dict):
                    merged = dict(new.get("metadata") or {})
                    changed = {k: merged.get(k) for k, v in value.items() if merged.get(k) != v}
                    merged.update(value)
                    new["metadata"] = {k: v for k, v in merged.items() if v is not None}
                    if changed:
                        previous["metadata"] = changed
                elif new.get(key) != value:
                    previous[key] = old.get(key)
                    new[key] = value
            collection.replace(new)
            if previous:
                self._emit(row.events[1], now, new, previous)
            if row.parent is not None:
                parent_id = collection.parent_of(object_id)
                if parent_id is not None:
                    self._refresh_parent(row, parent_id, now)
            return new

    def delete(self, resource: str, object_id: str, now: int) -> JsonObject:
        """Delete an object; emits its deleted event where Stripe has one.

        Args:
            resource: Resource name.
            object_id: The object's id.
            now: Sandbox time of the deletion.

        Returns:
            The deleted object as it was.

        Raises:
            KeyError: Unknown resource or id.
        """
        row = _row(resource)
        with self._lock:
            collection = self.collections[resource]
            parent_id = collection.parent_of(object_id)
            obj = collection.remove(object_id)
            self._emit(row.events[2], now, obj)
            if row.parent is not None and parent_id is not None:
                self._refresh_parent(row, parent_id, now)
            return obj

    def _refresh_parent(self, row: StripeResource, parent_id: str, now: int) -> None:
        """Recompute the parent's totals and embedded first page after one of its children changed."""
        assert row.parent is not None
        parents = self.collections[row.parent]
        parent = parents.get(parent_id)
        if parent is None or row.fill_parent is None:
            return
        children_coll = self.collections[row.name]
        children = [
            obj for _, child_id in children_coll.children(parent_id) if (obj := children_coll.get(child_id))
        ]
        new = snapshot(parent)
        row.fill_parent(self.ctx, new, children)
        previous = {key: parent.get(key) for key in new if parent.get(key) != new.get(key)}
        parents.replace(new)
        if previous:
            self._emit(RESOURCES_BY_NAME[row.parent].events[1], now, new, previous)

    def _emit(
        self, event_type: str | None, now: int, obj: JsonObject, previous: JsonObject | None = None
    ) -> None:
        if event_type is None:
            return
        event = self._event(event_type, now, snapshot(obj), previous)
        self.events.insert(order_value(now, self._next_sequence()), event)


def event_visible(event: JsonObject, now: int) -> bool:
    """Whether an event is still listed (Stripe keeps events for 30 days)."""
    return int(event["created"]) >= now - EVENT_RETENTION


def _row(resource: str) -> StripeResource:
    row = RESOURCES_BY_NAME.get(resource)
    if row is None:
        raise KeyError(f"unknown Stripe resource {resource!r}")
    return row
