"""The shape of a Stripe stream declaration: what to list, how to follow changes, where children live."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Cursor = Literal["updated", "created"]


@dataclass(frozen=True)
class Skip:
    """Owners whose children Stripe refuses to list, known from the owner itself (subscription items on
    meter-based billing have no usage record summaries): they are skipped, and counted in the stream's
    closing summary.

    Attributes:
        applies: Whether an owner is one of them.
        reason: What is counted, for the summary ("subscription items on meter-based billing skipped").
    """

    applies: Callable[[Mapping[str, Any]], bool]
    reason: str


@dataclass(frozen=True)
class Via:
    """Where an object read from an event finds its parent when it does not name it: the object at `path`
    (`{id}` standing for the event object's `field`) names it in `StripeObject.parent_field` (a credit
    balance transaction names its credit grant, whose `customer` is the parent).

    Attributes:
        field: The event object's field holding the intermediate object's id (`credit_grant`).
        path: The intermediate object's path (`billing/credit_grants/{id}`).
    """

    field: str
    path: str


@dataclass(frozen=True)
class Parent:
    """How the objects of a child stream hang under their parents.

    Attributes:
        path: The parents' list path (below `/v1/`).
        key: The field every child record gets, holding its parent's id (`invoice_id`).
        child_path: The children's list path; `{id}` stands for the parent's id.
        child_params: Query parameters of the children's list; `{id}` stands for the parent's id.
        embedded: The parent's field embedding the first page of its children, when it has one.
        created_filter: Whether the parents' list accepts `created` filters (then it is read in windows).
        params: Query parameters of the parents' list.
        events: Event types whose object is a parent (or, with `through`, the parent's own parent): the
            children of a changed parent are emitted again.
        through: When the parents are themselves children (subscription items, listed per subscription).
        single: The parent is one object (`GET /v1/account`: the account being read), not a list.
        event_key: The field of an event's object naming the parent (`customer` in an entitlement
            summary), when the event's object is not the parent itself.
        forbidden_skips: A 403 on one parent's children skips that parent with a warning instead of failing
            the stream (a Connect platform may not read the persons of Standard or Express accounts).
        skip: Parents whose children are known not to be listable.
        child_version: The API version the children's list is read in, where the pinned version removed it
            (legacy usage records).
    """

    path: str
    key: str
    child_path: str
    child_params: Mapping[str, str] = field(default_factory=dict)
    embedded: str | None = None
    created_filter: bool = True
    params: Mapping[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    through: Parent | None = None
    single: bool = False
    event_key: str = "id"
    forbidden_skips: bool = False
    skip: Skip | None = None
    child_version: str | None = None

    @property
    def retrieve(self) -> str:
        """The path of one parent, re-read when an event rendered it in another API version."""
        return f"{self.path}/{{id}}"


@dataclass(frozen=True)
class StripeObject:
    """One Stripe stream.

    Attributes:
        name: The stream name (Airbyte source-stripe's).
        reference: The API reference of its list endpoint.
        path: The list path below `/v1/` (top-level streams); children are listed through `parent`.
        cursor: `updated` (changes followed through `/v1/events`), `created` (append-only: windows of
            creation time), or None (full refresh only: Stripe offers no way to see what changed).
        created_filter: Whether the list accepts `created` filters (then it is read in windows).
        params: Query parameters of the list (`status=all` where Stripe hides some objects by default).
        events: Event types whose object is a record of this stream.
        object_type: The `object` value of this stream's records, where an endpoint or event type mixes
            several (customer sources are cards or bank accounts).
        parent_field: Where an object read from an event names its parent, to fill `parent.key`.
        via: When the object names its parent only through another object (see `Via`).
        parent: For child streams.
        platform_only: Read with the platform's key only, never per Connect account (the accounts list).
        schema: The schema file of its records, when not its own name ("" for an open object).
        retrieve: The path of one record, `{field}` standing for the record's fields; by default the list
            path and `/{id}`. Objects an event rendered in another API version are read again there.
        lists_new: Stripe sends no event when an object is created (checkout sessions): incremental syncs
            also list the objects created since the cursor.
        refreshed: Nothing shows what changed (usage accrues without events; persons change in each
            connected account's own events): incremental syncs read the stream in full when its last full
            read (its `updated` cursor) is `stripe.refresh_interval_hours` old, and emit nothing in between.
        primary_key: The record fields that identify a record.
    """

    name: str
    reference: str
    path: str | None = None
    cursor: Cursor | None = "updated"
    created_filter: bool = True
    params: Mapping[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    object_type: str | None = None
    parent_field: str | None = None
    via: Via | None = None
    parent: Parent | None = None
    platform_only: bool = False
    schema: str | None = None
    retrieve: str | None = None
    lists_new: bool = False
    refreshed: bool = False
    primary_key: str | tuple[str, ...] = "id"

    @property
    def follows_events(self) -> bool:
        """Whether incremental syncs read `/v1/events` rather than the list."""
        return self.cursor == "updated" and not self.refreshed

    @property
    def is_event_list(self) -> bool:
        """Whether the stream is the account's events themselves (read from the feed once synced)."""
        return self.path == "events"

    @property
    def retrieve_path(self) -> str | None:
        """The path template of one record (see `retrieve`), None where there is no way to read one."""
        if self.retrieve is not None:
            return self.retrieve
        return f"{self.path}/{{id}}" if self.path else None

    @property
    def event_types(self) -> frozenset[str] | None:
        """The event types an incremental sync reads (None: every event)."""
        if self.is_event_list:
            return None
        return frozenset(self.events or (self.parent.events if self.parent else ()))
