"""Two syncs and a change between them, on clocks the test sets: the connector's clock stopped at a chosen
second for each sync, the sandbox's moved forward to the first sync's end before the change. What the test
changes then falls in the second sync's windows and not the first's, however long each step takes.

A sandbox shared with tests that sync on the real clock starts `SANDBOX_LAG_SECONDS` behind it, so that
moving it forward to a sync's end never takes it past the real time: what those tests create is always
before the end of their syncs' windows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import time_machine
from airbyte_cdk.models import AirbyteStateMessage
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from sandbox.process import SandboxProcess

SANDBOX_LAG_SECONDS = 30


def sandbox_now(sandbox: SandboxProcess) -> float:
    """The sandbox's clock (unix seconds)."""
    now: float = sandbox.control("GET", "/_control/clock")["now"]
    return now


def next_second(sandbox: SandboxProcess) -> int:
    """The whole second after the sandbox's now: a sync whose clock stops there sees all it holds."""
    return int(sandbox_now(sandbox)) + 1


def catch_up(sandbox: SandboxProcess, moment: float) -> None:
    """Move the sandbox's clock forward to `moment` when it is behind (it never goes back)."""
    behind = moment - sandbox_now(sandbox)
    if behind > 0:
        sandbox.control("POST", "/_control/clock", {"advance_seconds": behind})


@contextmanager
def connector_clock(moment: int) -> Iterator[None]:
    """The connector's clock (this process's wall clock) stopped at `moment` while the block runs."""
    with time_machine.travel(moment, tick=False):
        yield


def final_states(output: EntrypointOutput) -> list[AirbyteStateMessage]:
    """Each stream's last state message of a sync: the state the next sync starts from."""
    latest: dict[str, AirbyteStateMessage] = {}
    for message in output.state_messages:
        assert message.state is not None
        assert message.state.stream is not None
        latest[message.state.stream.stream_descriptor.name] = message.state
    return list(latest.values())
