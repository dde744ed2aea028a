"""The main thread's output: records reach stdout promptly, in batches while they keep coming."""

from __future__ import annotations

import threading
import time

import pytest

from source_billing.runtime import source
from source_billing.runtime.source import OutputQueue


class Flushes:
    """Counts the flushes of a stand-in for stdout."""

    def __init__(self) -> None:
        self.count = 0

    def flush(self) -> None:
        self.count += 1


def _count_flushes(monkeypatch: pytest.MonkeyPatch) -> Flushes:
    # Called in the test's body: pytest puts its own capture back on sys.stdout before each phase.
    counted = Flushes()
    monkeypatch.setattr(source.sys, "stdout", counted)
    return counted


def test_given_items_waiting_when_the_main_thread_takes_them_then_nothing_is_flushed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flushes = _count_flushes(monkeypatch)
    queue = OutputQueue(maxsize=10)
    for item in ("a", "b", "c"):
        queue.put(item)  # type: ignore[arg-type]  # any item does here
    assert [queue.get() for _ in range(3)] == ["a", "b", "c"]
    assert flushes.count == 0


def test_given_no_item_for_a_moment_when_the_main_thread_waits_then_its_output_is_let_out_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flushes = _count_flushes(monkeypatch)
    queue = OutputQueue(maxsize=10)
    later = threading.Timer(10 * source.FLUSH_AFTER_SECONDS, queue.put, args=("late",))
    later.start()
    started = time.monotonic()
    assert queue.get() == "late"
    assert time.monotonic() - started >= 10 * source.FLUSH_AFTER_SECONDS * 0.9
    assert flushes.count == 1
