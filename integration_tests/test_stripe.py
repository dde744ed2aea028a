"""Stripe streams end to end against the sandbox: incremental through events (updates, deletions, the
30-day limit), child streams, Connect accounts, restricted keys, search and custom endpoint streams."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pendulum
import pytest
from airbyte_cdk.models import AirbyteStreamStatus, FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.stripe_sync import read_streams, sandbox_objects, stream_records, stripe_config
from integration_tests.sync_clock import (
    SANDBOX_LAG_SECONDS,
    catch_up,
    connector_clock,
    final_states,
    next_second,
)
from sandbox import credentials
from sandbox.process import SandboxProcess


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox of its own: these tests change Stripe data."""
    with SandboxProcess(scale=120, now=time.time() - SANDBOX_LAG_SECONDS, max_seconds=900) as running:
        yield running


def _statuses(output: EntrypointOutput) -> dict[str, AirbyteStreamStatus]:
    final: dict[str, AirbyteStreamStatus] = {}
    for message in output.get_message_iterator():
        trace = message.trace
        if trace is not None and trace.stream_status is not None:
            final[trace.stream_status.stream_descriptor.name] = trace.stream_status.status
    return final


def test_given_changes_after_a_sync_when_read_incremental_then_events_bring_updates_and_deletions_only(
    stripe_sandbox: SandboxProcess,
) -> None:
    config = stripe_config(stripe_sandbox)
    synced = next_second(stripe_sandbox)
    with connector_clock(synced):
        first = read_streams(config, ["customers"])
    catch_up(stripe_sandbox, synced)
    assert {r["id"] for r in stream_records(first, "customers")} == {
        o["id"] for o in sandbox_objects(stripe_sandbox, "customers")
    }
    state = final_states(first)
    synced_at = state[0].stream.stream_state.default["updated"]  # type: ignore[union-attr]

    existing = sandbox_objects(stripe_sandbox, "customers")
    created = stripe_sandbox.control("POST", "/_control/stripe/customers", {"email": "new@example.com"})
    updated = stripe_sandbox.control(
        "POST", f"/_control/stripe/customers/{existing[0]['id']}", {"email": "moved@example.com"}
    )
    stripe_sandbox.control(
        "POST", f"/_control/stripe/customers/{existing[1]['id']}", {"name": "First change"}
    )
    stripe_sandbox.control(
        "POST", f"/_control/stripe/customers/{existing[1]['id']}", {"name": "Second change"}
    )
    deleted = stripe_sandbox.control("DELETE", f"/_control/stripe/customers/{existing[2]['id']}")

    with connector_clock(next_second(stripe_sandbox)):
        second = read_streams(config, ["customers"], state=state)
    records = {r["id"]: r for r in stream_records(second, "customers")}
    assert set(records) == {created["id"], updated["id"], existing[1]["id"], deleted["id"]}
    assert len(stream_records(second, "customers")) == 4, (
        "an object changed twice comes once, in its newest version"
    )
    assert records[updated["id"]]["email"] == "moved@example.com"
    assert records[existing[1]["id"]]["name"] == "Second change"
    assert records[deleted["id"]]["is_deleted"] is True
    assert records[created["id"]]["is_deleted"] is False
    assert all(r["updated"] >= synced_at for r in records.values())


def test_given_state_older_than_30_days_when_read_incremental_then_full_reread_and_log_says_why(
    stripe_sandbox: SandboxProcess,
) -> None:
    old = pendulum.now("UTC").subtract(days=40).int_timestamp
    state = StateBuilder().with_stream_state("customers", {"default": {"updated": old}}).build()
    output = read_streams(stripe_config(stripe_sandbox), ["customers"], state=state)
    assert {r["id"] for r in stream_records(output, "customers")} == {
        o["id"] for o in sandbox_objects(stripe_sandbox, "customers")
    }
    logs = " ".join(m.log.message for m in output.logs if m.log is not None)
    assert "older than Stripe keeps events (30 days)" in logs
    assert "re-reading the stream in full" in logs


def test_given_invoices_with_more_than_10_lines_when_read_line_items_then_every_line_and_no_invoice(
    stripe_sandbox: SandboxProcess,
) -> None:
    output = read_streams(stripe_config(stripe_sandbox), ["invoice_line_items"], SyncMode.full_refresh)
    records = stream_records(output, "invoice_line_items")
    assert records
    assert all(r["object"] == "line_item" for r in records), "child streams emit children only"
    invoices = sandbox_objects(stripe_sandbox, "invoices")
    assert any(invoice["lines"]["has_more"] for invoice in invoices), "the sandbox has invoices of > 10 lines"
    expected = {
        (line["id"], line["_parent"]) for line in sandbox_objects(stripe_sandbox, "invoice_line_items")
    }
    assert {(r["id"], r["invoice_id"]) for r in records} == expected
    assert len(records) == len(expected)


def test_given_an_invoice_with_many_lines_changes_when_read_incremental_then_all_its_lines_come_from_events(
    stripe_sandbox: SandboxProcess,
) -> None:
    config = stripe_config(stripe_sandbox)
    synced = next_second(stripe_sandbox)
    with connector_clock(synced):
        state = final_states(read_streams(config, ["invoice_line_items"]))
    catch_up(stripe_sandbox, synced)
    big = next(i for i in sandbox_objects(stripe_sandbox, "invoices") if i["lines"]["has_more"])
    stripe_sandbox.control("POST", f"/_control/stripe/invoices/{big['id']}", {"description": "changed"})
    with connector_clock(next_second(stripe_sandbox)):
        second = read_streams(config, ["invoice_line_items"], state=state)
    lines = stream_records(second, "invoice_line_items")
    expected = {
        line["id"]
        for line in sandbox_objects(stripe_sandbox, "invoice_line_items")
        if line["_parent"] == big["id"]
    }
    assert len(expected) > 10
    assert {r["id"] for r in lines} == expected, (
        "the event's first 10 lines and the rest from the lines endpoint"
    )


def test_given_two_connect_accounts_when_read_then_records_of_both_tagged_with_separate_state(
    stripe_sandbox: SandboxProcess,
) -> None:
    accounts = list(credentials.STRIPE_CONNECTED_ACCOUNTS)
    output = read_streams(stripe_config(stripe_sandbox, account_ids=accounts), ["customers"])
    records = stream_records(output, "customers")
    for account in accounts:
        mine = {r["id"] for r in records if r["stripe_account_id"] == account}
        assert mine == {o["id"] for o in sandbox_objects(stripe_sandbox, "customers", account)}
        assert mine
    (state,) = final_states(output)
    assert set(state.stream.stream_state.__dict__) == set(accounts)  # type: ignore[union-attr]


def test_given_key_without_permission_for_some_streams_when_read_then_others_complete_and_user_told_which(
    stripe_sandbox: SandboxProcess,
) -> None:
    config = stripe_config(stripe_sandbox, client_secret=credentials.STRIPE_RESTRICTED_KEY)
    output = read_streams(
        config, ["customers", "charges", "balance_transactions"], SyncMode.full_refresh, expect_errors=True
    )
    assert {r["id"] for r in stream_records(output, "customers")} == {
        o["id"] for o in sandbox_objects(stripe_sandbox, "customers")
    }
    statuses = _statuses(output)
    assert statuses["customers"] == AirbyteStreamStatus.COMPLETE
    errors = {
        e.trace.error.stream_descriptor.name: e.trace.error
        for e in output.errors
        if e.trace and e.trace.error and e.trace.error.stream_descriptor
    }
    for stream, permission in (
        ("charges", "rak_charge_read"),
        ("balance_transactions", "rak_balance_transaction_source_read"),
    ):
        assert statuses[stream] == AirbyteStreamStatus.INCOMPLETE
        assert errors[stream].failure_type == FailureType.config_error
        assert permission in errors[stream].message
        assert "grant the permission" in errors[stream].message
    assert credentials.STRIPE_RESTRICTED_KEY not in str([m.log.message for m in output.logs if m.log])


def test_given_key_without_permission_when_read_incrementally_in_many_windows_then_no_state_moves(
    stripe_sandbox: SandboxProcess,
) -> None:
    # The first window refused ends the stream's other windows unread: none of them may count as read.
    config = stripe_config(
        stripe_sandbox, client_secret=credentials.STRIPE_RESTRICTED_KEY, slice_range_days=30
    )
    output = read_streams(config, ["charges"], expect_errors=True)
    assert _statuses(output)["charges"] == AirbyteStreamStatus.INCOMPLETE
    assert not stream_records(output, "charges")
    saved = [state.stream.stream_state for state in final_states(output) if state.stream]
    assert all(not (cursor and cursor.__dict__) for cursor in saved), saved


def test_given_search_and_custom_streams_when_read_then_each_returns_what_the_api_lists(
    stripe_sandbox: SandboxProcess,
) -> None:
    config = stripe_config(
        stripe_sandbox,
        search_streams=[{"name": "big_charges", "object": "charges", "query": "amount>5000"}],
        custom_streams=[{"name": "active_products", "path": "/v1/products", "params": {"active": True}}],
    )
    output = read_streams(config, ["big_charges", "active_products"], SyncMode.full_refresh)
    charges = sandbox_objects(stripe_sandbox, "charges")
    assert {r["id"] for r in stream_records(output, "big_charges")} == {
        c["id"] for c in charges if c["amount"] > 5000
    }
    products = sandbox_objects(stripe_sandbox, "products")
    assert {r["id"] for r in stream_records(output, "active_products")} == {
        p["id"] for p in products if p["active"]
    }
    assert 0 < len(stream_records(output, "active_products")) < len(products)
