"""Fixtures for the sandbox's own tests: in-process servers on 127.0.0.1, closed after each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.app import Sandbox, SandboxOptions
from sandbox.server import SandboxServer
from unit_tests.sandbox.helpers import Client, Running, SandboxFactory


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    """Start in-process sandboxes with the given options (small scale by default); all stop afterwards."""
    started: list[Running] = []

    def start(**options: Any) -> Running:
        options.setdefault("scale", 40)
        server = SandboxServer(Sandbox(SandboxOptions(**options)))
        server.start_background()
        running = Running(server, Client(server.port))
        started.append(running)
        return running

    yield start
    for running in started:
        running.client.close()
        running.server.stop()


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Running:
    """One sandbox with default small-scale data."""
    return make_sandbox()
