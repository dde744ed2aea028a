"""A bounded log of API requests (for tests to assert what a client sent) and per-API counters.

Each entry has the method, path, query, headers (secrets left out), body and ``Idempotency-Key`` of a
request, so a test can show that a dry run sent only GETs or that a repeated write sent nothing. The server
parses JSON bodies; a form-encoded one (Stripe's) is recorded by the emulator that decodes it
(``note_body``), on the thread that serves the request.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

_SERVING = threading.local()
# Never record secrets: the Authorization value is replaced by ``auth_present``.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class RequestLog:
    """A ring buffer of request entries with increasing sequence numbers.

    Args:
        capacity: Entries kept; the oldest are dropped first.
    """

    def __init__(self, capacity: int = 500_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    def start(
        self,
        now: float,
        api: str,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: list[tuple[str, str]],
        body: Any,
    ) -> dict[str, Any]:
        """Record a request as it arrives (its status is filled in when it is answered).

        Args:
            now: Sandbox time.
            api: API name.
            method: HTTP method.
            path: Path below the API prefix.
            query: Parsed query.
            headers: Request headers as received (secret ones are left out).
            body: Parsed JSON body or None.

        Returns:
            The entry, to be completed with ``finish``.
        """
        auth_present = False
        kept: dict[str, Any] = {}
        for name, value in headers:
            if name.lower() in SECRET_HEADERS:
                auth_present = auth_present or name.lower() == "authorization"
                continue
            kept[name] = value
        kept["auth_present"] = auth_present
        entry: dict[str, Any] = {
            "seq": 0,
            "time": now,
            "api": api,
            "method": method,
            "path": path,
            "query": query,
            "headers": kept,
            "auth_present": auth_present,
            "body": body,
            "idempotency_key": next(
                (value for name, value in headers if name.lower() == "idempotency-key"), None
            ),
            "status": None,
            "fault": None,
        }
        with self._lock:
            entry["seq"] = next(self._sequence)
            self._entries.append(entry)
        _SERVING.entry = entry
        return entry

    @staticmethod
    def finish(entry: dict[str, Any], status: int | None, fault: str | None) -> None:
        """Complete an entry with the status sent (None when no response was sent) and the fault."""
        entry["status"] = status
        entry["fault"] = fault

    def since(self, seq: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Entries with a sequence number above ``seq``.

        Args:
            seq: Last sequence number already seen (0 for all).
            limit: Maximum entries to return.

        Returns:
            The entries and the ``next`` value to pass as ``since`` next time.
        """
        with self._lock:
            entries = list(self._entries)
        if not entries:
            return [], seq
        first = entries[0]["seq"]
        start = max(0, seq - first + 1)
        chosen = entries[start : start + limit]
        return chosen, (chosen[-1]["seq"] if chosen else max(seq, entries[-1]["seq"]))

    def clear(self) -> None:
        """Drop all entries (sequence numbers keep increasing)."""
        with self._lock:
            self._entries.clear()


def note_body(body: Any) -> None:
    """Record the decoded body of the request this thread is serving, when the server could not parse it
    (form-encoded bodies)."""
    entry = getattr(_SERVING, "entry", None)
    if entry is not None and entry["body"] is None:
        entry["body"] = body


class Stats:
    """Request counters per API: total, per status, injected faults and 429s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}

    def count(self, api: str, status: int | None, fault: str | None) -> None:
        """Count one answered (or dropped) API request."""
        with self._lock:
            data = self._data.setdefault(api, {"requests": 0, "status": {}, "rate_limited": 0, "faults": {}})
            data["requests"] += 1
            key = "none" if status is None else str(status)
            data["status"][key] = data["status"].get(key, 0) + 1
            if status == 429:
                data["rate_limited"] += 1
            if fault is not None:
                data["faults"][fault] = data["faults"].get(fault, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """A copy of all counters."""
        with self._lock:
            return {
                api: {**data, "status": dict(data["status"]), "faults": dict(data["faults"])}
                for api, data in self._data.items()
            }
