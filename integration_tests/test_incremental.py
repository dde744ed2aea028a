"""Incremental syncs of the foundation streams through the CDK's entrypoint, against the sandbox: state is
emitted, and a sync from that state returns what changed since and nothing older."""

from __future__ import annotations

from typing import Any

import pendulum
from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, SyncMode, Type
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read

from integration_tests.sync_clock import catch_up, connector_clock, final_states, next_second, sandbox_now
from sandbox.process import SandboxProcess
from source_billing import SourceBilling

STREAMS = ("customers", "orb_customers", "integrator_io_connectors")


def _read(config: dict[str, Any], state: list[AirbyteStateMessage] | None = None) -> EntrypointOutput:
    catalog = CatalogBuilder()
    for name in STREAMS:
        catalog = catalog.with_stream(name, SyncMode.incremental)
    output = read(SourceBilling(), config, catalog.build(), state)
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    return output


def _ids(output: EntrypointOutput, stream: str, key: str = "id") -> set[str]:
    return {m.record.data[key] for m in output.records if m.record is not None and m.record.stream == stream}


def _stream_of(message: AirbyteMessage) -> str | None:
    if message.record is not None:
        return message.record.stream
    if message.state is not None and message.state.stream is not None:
        return message.state.stream.stream_descriptor.name
    return None


def test_given_first_sync_when_read_incremental_then_state_per_stream_after_records(
    config: dict[str, Any], sandbox: SandboxProcess
) -> None:
    output = _read(config)
    assert _ids(output, "customers") == {
        o["id"] for o in sandbox.control("GET", "/_control/objects/stripe/customers")["data"]
    }
    for name in STREAMS:
        assert any(
            m.state is not None
            and m.state.stream is not None
            and m.state.stream.stream_descriptor.name == name
            for m in output.state_messages
        ), name
    # Protocol order: a stream's last state comes after its last record.
    kinds = [(m.type, _stream_of(m)) for m in output.get_message_iterator()]
    for name in STREAMS:
        last_record = max(
            i for i, (kind, stream) in enumerate(kinds) if kind == Type.RECORD and stream == name
        )
        last_state = max(i for i, (kind, stream) in enumerate(kinds) if kind == Type.STATE and stream == name)
        assert last_state > last_record, name


def test_given_state_when_objects_change_then_next_sync_returns_only_the_changes(
    config: dict[str, Any], sandbox: SandboxProcess
) -> None:
    synced = next_second(sandbox)
    with connector_clock(synced):
        state = final_states(_read(config))
    catch_up(sandbox, synced)

    customer = sandbox.control("POST", "/_control/stripe/customers", {"email": "late@example.com"})
    orb_customer = sandbox.control("POST", "/_control/orb/customers", {"email": "late@example.com"})
    connector = sandbox.control("GET", "/_control/objects/integrator/connectors")["data"][0]
    touched = pendulum.from_timestamp(sandbox_now(sandbox)).format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")
    sandbox.control("POST", f"/_control/integrator/connectors/{connector['_id']}", {"lastModified": touched})

    with connector_clock(next_second(sandbox)):
        second = _read(config, state)
    assert _ids(second, "customers") == {customer["id"]}
    assert _ids(second, "orb_customers") == {orb_customer["id"]}
    # Connectors modified at the saved cursor itself come again (two changes can share a millisecond).
    (saved_state,) = [
        s for s in state if s.stream and s.stream.stream_descriptor.name == "integrator_io_connectors"
    ]
    saved = saved_state.stream.stream_state.default["lastModified"]
    changed = [
        m.record.data for m in second.records if m.record and m.record.stream == "integrator_io_connectors"
    ]
    assert connector["_id"] in {c["_id"] for c in changed}
    assert all(c["lastModified"] >= saved for c in changed)


def test_given_many_windows_read_concurrently_when_state_is_emitted_then_it_covers_only_emitted_records(
    config: dict[str, Any], sandbox: SandboxProcess
) -> None:
    narrow = {**config, "stripe": {**config["stripe"], "slice_range_days": 20}, "max_concurrency": 8}
    output = read(
        SourceBilling(), narrow, CatalogBuilder().with_stream("customers", SyncMode.incremental).build()
    )
    created = {
        o["id"]: o["created"] for o in sandbox.control("GET", "/_control/objects/stripe/customers")["data"]
    }
    seen: set[str] = set()
    states = 0
    for message in output.get_message_iterator():
        if message.record is not None:
            seen.add(message.record.data["id"])
        elif message.state is not None and message.state.stream is not None:
            states += 1
            partitions = message.state.stream.stream_state.__dict__
            cursor = partitions["default"]["updated"] if "default" in partitions else None
            covered = {customer for customer, at in created.items() if cursor is not None and at < cursor}
            assert covered <= seen, f"state {cursor} covers {len(covered - seen)} records not yet emitted"
    assert states > 10
    assert seen == set(created)
