"""Whether anything happened in a Stripe account since a moment: one request per account and sync.

Every event-following stream reads `GET /v1/events` for its own event types since its own cursor. On a sync
with no changes, each of them would still spend a request (31 streams, 31 requests per account) to learn
that nothing happened. The account's newest event, of any type, answers that for all of them at once:
a stream whose cursor is past it has no event to read. Reference: https://docs.stripe.com/api/events/list
(newest first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class EventFeed:
    """The newest event time of each account, asked once per sync and shared by its streams. Thread-safe.

    The answer is kept for the rest of the sync: an event created after it is later than the windows of
    this sync's event slices (they end when the sync's slices were made, before any was read), so it
    belongs to the next sync either way.
    """

    def __init__(self) -> None:
        self._newest: dict[str, int | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def newest(self, account: str, ask: Callable[[], int | None]) -> int | None:
        """The creation time of the account's newest event (None: it has none), asked with `ask` the first
        time; concurrent callers for one account wait for that one answer."""
        with self._guard:
            lock = self._locks.setdefault(account, threading.Lock())
        with lock:
            if account not in self._newest:
                self._newest[account] = ask()
            return self._newest[account]
