"""The sandbox's notion of "now": real time since start, shifted by the control API."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """A wall clock that tests can move forward (never backward) through ``POST /_control/clock``.

    Args:
        start: Epoch seconds to use as "now" at start; real time when None. Fixing it makes a whole
            run reproducible, timestamps included.
    """

    def __init__(self, start: float | None = None) -> None:
        self._real_start = time.time()
        self._base = self._real_start if start is None else float(start)
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the current sandbox time in epoch seconds (float)."""
        return self._base + (time.time() - self._real_start) + self._offset

    def now_int(self) -> int:
        """Return the current sandbox time in whole epoch seconds."""
        return int(self.now())

    def advance(self, seconds: float) -> float:
        """Move the clock forward.

        Args:
            seconds: How far to move; must not be negative (time going back would break cursors).

        Returns:
            The new current time.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("advance_seconds must be >= 0")
        with self._lock:
            self._offset += seconds
        return self.now()

    @property
    def offset(self) -> float:
        """Seconds added by ``advance`` so far."""
        return self._offset


def iso_z(epoch: float, millis: bool = False) -> str:
    """Format epoch seconds as ISO 8601 UTC with a ``Z`` suffix.

    Args:
        epoch: Seconds since the epoch.
        millis: Whether to include milliseconds (integrator.io style) or whole seconds (Orb style).

    Returns:
        For example ``2024-05-01T12:00:00Z`` or ``2024-05-01T12:00:00.123Z``.
    """
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 date or date-time (``Z`` or offset; naive means UTC) into epoch seconds.

    Args:
        text: The value from a query parameter or body.

    Returns:
        Epoch seconds.

    Raises:
        ValueError: If the text is not ISO 8601.
    """
    value = datetime.fromisoformat(text.strip().replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
