"""Unit-test fixtures: offline, HTTP mocked, retry waits recorded instead of slept; repeatable hypothesis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.mock_http import HttpMocker
from hypothesis import settings

from unit_tests.entrypoint import MockedApi

# Every run draws the same examples: derandomized (each test's seed comes from the test itself) and without
# an example database (no example of an earlier run comes back). Keep a case found worth it as an `@example`.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.load_profile("repeatable")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every retry wait the CDK's retry handler was asked for, in seconds, without waiting."""
    recorded: list[float] = []
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


@pytest.fixture
def api(sleeps: list[float]) -> Iterator[MockedApi]:
    """The requests a test's reads must make, answered by the CDK's `HttpMocker`; after the test, each must
    have been made once per answer. Retry waits are recorded, not slept, so a request nobody mocked fails
    the read at once."""
    with HttpMocker() as mocker:
        mocked = MockedApi(mocker)
        yield mocked
    mocked.verify()
