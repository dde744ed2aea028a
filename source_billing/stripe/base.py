"""Stripe's base stream: URL, auth, `starting_after` pagination, Connect accounts, errors and rate budget,
and the three ways a Stripe stream is read (a list in windows of `created`, children under their parents,
and `/v1/events` for what changed since the last sync).

Reference: https://docs.stripe.com/api/pagination, https://docs.stripe.com/connect/authentication,
https://docs.stripe.com/rate-limits, https://docs.stripe.com/api/events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from functools import partial
from typing import Any, ClassVar

import pendulum
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.http_client import HttpClient

from source_billing.http.base_stream import FIRST_SPLIT_PAGES, Page, WindowedStream
from source_billing.http.errors import response_json
from source_billing.http.pages import Paginator, Request, StartingAfter
from source_billing.incremental.cursors import (
    DEFAULT_PARTITION,
    parse_unix_seconds,
    this_second,
    window_params,
)
from source_billing.stripe.api import StripeApi, stripe_error_detail, stripe_error_mapping, stripe_headers
from source_billing.stripe.declarations import Parent, StripeObject
from source_billing.stripe.event_feed import EventFeed

PAGE_SIZE = 100  # Stripe's maximum
# Without `slice_range_days`, a list is one window from the start date that splits as it turns out dense:
# n objects cost about n / 100 requests, where a window per year since the start date cost one more each.
WHOLE_RANGE_DAYS = 100 * 365
ACCOUNT_ID_FIELD = "stripe_account_id"
# Stripe keeps events for 30 days; a day less leaves room for the sync itself and for clock differences.
EVENTS_KEPT = pendulum.duration(days=30)
EVENTS_REACH = EVENTS_KEPT - pendulum.duration(days=1)


class StripeStream(WindowedStream):
    """One Stripe stream, as declared by a `StripeObject` row."""

    api_name = "Stripe"
    schema_package = "source_billing.stripe"
    epoch: ClassVar[pendulum.DateTime] = pendulum.datetime(2011, 1, 1)  # before Stripe's public launch
    newest_first = True  # its list reads split dense windows
    error_detail = staticmethod(stripe_error_detail)
    paginator: Paginator = StartingAfter()

    _api: StripeApi

    def __init__(self, *, api: StripeApi, events: EventFeed, row: StripeObject) -> None:
        self._event_feed = events
        self._row = row
        super().__init__(
            api=api,
            error_mapping=stripe_error_mapping(),
            start_date=api.config.start_date,
            lookback_window_days=api.config.lookback_window_days,
            slice_range_days=api.config.slice_range_days or WHOLE_RANGE_DAYS,
        )
        # Children of a parent deleted between listing it and listing them are gone, and so is an object
        # deleted between its event and its re-read: skip them, with a word. Where Stripe may refuse one
        # parent's children (persons of a Standard account), that parent is skipped too.
        gone = ErrorResolution(ResponseAction.IGNORE, None, "The object no longer exists.")
        skipped: dict[int | str | type[Exception], ErrorResolution] = {404: gone}
        if row.parent is not None and row.parent.forbidden_skips:
            skipped[403] = ErrorResolution(ResponseAction.IGNORE, None, "Stripe refused access to it.")
        self._child_client = self.side_client(self.name, {**stripe_error_mapping(), **skipped})
        # Parents of objects read from events, found through another object (`Via`), asked once each.
        self._via_parents: dict[str, Any] = {}
        if row.follows_events or row.is_event_list:
            events.follow(self)

    @property
    def name(self) -> str:
        return self._row.name

    @property
    def primary_key(self) -> str | list[str]:
        key = self._row.primary_key
        return key if isinstance(key, str) else list(key)

    @property
    def schema_name(self) -> str | None:
        schema = self._row.schema
        return self._row.name if schema is None else schema or None

    @property
    def cursor_field(self) -> str | list[str]:
        return self._row.cursor or []

    @property
    def api(self) -> StripeApi:
        """What it shares with the other Stripe streams of the sync: settings, budget, breaker."""
        return self._api

    @property
    def event_types(self) -> frozenset[str] | None:
        return self._row.event_types

    def events_since(self, partition: str) -> int | None:
        """Since when this sync reads the partition's changes from its events: the saved cursor less the
        lookback; None without a saved cursor, or when that is older than Stripe keeps events."""
        saved = self._cursor.value(partition)
        if saved is None or not (self._row.follows_events or self._row.is_event_list):
            return None
        since = self.resume_from(self.parse_cursor(saved))
        if since < pendulum.from_timestamp(self._event_feed.until) - EVENTS_REACH:
            return None
        return self.format_cursor(since)

    def path(self, **_: Any) -> str:
        return self._listed().path or ""

    def format_cursor(self, moment: pendulum.DateTime) -> int:
        return int(moment.timestamp())

    def parse_cursor(self, value: Any) -> pendulum.DateTime:
        return parse_unix_seconds(value)

    def partitions(self) -> Iterable[str]:
        if self._row.platform_only:
            return (DEFAULT_PARTITION,)
        return self._api.config.account_ids or (DEFAULT_PARTITION,)

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        """Per partition: the events since the saved cursor when they still reach back that far; nothing
        for a refreshed stream read in full recently; otherwise the list, in windows of creation time when
        it accepts `created` filters."""
        now = this_second()
        for partition in self.partitions():
            saved = self._cursor.value(partition) if sync_mode == SyncMode.incremental else None
            if saved is not None and (since := self.events_since(partition)) is not None:
                end = self._event_feed.until
                self._cursor.open(partition, end)
                yield {"partition": partition, "events": True, "start": since, "end": end, "checkpoint": end}
                continue
            if saved is not None and self._row.refreshed:
                due = self.parse_cursor(saved) + pendulum.duration(
                    hours=self._api.config.refresh_interval_hours
                )
                if now < due:
                    self.logger.info(
                        f"Stream {self.name}{_for_account(partition)}: read in full at "
                        f"{self.parse_cursor(saved).to_iso8601_string()}; the next full read is due at "
                        f"{due.to_iso8601_string()} (`stripe.refresh_interval_hours`)."
                    )
                    continue
                saved = None
            if saved is not None and self._row.follows_events:
                self.logger.warning(
                    f"Stream {self.name}{_for_account(partition)}: the saved cursor "
                    f"{self.resume_from(self.parse_cursor(saved)).to_iso8601_string()} is older than "
                    "Stripe keeps events (30 days), so changes since then cannot be read from events; "
                    "re-reading the stream in full."
                )
                saved = None
            if self._listed().created_filter:
                start = self._start_date or self.epoch
                if self._row.is_event_list:  # nothing older is listed
                    start = max(start, now - EVENTS_KEPT)
                if saved is not None:  # append-only: what was created since the cursor
                    start = max(start, self.resume_from(self.parse_cursor(saved)))
                for window in self.window_slices(
                    partition, start, now, open_ended=sync_mode == SyncMode.full_refresh
                ):
                    yield {**window, "as_of": self.format_cursor(now)}
            else:
                end = self.format_cursor(now)
                self._cursor.open(partition, end)
                yield {"partition": partition, "start": None, "end": None, "checkpoint": end, "as_of": end}

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        partition = stream_slice.get("partition", DEFAULT_PARTITION)
        account_id = None if partition == DEFAULT_PARTITION else partition
        headers = stripe_headers(self._api.config, partition)
        window = window_params("created", stream_slice)
        if stream_slice.get("events"):
            changes = (
                self._feed(partition, headers)
                if self._row.is_event_list
                else self._changed(window, headers, partition)
            )
            for record in changes:
                record[ACCOUNT_ID_FIELD] = account_id
                yield record
            return
        skipped: list[str] = []
        if self._row.parent:
            records = self._all_children(self._row.parent, window, headers, skipped)
        else:
            records = self._pages(self.path(), {**self._row.params, **window}, headers, window=stream_slice)
        # A list shows each object as it is when read: `updated` is the read's time, later than any event
        # already synced for it and earlier than any event the next sync will read.
        as_of = stream_slice.get("as_of")
        for record in records:
            record["updated"] = as_of
            record[ACCOUNT_ID_FIELD] = account_id
            yield record
        parent = self._row.parent
        if skipped and parent is not None and parent.skip is not None:
            self.stats.note(parent.skip.reason, len(skipped))

    def _listed(self) -> StripeObject | Parent:
        """What the windows of a list read slice: the stream's own list, or its top-most parents' list."""
        parent = self._row.parent
        while parent is not None and parent.through is not None:
            parent = parent.through
        return parent or self._row

    def _pages(
        self,
        path: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
        client: HttpClient | None = None,
        window: Mapping[str, Any] | None = None,
    ) -> Iterator[MutableMapping[str, Any]]:
        """Every object of a list (`ApiStream.read_pages` with Stripe's `starting_after` paging).

        Reading a `window` slice of creation time, it may hand what it has not reached to other workers:
        after its first pages what a dense window holds beyond its next pages (`WindowedStream.split_window`),
        later the older half of what is left when the stream's limits have room (`split_idle`); this read
        then keeps to the objects created from the new lower bound on."""
        request = Request(self.url_base + path, {**params, "limit": PAGE_SIZE})
        narrow = None if window is None else partial(self._narrow, window)
        for page in self.read_pages(request, self.paginator, headers=headers, client=client, narrow=narrow):
            status = page.response.status_code
            if status == 404:
                self.logger.warning(f"Stream {self.name}: {path} no longer exists; its objects are skipped.")
            elif status == 403:
                detail = stripe_error_detail(response_json(page.response))
                reading = _for_account(headers.get("Stripe-Account", DEFAULT_PARTITION))
                self.logger.warning(
                    f"Stream {self.name}: skipped {path}{reading}: Stripe refused access (HTTP 403: "
                    f"{detail}). The other accounts are read."
                )
            yield from page.records

    def _narrow(self, window: Mapping[str, Any], page: Page, pages: int, following: Request) -> Request:
        """The request of a window's next page, from a higher lower bound once this read handed the older
        part of the window to another worker."""
        # Objects that filter on `created` but do not show it (invoice items show `date`) are not split.
        reached = page.records[-1].get("created") if page.records else None
        if not isinstance(reached, int) or pages < FIRST_SPLIT_PAGES:
            return following
        narrowed = (
            self.split_window(window, reached, pages=pages)
            if pages == FIRST_SPLIT_PAGES
            else self.split_idle(window, page.request.params.get("created[gte]"), reached, pages)
        )
        return following if narrowed is None else following.narrowed(**{"created[gte]": narrowed})

    def _children(
        self,
        parent: Parent,
        owner: Mapping[str, Any],
        headers: Mapping[str, str],
        skipped: list[str] | None = None,
    ) -> Iterator[MutableMapping[str, Any]]:
        """The children of one parent object: its embedded first page, and the child list only when the
        embedded list says it has more (or when the parent embeds nothing). A parent that `parent.skip`
        says has no listable children is only counted in `skipped`."""
        owner_id = owner["id"]
        if parent.skip is not None and parent.skip.applies(owner):
            if skipped is not None:
                skipped.append(owner_id)
            return
        if parent.child_version is not None:
            headers = {**headers, "Stripe-Version": parent.child_version}
        params = {key: value.format(id=owner_id) for key, value in parent.child_params.items()}
        embedded = owner.get(parent.embedded) if parent.embedded else None
        if isinstance(embedded, Mapping) and isinstance(embedded.get("data"), list):
            data = embedded["data"]
            if not embedded.get("has_more") or not data:
                yield from data
                return
            if owner.get("deleted"):
                yield from data  # what the deleted parent's payload still shows
                return
            if not params:
                # Continue after the embedded page; a filtered child list (`object=card`) does not page in
                # the embedded list's order, so it is read from its start instead.
                yield from data
                params["starting_after"] = data[-1]["id"]
        elif owner.get("deleted"):
            return
        yield from self._pages(parent.child_path.format(id=owner_id), params, headers, self._child_client)

    def _descendants(
        self,
        parent: Parent,
        ancestor: Mapping[str, Any],
        headers: Mapping[str, str],
        skipped: list[str] | None = None,
    ) -> Iterator[MutableMapping[str, Any]]:
        """This stream's records under one top-most parent, each naming its direct parent."""
        owners: Iterable[Mapping[str, Any]] = (
            self._children(parent.through, ancestor, headers) if parent.through else (ancestor,)
        )
        object_type = self._row.object_type
        for owner in owners:
            for child in self._children(parent, owner, headers, skipped):
                if object_type and child.get("object") != object_type:
                    continue
                child[parent.key] = owner["id"]
                yield child

    def _all_children(
        self, parent: Parent, window: Mapping[str, Any], headers: Mapping[str, str], skipped: list[str]
    ) -> Iterator[MutableMapping[str, Any]]:
        top = self._listed()
        assert isinstance(top, Parent)
        ancestors: Iterable[Mapping[str, Any]]
        if top.single:  # an object of its own (the account): gone only if the API said 404, which fails here
            single = self.fetch(self.url_base + top.path, headers=headers)
            ancestors = () if single is None else (single,)
        else:
            ancestors = self._pages(top.path, {**top.params, **window}, headers)
        for ancestor in ancestors:
            yield from self._descendants(parent, ancestor, headers, skipped)

    def _reread(
        self, template: str, changed: Mapping[str, Any], params: Mapping[str, str], headers: Mapping[str, str]
    ) -> MutableMapping[str, Any] | None:
        """An object as the pinned API version shows it now (None once it no longer exists), with the same
        embedded lists as its list read (`expand[]=data.x` becomes `expand[]=x`)."""
        expand = {key: value.removeprefix("data.") for key, value in params.items() if key == "expand[]"}
        return self.fetch(
            self.url_base + template.format_map(changed), self._child_client, headers=headers, params=expand
        )

    def _events(self, partition: str, headers: Mapping[str, str]) -> Iterator[MutableMapping[str, Any]]:
        """This stream's events of the account since its cursor, newest first (from the account's one pass
        of this sync)."""
        return self._event_feed.events(partition, self, partial(self._pages, "events", headers=headers))

    def _feed(self, partition: str, headers: Mapping[str, str]) -> Iterator[MutableMapping[str, Any]]:
        """The `events` stream's records since its cursor: the events themselves."""
        for event in self._events(partition, headers):
            event["updated"] = self._event_feed.until
            yield event

    def _changed(
        self, window: Mapping[str, Any], headers: Mapping[str, str], partition: str
    ) -> Iterator[MutableMapping[str, Any]]:
        """The objects that events report changed in the window, each once, in its newest version.

        Events list newest first, so the first event seen for an object carries its latest state. The set
        of ids seen is bounded by the objects changed in one window. Stripe renders an event's object in
        the API version of the event's creation: an object (or a parent with embedded children) rendered in
        another version than the pinned one is read again by id, so that every record has the pinned
        version's shape; a deleted object keeps the event's payload.
        """
        row = self._row
        parent = row.parent if not row.events else None
        pinned = self._api.config.api_version
        key = parent.event_key if parent else "id"
        seen: set[str] = set()
        reread = 0
        for event in self._events(partition, headers):
            changed = event["data"]["object"]
            object_id = changed.get(key)
            if not object_id or object_id in seen:
                continue
            seen.add(object_id)
            deleted = event["type"].endswith(".deleted")
            stale = not deleted and event.get("api_version") != pinned
            if parent is None:
                if row.object_type and changed.get("object") != row.object_type:
                    continue
                template = row.retrieve_path
                if stale and template is not None:
                    current = self._reread(template, changed, row.params, headers)
                    if current is None:
                        continue  # deleted since: its deletion event comes with a later window
                    changed, reread = current, reread + 1
                if row.parent and row.parent_field:
                    changed[row.parent.key] = self._parent_of(changed, headers)
                changed["updated"] = event["created"]
                changed["is_deleted"] = deleted
                yield changed
                continue
            if key != "id":
                changed = {"id": object_id}  # the event names the parent: its children come from their list
            elif stale and parent.embedded:
                current = self._reread(parent.retrieve, changed, parent.params, headers)
                if current is None:
                    continue
                changed, reread = current, reread + 1
            for child in self._descendants(parent, changed, headers):
                child["updated"] = event["created"]
                child["is_deleted"] = deleted
                yield child
        if row.lists_new and row.path:
            # No event announces a new object: what was created since the cursor comes from the list.
            as_of = window.get("created[lt]")
            for created in self._pages(row.path, {**row.params, **window}, headers):
                if created["id"] not in seen:
                    created["updated"] = as_of
                    created["is_deleted"] = False
                    yield created
        if reread:
            self.stats.note(
                f"objects rendered in another API version by their events, read again in {pinned}", reread
            )

    def _parent_of(self, changed: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
        """The id of the parent of an object read from an event: its `parent_field`, or, `via` another
        object, that object's (asked once per sync for each such object)."""
        row = self._row
        assert row.parent_field is not None
        if row.via is None:
            return changed.get(row.parent_field)
        through = changed.get(row.via.field)
        if not isinstance(through, str):
            return None
        if through not in self._via_parents:
            found = self._reread(row.via.path, {"id": through}, {}, headers)
            self._via_parents[through] = None if found is None else found.get(row.parent_field)
        return self._via_parents[through]


def _for_account(partition: str) -> str:
    return "" if partition == DEFAULT_PARTITION else f" (account {partition})"
