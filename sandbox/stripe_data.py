"""One Stripe account's data: seeded from the resource table, plus its events and control mutations."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from sandbox import credentials as creds
from sandbox.seed import DAY, Scales, between, rng_for
from sandbox.store import Collection, JsonObject, SortKey
from sandbox.stripe_context import SeedContext, list_object
from sandbox.stripe_objects import stripe_object
from sandbox.stripe_resources import RESOURCES_BY_NAME, STRIPE_RESOURCES, StripeResource
from sandbox.stripe_versions import LEGACY, VersionHistory, render

EVENT_RETENTION = 30 * DAY
ACCOUNT_TAGS = {"acct_sandbox": "P", "acct_sandbox_a": "A", "acct_sandbox_b": "B"}


# List order is newest first; within one second, what was created later comes first. The primary sort
# value is therefore -(created * TICKS + tick), with tick 0 for seed data and increasing for changes.
TICKS = 10**9


def order_value(created: int, tick: int = 0) -> int:
    """The primary sort value of an object created at ``created`` (see ``TICKS``)."""
    return -(created * TICKS + tick)


def child_key(row: StripeResource, obj: JsonObject, sequence: int, tick: int = 0) -> int:
    """The primary sort value of a child: newest ``created`` first, or the order children were added."""
    return order_value(int(obj[row.created_field]), tick) if row.newest_first else sequence


def snapshot(obj: JsonObject) -> JsonObject:
    """A deep copy of an object as it is now (event payloads must not change with the object)."""
    copied: JsonObject = json.loads(json.dumps(obj))
    return copied


class StripeAccountData:
    """All objects and events of one Stripe account.

    Platform-owned resources (Connect accounts, and the persons and external accounts of every account)
    are seeded and stored in the platform's data only; their events land in the event list of the
    account they belong to, which ``resolve`` finds.

    Args:
        seed: Run seed.
        account: Account id.
        slot: Account index (0 = platform); selects the e-mail range.
        now: Sandbox time at generation.
        scales: Object counts.
        resolve: Finds another account's data by id (the platform's events about connected accounts).
        history: The account's default API version over time (events are rendered in it, and requests
            without ``Stripe-Version`` use it).
    """

    def __init__(
        self,
        seed: int,
        account: str,
        slot: int,
        now: int,
        scales: Scales,
        resolve: Callable[[str], StripeAccountData] | None = None,
        history: VersionHistory | None = None,
    ) -> None:
        self.account = account
        self.history = history or VersionHistory(LEGACY)
        self.is_platform = account == creds.STRIPE_PLATFORM_ACCOUNT
        self.created_at = now - 3 * 365 * DAY
        self.collections: dict[str, Collection] = {row.name: Collection(row.name) for row in STRIPE_RESOURCES}
        self.events = Collection("events")
        self.ctx = SeedContext(seed, account, ACCOUNT_TAGS.get(account, "X"), slot, now, self.collections)
        self._resolve = resolve
        self._seed = seed
        self._sequence = 0
        self._lock = threading.RLock()
        self._generate(scales)
        self._seed_events(now, scales.overrides.get("stripe.events"))

    # Seeding ----------------------------------------------------------------------------------------

    def _generate(self, scales: Scales) -> None:
        ctx = self.ctx
        for row in STRIPE_RESOURCES:
            if row.platform_owned and not self.is_platform:
                continue
            ctx.rng = rng_for(self._seed, "stripe", self.account, row.name)
            if row.parent is None:
                most = None if row.most is None else min(row.most, scales.default)
                count = max(row.minimum, scales.get("stripe", row.name, most))
                objects = [row.factory(ctx, index) for index in range(count)]
                ctx.generated[row.name] = objects
                field = row.created_field
                link = row.link
                # Objects without a creation time (entitlement features) keep the order they were made in.
                self.collections[row.name].load(
                    (
                        order_value(int(obj[field])) if field in obj else index,
                        obj,
                        link(ctx, obj) if link else None,
                    )
                    for index, obj in enumerate(objects)
                )
                continue
            parents = ctx.generated[row.parent]
            if row.platform_owned:
                # The platform's own persons and external accounts hang off its id (no row holds it).
                parents = [{"id": self.account, "object": "account", "created": self.created_at}, *parents]
            items: list[tuple[int, JsonObject, str | None]] = []
            children_all: list[JsonObject] = []
            for parent in parents:
                count = row.per_parent(ctx, parent) if row.per_parent else 1
                keyed = [
                    (child_key(row, child, self._next_sequence()), child)
                    for child in (row.factory(ctx, index, parent) for index in range(count))
                ]
                keyed.sort(key=lambda pair: (pair[0], pair[1]["id"]))
                children = [child for _, child in keyed]
                if row.fill_parent is not None:
                    row.fill_parent(ctx, parent, children)
                items.extend((key, child, str(parent["id"])) for key, child in keyed)
                children_all.extend(children)
            ctx.generated[row.name] = children_all
            self.collections[row.name].load(items)

    def _seed_events(self, now: int, most: int | None) -> None:
        """``*.created`` events for recent objects, then ``*.updated`` events for some objects.

        Objects up to 40 days old get a created event, so some events exist beyond the 30-day
        retention (stored, never listed) and tests can check that they stay hidden. ``most``
        (``--scale-for stripe.events=N``) keeps only the newest N: an account with less activity.
        """
        ctx = self.ctx
        ctx.rng = rng_for(self._seed, "stripe", self.account, "events")
        events: list[JsonObject] = []
        for row in STRIPE_RESOURCES:
            field, updated_type = row.created_field, row.events[1]
            collection = self.collections[row.name]
            # Objects without a creation time (bank accounts, cards...) and objects of other accounts
            # (persons of connected accounts) get no seeded events here.
            objects = [
                obj
                for obj in ctx.generated.get(row.name, [])
                if field in obj
                and self._owner(row, obj, collection.parent_of(str(obj["id"]))) == self.account
            ]
            for obj in objects:
                created_type = row.created_event(obj)
                # An object dated after now (an invoice finalized minutes after its creation) has no
                # event yet: Stripe's events are never from the future.
                if created_type and now - 40 * DAY <= int(obj[field]) <= now:
                    events.append(self._event(created_type, int(obj[field]), snapshot(obj)))
            if row.summary is not None:
                events.extend(self._seed_summaries(row, now))
            if updated_type:
                for obj in objects:
                    created = int(obj[field])
                    if "metadata" in obj and ctx.chance(0.1) and created < now - 120:
                        when = between(ctx.rng, max(created + 60, now - 45 * DAY), now - 60)
                        previous = {"metadata": {"tier": obj["metadata"].get("tier")}}
                        obj["metadata"] = {
                            **obj["metadata"],
                            "tier": ctx.choice(("basic", "pro", "enterprise")),
                        }
                        events.append(self._event(updated_type, when, snapshot(obj), previous))
        if most is not None:
            events = sorted(events, key=lambda event: int(event["created"]), reverse=True)[:most]
        self.events.load((order_value(int(event["created"])), event, None) for event in events)

    def _seed_summaries(self, row: StripeResource, now: int) -> list[JsonObject]:
        """One summary event per parent with children (customers granted entitlements), a minute after
        the parent was created, for parents up to 40 days old."""
        assert row.summary is not None
        assert row.parent is not None
        collection = self.collections[row.name]
        events = []
        for parent in self.ctx.generated.get(row.parent, []):
            when = int(parent.get("created", 0)) + 60
            keys = collection.children(str(parent["id"]))
            if keys and now - 40 * DAY <= when < now and row.events[0]:
                children = [obj for _, child_id in keys if (obj := collection.get(child_id)) is not None]
                summary = row.summary(str(parent["id"]), children)
                previous = {"entitlements": row.summary(str(parent["id"]), [])["entitlements"]}
                events.append(self._event(row.events[0], when, summary, previous))
        return events

    def _event(
        self, event_type: str, created: int, payload: JsonObject, previous: JsonObject | None = None
    ) -> JsonObject:
        # An event keeps the version of its creation, its object rendered in that version.
        version = self.history.at(created)
        data: JsonObject = {"object": render(payload, version)}
        if previous is not None:
            data["previous_attributes"] = previous
        event: JsonObject = {
            **stripe_object("event"),
            "id": self.ctx.new_id("evt", 24),
            "api_version": version,
            "created": created,
            "data": data,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if not self.is_platform:
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

    def include(self, obj: JsonObject, field: str) -> JsonObject | None:
        """The first page of a child list ``expand[]`` adds to an object (``customer.sources``...)."""
        row = INCLUDABLE.get((str(obj.get("object")), field))
        if row is None:
            return None
        return self.child_page(row, str(obj["id"]))

    def child_page(self, row: StripeResource, parent_id: str) -> JsonObject:
        """The first page (10) of a parent's child list, as Stripe embeds it."""
        collection = self.collections[row.name]
        keys = collection.children(parent_id)
        data = [obj for _, child_id in keys[:10] if (obj := collection.get(child_id)) is not None]
        return list_object(data, row.path.replace("{parent}", parent_id), len(keys) > 10, len(keys))

    def account_object(self) -> JsonObject:
        """The platform's own ``account`` object (``GET /v1/account`` without ``Stripe-Account``)."""
        return {
            **stripe_object("account"),
            "id": self.account,
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
            "external_accounts": self.child_page(RESOURCES_BY_NAME["external_accounts"], self.account),
        }

    # Mutations (control API) ------------------------------------------------------------------------

    def create(self, resource: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Create an object: a generated one with ``fields`` laid over it; emits its created event.

        Args:
            resource: Resource name.
            fields: Fields to set; child resources need ``_parent`` (or their parent parameter);
                linked resources (balance transactions) may name their link (a payout) in ``_parent``.
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
            collection = self.collections[resource]
            if row.parent is None:
                link = fields.pop("_parent", None)
                obj = row.factory(ctx, len(collection))
                timeless = row.created_field not in obj
                if row.created_field not in fields and not timeless:
                    obj[row.created_field] = now
                obj.update(fields)
                if link is None and row.link is not None:
                    link = row.link(ctx, obj)
                sequence = self._next_sequence()
                primary = (
                    len(collection) + sequence
                    if timeless
                    else order_value(int(obj[row.created_field]), sequence)
                )
                collection.insert(primary, obj, None if link is None else str(link))
                self._emit(row, row.created_event(obj), now, obj)
                return obj
            parent_id = fields.pop("_parent", None) or (row.parent_param and fields.get(row.parent_param))
            if not parent_id:
                raise ValueError(f"{resource} needs '_parent' (the id of its {row.parent} object)")
            parent_id = str(parent_id)
            parent = self.collections[row.parent].get(parent_id)
            if parent is None and not (row.platform_owned and parent_id == self.account):
                raise KeyError(f"no {row.parent} object {parent_id}")
            obj = row.factory(ctx, 0, parent or {"id": parent_id, "created": self.created_at})
            if row.created_field in obj and row.created_field not in fields:
                obj[row.created_field] = now
            obj.update(fields)
            sequence = self._next_sequence()
            key = child_key(row, obj, sequence, sequence)
            # The parent is refreshed with the new child in its place before the child is stored, so a
            # fill that sets fields of the child (running balances) never touches a served object.
            self._refresh_parent(row, parent_id, now, 0, ((key, str(obj["id"])), obj))
            collection.insert(key, obj, parent_id)
            self._emit(row, row.created_event(obj), now, obj, parent_id)
            return obj

    def update(self, resource: str, object_id: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Merge fields into an object (``metadata`` merges key by key, ``None`` removes a key).

        Emits the updated event with ``previous_attributes`` and the events of the transitions the change
        makes (a payout becoming ``paid`` emits ``payout.paid``).

        Args:
            resource: Resource name.
            object_id: The object's id.
            fields: Fields to change.
            now: Sandbox time of the change (the events' ``created``).

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
            parent_id = collection.parent_of(object_id)
            if previous:
                for event_type in (row.events[1], *row.transition_events(new, previous)):
                    self._emit(row, event_type, now, new, parent_id, previous)
            if row.parent is not None and parent_id is not None:
                self._refresh_parent(row, parent_id, now, 1)
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
            payload = row.deleted_payload(obj) if row.deleted_payload else obj
            self._emit(row, row.events[2], now, payload, parent_id, owner_of=obj)
            if row.parent is not None and parent_id is not None:
                self._refresh_parent(row, parent_id, now, 2)
            return obj

    def _refresh_parent(
        self,
        row: StripeResource,
        parent_id: str,
        now: int,
        action: int,
        added: tuple[SortKey, JsonObject] | None = None,
    ) -> None:
        """Recompute the parent's totals and embedded first page after one of its children changed.

        Args:
            row: The child's row.
            parent_id: The parent's id.
            now: Sandbox time of the change.
            action: 0 created, 1 updated, 2 deleted (selects the event from ``row.parent_events``).
            added: A new child and its sort key, not stored yet.
        """
        assert row.parent is not None
        parents = self.collections[row.parent]
        parent = parents.get(parent_id)
        if parent is None or row.fill_parent is None:
            return
        children_coll = self.collections[row.name]
        keyed = [
            (key, obj) for key in children_coll.children(parent_id) if (obj := children_coll.get(key[1]))
        ]
        if added is not None:
            keyed.append(added)
            keyed.sort(key=lambda pair: pair[0])
        new = snapshot(parent)
        row.fill_parent(self.ctx, new, [obj for _, obj in keyed])
        previous = {key: parent.get(key) for key in new if parent.get(key) != new.get(key)}
        if not previous:
            return
        parents.replace(new)
        parent_row = RESOURCES_BY_NAME[row.parent]
        event_type = parent_row.events[1] if row.parent_events is None else row.parent_events[action]
        self._emit(parent_row, event_type, now, new, parents.parent_of(parent_id), previous)

    def _owner(self, row: StripeResource, obj: JsonObject, parent_id: str | None) -> str:
        """The account whose event list records the events of an object."""
        if row.event_owner == "object":
            return str(obj["id"])
        if row.event_owner == "parent" and parent_id is not None:
            return parent_id
        return self.account

    def _emit(
        self,
        row: StripeResource,
        event_type: str | None,
        now: int,
        obj: JsonObject,
        parent_id: str | None = None,
        previous: JsonObject | None = None,
        owner_of: JsonObject | None = None,
    ) -> None:
        """Record an event on the account the object belongs to (``owner_of`` decides it if given)."""
        if event_type is None:
            return
        if row.summary is not None and parent_id is not None:
            # The event is about all the parent's children; before the change, the child was there if it
            # is gone now and missing if it is new.
            collection = self.collections[row.name]
            children = [child for key in collection.children(parent_id) if (child := collection.get(key[1]))]
            ids = {child["id"] for child in children}
            before = [c for c in children if c["id"] != obj["id"]] if obj["id"] in ids else [*children, obj]
            previous = {"entitlements": row.summary(parent_id, before)["entitlements"]}
            obj = row.summary(parent_id, children)
        owner = self._owner(row, obj if owner_of is None else owner_of, parent_id)
        target = self
        if owner != self.account:
            if self._resolve is None:
                return
            try:
                target = self._resolve(owner)
            except KeyError:
                return
        target.record_event(event_type, now, snapshot(obj), previous)

    def record_event(
        self, event_type: str, now: int, payload: JsonObject, previous: JsonObject | None
    ) -> None:
        """Add one event to this account's list (the payload must already be a snapshot)."""
        with self._lock:
            event = self._event(event_type, now, payload, previous)
            self.events.insert(order_value(now, self._next_sequence()), event)


INCLUDABLE: dict[tuple[str, str], StripeResource] = {
    (RESOURCES_BY_NAME[row.parent].object, row.includable): row
    for row in STRIPE_RESOURCES
    if row.includable and row.parent
}
"""Child lists ``expand[]`` can add to a parent, by ``(parent object, field)``."""


def _row(resource: str) -> StripeResource:
    row = RESOURCES_BY_NAME.get(resource)
    if row is None:
        raise KeyError(f"unknown Stripe resource {resource!r}")
    return row
