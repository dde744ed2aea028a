"""Incremental reads of an Orb list under each subscription whose objects change only while their
subscription is open: licenses (https://docs.withorb.com/api-reference/license/list-licenses).

Orb's licenses have no creation or update time to filter on, and they change after creation: a license is
deactivated (`status` inactive, `end_date` set), or ends with its subscription. They are read per
subscription, and the way `changes.py` keeps invoices and subscriptions current, an incremental sync reads
the licenses of:

1. every subscription now open (active or upcoming): the only ones whose licenses still change;
2. every subscription the previous sync saw open (the state's `open_subscription_ids`): it may have ended
   since, and its licenses with it;
3. every subscription created since the previous sync began (less the lookback), whatever its status.

Its licenses are emitted whole, changed or not, under their id. The state moves once every subscription of
the sync was read: a sync that breaks off leaves the previous state, and the next one reads it all again.
Not seen without a full refresh: a license of a subscription that had already ended before the previous
sync, changed after it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import pendulum
from airbyte_cdk.models import SyncMode

from source_billing.incremental.cursors import parse_iso_timestamp
from source_billing.orb.base import OrbApi, orb_timestamp
from source_billing.orb.children import PARENT, OrbChildObject, OrbChildStream

OPEN_IDS = "open_subscription_ids"
SYNCED_FROM = "synced_from"
LICENSE_CURSOR = "start_date"


class ParentTrackingStream(OrbChildStream):
    """An Orb list per subscription, incremental by re-reading the subscriptions that are or were open.

    The state is `{"open_subscription_ids": [...], "synced_from": <start of the last completed sync>}`.
    """

    def __init__(self, *, api: OrbApi, row: OrbChildObject) -> None:
        self._open_statuses = frozenset(row.open_parent_statuses)
        self._lock = threading.Lock()
        self._saved_open: frozenset[str] = frozenset()
        self._synced_from: str | None = None
        # This sync's progress: parents listed and not yet closed, the open ones seen, and whether the list
        # of parents is complete; the state moves when it is and nothing is pending.
        self._pending: set[str] = set()
        self._seen_open: set[str] = set()
        self._listed = False
        self._started: str | None = None
        super().__init__(api=api, row=row)

    @property
    def cursor_field(self) -> str:
        return LICENSE_CURSOR

    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            if self._synced_from is None:
                return {}
            return {OPEN_IDS: sorted(self._saved_open), SYNCED_FROM: self._synced_from}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        value = value or {}
        saved_open, synced_from = value.get(OPEN_IDS), value.get(SYNCED_FROM)
        try:
            valid_from = None if synced_from is None else orb_timestamp(parse_iso_timestamp(synced_from))
        except (TypeError, ValueError):
            valid_from = None  # unreadable: read every subscription's list again
        open_ids = frozenset(str(i) for i in saved_open) if isinstance(saved_open, list) else frozenset()
        with self._lock:
            self._saved_open, self._synced_from = open_ids, valid_from

    def parents(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        with self._lock:
            self._started = orb_timestamp(pendulum.now("UTC"))
            self._pending, self._seen_open, self._listed = set(), set(), False
            every = sync_mode != SyncMode.incremental or self._synced_from is None
            saved_open = self._saved_open
            since = None if every else self.resume_from(parse_iso_timestamp(self._synced_from))
        for parent in super().parents(sync_mode):
            parent_id = str(parent["id"])
            is_open = parent.get("status") in self._open_statuses
            created = parent.get("created_at")
            new = since is None or created is None or parse_iso_timestamp(created) >= since
            if not (is_open or parent_id in saved_open or new):
                continue
            with self._lock:
                self._pending.add(parent_id)
                if is_open:
                    self._seen_open.add(parent_id)
            yield parent
        with self._lock:
            self._listed = True
            self._commit_if_done()

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        with self._lock:
            self._pending.discard(stream_slice[PARENT])
            self._commit_if_done()

    def _commit_if_done(self) -> None:
        if self._listed and not self._pending and self._started is not None:
            self._saved_open, self._synced_from = frozenset(self._seen_open), self._started
            self._listed = False
