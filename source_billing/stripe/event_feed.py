"""One pass over a Stripe account's events per sync, dispatched to the streams that follow them.

Every event-following stream wants the events of its own types since its own cursor. Read separately,
that is one pass over `GET /v1/events` per stream and account (31 requests for a sync in which nothing
happened). The feed reads each account's events once, from the oldest cursor of the streams that read
events in this sync, and hands each stream the events of its types since its own cursor, newest first as
Stripe lists them. Each stream keeps its own cursor and state. Reference:
https://docs.stripe.com/api/events/list (newest first; `types[]` takes at most 20 types).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import IO, Any, Protocol

# Stripe's limit on `types[]`; a pass for more types (or for every event) asks for all of them.
MAX_TYPES = 20


Read = Callable[[Mapping[str, Any]], Iterable[MutableMapping[str, Any]]]
"""Reads `GET /v1/events` with a query: the events, page after page."""
Wanted = tuple[str, int, frozenset[str] | None]
"""A follower's name, since when it reads events and of which types (None: all)."""


def _dispatched(
    events: Iterable[MutableMapping[str, Any]], wanted: list[Wanted]
) -> Iterator[tuple[MutableMapping[str, Any], list[str]]]:
    """Each event with the followers that read it."""
    for event in events:
        names = [
            name
            for name, since, types in wanted
            if event["created"] >= since and (types is None or event["type"] in types)
        ]
        if names:
            yield event, names


class Follower(Protocol):
    """A stream that reads its changes from the feed."""

    @property
    def name(self) -> str: ...

    @property
    def event_types(self) -> frozenset[str] | None:
        """The event types it reads (None: every event)."""

    def events_since(self, partition: str) -> int | None:
        """Since when (unix seconds) it reads the account's events in this sync, None when it does not."""


class EventFeed:
    """The events of each account from the oldest cursor of its followers until `until`, read once.
    Thread-safe.

    Args:
        until: the end (exclusive, unix seconds) of every events window of the sync: the time the sync's
            streams were made, so that every follower's window ends at the same moment.
    """

    def __init__(self, until: int) -> None:
        self.until = until
        self._followers: list[Follower] = []
        # Each follower's events, one JSON line each, in a file of a directory removed with the feed.
        self._spools: dict[tuple[str, str], str] = {}
        self._directory: str | None = None
        self._names = itertools.count()
        self._failed: dict[str, Exception] = {}
        self._covered: dict[str, set[str]] = {}
        self._passed: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def follow(self, follower: Follower) -> None:
        """Register a stream that may read events in this sync (it says per account whether it does)."""
        with self._guard:
            self._followers.append(follower)

    def events(self, partition: str, follower: Follower, read: Read) -> Iterator[MutableMapping[str, Any]]:
        """The follower's events of the account, newest first. The first caller for an account reads them
        all with `read` (the query of `GET /v1/events` in, its events out); the others wait for that pass.
        A pass that failed fails every follower of the account. A follower the pass did not cover (its
        cursor was set after the pass) reads its own."""
        with self._guard:
            lock = self._locks.setdefault(partition, threading.Lock())
        with lock:
            if partition not in self._passed:
                self._passed.add(partition)
                try:
                    self._read_pass(partition, read)
                except Exception as error:
                    self._failed[partition] = error
            if partition in self._failed:
                raise self._failed[partition]
            covered = follower.name in self._covered[partition]
            with self._guard:
                path = self._spools.pop((partition, follower.name), None)
        if not covered:
            since = follower.events_since(partition)
            if since is not None:
                wanted = [(follower.name, since, follower.event_types)]
                yield from (event for event, _ in _dispatched(read(self._query(wanted)), wanted))
            return
        if path is None:
            return
        try:
            with open(path, "rb") as spool:
                for line in spool:
                    yield json.loads(line)
        finally:
            os.remove(path)

    def _read_pass(self, partition: str, read: Read) -> None:
        with self._guard:
            followers = list(self._followers)
        wanted = [
            (follower.name, since, follower.event_types)
            for follower in followers
            if (since := follower.events_since(partition)) is not None
        ]
        self._covered[partition] = {name for name, _, _ in wanted}
        if not wanted:
            return
        with contextlib.ExitStack() as files:
            spools: dict[str, IO[bytes]] = {}
            for event, names in _dispatched(read(self._query(wanted)), wanted):
                line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
                for name in names:
                    if name not in spools:
                        spools[name] = files.enter_context(open(self._spool(partition, name), "wb"))
                    spools[name].write(line)

    def _query(self, wanted: list[Wanted]) -> dict[str, Any]:
        """The `GET /v1/events` query of a pass: from the oldest cursor, of the types wanted where Stripe
        can filter them."""
        start = min(since for _, since, _ in wanted)
        query: dict[str, Any] = {"created[gte]": start, "created[lt]": self.until}
        if all(types is not None for _, _, types in wanted):
            every = set().union(*(types for _, _, types in wanted if types is not None))
            if len(every) <= MAX_TYPES:
                query["types[]"] = sorted(every)
        return query

    def _spool(self, partition: str, name: str) -> str:
        """A new file for the events of one follower and account."""
        with self._guard:
            if self._directory is None:
                self._directory = tempfile.mkdtemp(prefix="source-billing-events-")
                weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
            path = os.path.join(self._directory, f"{next(self._names)}.jsonl")
            self._spools[(partition, name)] = path
            return path
