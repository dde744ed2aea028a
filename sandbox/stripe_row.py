"""The shape of one row of the Stripe resource table (``sandbox.stripe_resources``) and row helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext

Factory = Callable[..., JsonObject]
FillParent = Callable[[SeedContext, JsonObject, list[JsonObject]], None]
EventTypes = tuple[str | None, str | None, str | None]
Transition = tuple[str, Any, str]


@dataclass(frozen=True)
class StripeResource:
    """One Stripe list endpoint and the objects behind it.

    Attributes:
        name: Resource name (control API, ``--scale-for stripe.NAME``).
        path: List path; ``{parent}`` stands for the parent's id in child lists.
        object: The ``object`` value of its items (child lists may mix two kinds: see ``subset_paths``).
        factory: Builds one object: ``(ctx, index)`` or, for children, ``(ctx, index, parent)``.
        created_filter: Whether the list accepts ``created`` / ``created[gt|gte|lt|lte]``.
        filters: Equality filters the list accepts (``customer``, ``status``...).
        parent: For child resources, the parent resource's name.
        parent_param: Query parameter that names the parent when the path does not (required then).
        per_parent: Children of one parent when seeding: ``(ctx, parent) -> count``.
        fill_parent: Updates the parent (totals, embedded first page) from all its children, in list order.
        includable: Field of the parent that ``expand[]`` fills with the first page of this child list.
        newest_first: Children are listed newest ``created`` first (else in the order they were added).
        events: Event types emitted on create, update and delete (None where Stripe has none).
        transitions: ``(field, value, event type)``: emitted when an update sets the field to the value;
            on creation, the first one the object matches stands in for a missing created type.
        parent_events: Event types about the parent when a child is created, updated or deleted; None
            means the parent's own updated type whenever the parent changed.
        event_owner: Whose event list the events land in: ``""`` this account's, ``"parent"`` the parent
            account's (persons, external accounts), ``"object"`` the account the object is (accounts).
        deleted_payload: Builds the deleted event's ``data.object`` when it is not the object itself.
        platform_owned: Seeded and stored in the platform account only: Connect accounts and the objects
            of each account (the platform's own under the parent id ``acct_sandbox``).
        minimum: Objects seeded whatever the scale says (the Connect accounts the sandbox serves).
        most: Objects seeded at most, unless ``--scale-for`` names the resource (a handful of meters).
        link: For top-level objects, the id of the object a ``link_param`` filter finds them by.
        link_param: Query parameter that lists the objects linked to one object (``payout``).
        link_resource: Resource of the objects ``link_param`` names.
        link_view: Control API name of the list of linked objects, each with ``_parent``.
        subset_paths: ``(path, field, value)``: more list paths that serve the objects whose field
            equals the value (``/customers/{parent}/cards`` for ``object=card``).
        search_fields: Fields ``/search`` accepts; empty means the resource has no search endpoint.
        restricted: Whether the sandbox's restricted key lacks permission for it.
        permission: The permission Stripe would name in the 403 message.
        rate_group: ``files`` for the Files API's own 20/s limit.
        alt_path: A second list path whose ``{parent}`` is matched against ``alt_field``.
        alt_field: The field ``alt_path``'s parent id is compared with.
        hidden_statuses: Statuses a list omits unless ``status`` is given (subscriptions: canceled).
        created_field: The field holding the creation time (invoice items call it ``date``); objects
            without one (entitlement features) keep the order they were added in.
        retrievable: For child resources, whether ``GET {path}/{id}`` retrieves one of them (top-level
            resources always have it).
        refuse: Given a parent, the ``(status, message)`` Stripe answers instead of listing its children
            (usage summaries of items on meters, persons of Standard accounts), or None.
        summary: Builds the ``data.object`` of the events about a parent's children from all of them
            (``entitlements.active_entitlement_summary``): ``(parent id, children) -> object``.
    """

    name: str
    path: str
    object: str
    factory: Factory
    created_filter: bool = False
    filters: tuple[str, ...] = ()
    parent: str | None = None
    parent_param: str | None = None
    per_parent: Callable[[SeedContext, JsonObject], int] | None = None
    fill_parent: FillParent | None = None
    includable: str | None = None
    newest_first: bool = False
    events: EventTypes = (None, None, None)
    transitions: tuple[Transition, ...] = ()
    parent_events: EventTypes | None = None
    event_owner: str = ""
    deleted_payload: Callable[[JsonObject], JsonObject] | None = None
    platform_owned: bool = False
    minimum: int = 0
    most: int | None = None
    link: Callable[[SeedContext, JsonObject], str | None] | None = None
    link_param: str | None = None
    link_resource: str | None = None
    link_view: str | None = None
    subset_paths: tuple[tuple[str, str, str], ...] = ()
    search_fields: tuple[str, ...] = ()
    restricted: bool = False
    permission: str = ""
    rate_group: str = ""
    alt_path: str | None = None
    alt_field: str | None = None
    hidden_statuses: tuple[str, ...] = ()
    created_field: str = "created"
    retrievable: bool = False
    refuse: Callable[[JsonObject], tuple[int, str] | None] | None = None
    summary: Callable[[str, list[JsonObject]], JsonObject] | None = None

    @property
    def is_child(self) -> bool:
        """Whether objects of this resource belong to a parent object."""
        return self.parent is not None

    @property
    def retrieve_path(self) -> str | None:
        """``GET`` path of one object (top-level resources, and the children Stripe retrieves by id)."""
        return self.path + "/{id}" if not self.is_child or self.retrievable else None

    def created_event(self, obj: JsonObject) -> str | None:
        """The event type a new object emits: the created type, else the transition it already matches."""
        if self.events[0]:
            return self.events[0]
        return next((kind for field, value, kind in self.transitions if obj.get(field) == value), None)

    def transition_events(self, new: JsonObject, previous: JsonObject) -> list[str]:
        """The transition event types an update that changed ``previous``'s keys sets off."""
        return [
            kind for field, value, kind in self.transitions if field in previous and new.get(field) == value
        ]


def few(low: int, high: int) -> Callable[[SeedContext, JsonObject], int]:
    """Between ``low`` and ``high`` children per parent."""

    def count(ctx: SeedContext, parent: JsonObject) -> int:
        return ctx.rng.randint(low, high)

    return count


def some(share: float, low: int, high: int, many: tuple[float, int, int] = (0.0, 0, 0)) -> Callable[..., int]:
    """No children for most parents: ``share`` of them get ``low..high``, ``many[0]`` get ``many[1..2]``.

    The ``many`` share exists so that embedded first pages (10 items) have ``has_more``.
    """

    def count(ctx: SeedContext, parent: JsonObject) -> int:
        draw = ctx.rng.random()
        if draw < many[0]:
            return ctx.rng.randint(many[1], many[2])
        if draw < many[0] + share:
            return ctx.rng.randint(low, high)
        return 0

    return count


def events(prefix: str, created: bool = True, updated: bool = True, deleted: bool = False) -> EventTypes:
    """``prefix.created``, ``prefix.updated`` and ``prefix.deleted`` as Stripe has them."""
    return (
        f"{prefix}.created" if created else None,
        f"{prefix}.updated" if updated else None,
        f"{prefix}.deleted" if deleted else None,
    )


def on_status(prefix: str, field: str = "status", **types: str) -> tuple[Transition, ...]:
    """Transitions of one field: ``on_status("payout", paid="paid")`` -> status paid emits payout.paid."""
    return tuple((field, value, f"{prefix}.{kind}") for value, kind in types.items())
