"""Unit-test fixtures: offline, HTTP mocked, retry waits recorded instead of slept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from airbyte_cdk.sources.streams.http import rate_limiting


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Every retry wait the CDK's retry handler was asked for, in seconds, without waiting."""
    recorded: list[float] = []
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded
