"""Today's Stripe end to end against the sandbox: accounts whose events are rendered in other API versions
(one that upgraded mid-history), meter-based and legacy usage, entitlements and the other new objects, and
Connect platforms with Standard and Express accounts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pendulum
import pytest
from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.stripe_sync import read_streams, sandbox_objects, stream_records, stripe_config
from sandbox.process import SandboxProcess
from source_billing.config import STRIPE_DEFAULT_API_VERSION

PLATFORM = "acct_sandbox"  # its events are all in 2023-08-16
UPGRADED = "acct_sandbox_b"  # 2023-08-16 until 10 days ago, the pinned version since
VERSIONED = ("invoices", "subscriptions", "invoice_line_items", "charges", "payment_intents")
NEW_TOP_LEVEL = ("billing_meters", "entitlements_features", "invoice_payments", "billing_credit_grants")


@pytest.fixture(scope="module")
def today() -> Iterator[SandboxProcess]:
    """A sandbox of its own: these tests change Stripe data. Its clock runs 2 s behind, so a change made
    just before a sync is not in the sync's own second (which belongs to the next sync)."""
    with SandboxProcess(scale=40, now=time.time() - 2, max_seconds=900) as running:
        yield running


def _change(sandbox: SandboxProcess, resource: str, account: str | None, fields: dict[str, Any]) -> str:
    """Change the first object of a resource through the control API (which records Stripe's event in the
    account's current version); returns its id."""
    changed = sandbox_objects(sandbox, resource, account)[0]["id"]
    query = f"?account={account}" if account else ""
    sandbox.control("POST", f"/_control/stripe/{resource}/{changed}{query}", fields)
    return str(changed)


def _state(streams: tuple[str, ...], partition: str, since: pendulum.DateTime) -> list[AirbyteStateMessage]:
    builder = StateBuilder()
    for stream in streams:
        builder = builder.with_stream_state(stream, {partition: {"updated": since.int_timestamp}})
    return builder.build()


@pytest.mark.parametrize(
    ("account", "partition"),
    [pytest.param(None, "default", id="events-in-2023"), pytest.param(UPGRADED, UPGRADED, id="upgraded")],
)
def test_given_events_in_other_versions_when_read_after_changes_then_every_record_has_the_pinned_shape(
    today: SandboxProcess, account: str | None, partition: str
) -> None:
    config = stripe_config(today, **({"account_ids": [account]} if account else {}))
    listed = read_streams(config, VERSIONED, SyncMode.full_refresh)
    # Records carry their non-null fields only (the CDK leaves nulls out): a list read's records together
    # show every field the pinned version gives, each record those it has.
    shapes = {stream: {r["id"]: set(r) for r in stream_records(listed, stream)} for stream in VERSIONED}
    fields = {stream: set().union(*shapes[stream].values()) for stream in VERSIONED}
    assert all(shapes.values()), "every stream has objects"

    changed = {
        _change(today, resource, account, {"metadata": {"changed": "yes"}})
        for resource in ("invoices", "subscriptions", "charges")
    }
    # Fifteen days back reaches the upgraded account's 2023-08-16 events as well as its newer ones.
    since = pendulum.now("UTC").subtract(days=15)
    second = read_streams(config, VERSIONED, SyncMode.incremental, _state(VERSIONED, partition, since))

    for stream in VERSIONED:
        records = stream_records(second, stream)
        assert records, stream
        for record in records:
            if record.get("is_deleted"):
                continue
            # The pinned version's fields, but for `is_deleted`, which only events set.
            shown = set(record) - {"is_deleted"}
            assert shown <= fields[stream], (stream, record["id"], shown - fields[stream])
            if record["id"] in changed:
                assert shown == shapes[stream][record["id"]], (stream, record["id"])
    assert changed <= {
        r["id"] for stream in ("invoices", "subscriptions", "charges") for r in stream_records(second, stream)
    }
    # Each of the basil changes, on every record (a null field is left out of a record, so "has" is "some").
    invoices, lines = stream_records(second, "invoices"), stream_records(second, "invoice_line_items")
    assert all("subscription" not in r for r in invoices)
    assert any("subscription_details" in (r.get("parent") or {}) for r in invoices)
    assert all("current_period_end" not in r for r in stream_records(second, "subscriptions"))
    assert all("price" not in r and "subscription" not in r for r in lines)
    assert any("pricing" in r for r in lines)
    assert all(
        "invoice" not in r
        for stream in ("charges", "payment_intents")
        for r in stream_records(second, stream)
    )
    summaries = [m.log.message for m in second.logs if m.log is not None and "read again in" in m.log.message]
    assert summaries, "the closing summaries count the re-reads"
    assert all(STRIPE_DEFAULT_API_VERSION in line for line in summaries)


def test_given_the_new_objects_when_read_full_refresh_then_each_stream_equals_the_sandbox(
    today: SandboxProcess,
) -> None:
    output = read_streams(
        stripe_config(today), (*NEW_TOP_LEVEL, "billing_credit_balance_transactions"), SyncMode.full_refresh
    )
    for stream in (*NEW_TOP_LEVEL, "billing_credit_balance_transactions"):
        expected = {o["id"] for o in sandbox_objects(today, stream)}
        assert expected, stream
        assert {r["id"] for r in stream_records(output, stream)} == expected, stream


def test_given_the_new_objects_when_read_incremental_twice_then_the_second_sync_brings_only_changes(
    today: SandboxProcess,
) -> None:
    config = stripe_config(today)
    first = read_streams(
        config, ("billing_meters", "invoice_payments", "billing_credit_grants"), SyncMode.incremental
    )
    for stream in ("billing_meters", "invoice_payments", "billing_credit_grants"):
        assert {r["id"] for r in stream_records(first, stream)} == {
            o["id"] for o in sandbox_objects(today, stream)
        }
    meter = _change(today, "billing_meters", None, {"display_name": "Renamed"})
    since = pendulum.now("UTC").subtract(minutes=5)
    second = read_streams(
        config, ("billing_meters",), SyncMode.incremental, _state(("billing_meters",), "default", since)
    )
    records = stream_records(second, "billing_meters")
    assert [r["id"] for r in records] == [meter]
    assert records[0]["display_name"] == "Renamed"


def test_given_customers_with_entitlements_when_read_then_active_entitlements_equal_the_sandbox(
    today: SandboxProcess,
) -> None:
    output = read_streams(stripe_config(today), ("active_entitlements",), SyncMode.full_refresh)
    # The sandbox keeps each entitlement's customer as its parent.
    expected = {(o["id"], o["_parent"]) for o in sandbox_objects(today, "active_entitlements")}
    assert expected
    assert {(r["id"], r["customer_id"]) for r in stream_records(output, "active_entitlements")} == expected


def test_given_a_customers_entitlements_change_when_read_incremental_then_that_customers_are_listed_again(
    today: SandboxProcess,
) -> None:
    config = stripe_config(today)
    first = read_streams(config, ("active_entitlements",), SyncMode.incremental)
    expected = {(o["id"], o["_parent"]) for o in sandbox_objects(today, "active_entitlements")}
    assert {(r["id"], r["customer_id"]) for r in stream_records(first, "active_entitlements")} == expected
    by_customer: dict[str, list[str]] = {}
    for entitlement, customer in sorted(expected):
        by_customer.setdefault(customer, []).append(entitlement)
    customer, entitlements = next((c, e) for c, e in sorted(by_customer.items()) if len(e) >= 2)
    today.control("DELETE", f"/_control/stripe/active_entitlements/{entitlements[0]}")

    since = pendulum.now("UTC").subtract(minutes=5)
    second = read_streams(
        config,
        ("active_entitlements",),
        SyncMode.incremental,
        _state(("active_entitlements",), "default", since),
    )
    # The summary event names the customer: its entitlements now, nothing of the others.
    assert {(r["id"], r["customer_id"]) for r in stream_records(second, "active_entitlements")} == {
        (entitlement, customer) for entitlement in entitlements[1:]
    }


def test_given_meter_based_and_legacy_items_when_synced_then_both_kinds_of_usage_are_read(
    today: SandboxProcess,
) -> None:
    output = read_streams(
        stripe_config(today), ("usage_records", "billing_meter_event_summaries"), SyncMode.incremental
    )
    items = sandbox_objects(today, "subscription_items")
    metered = {
        (i["subscription"], i["price"]["recurring"]["meter"])
        for i in items
        if (i["price"].get("recurring") or {}).get("meter")
    }
    legacy = {
        i["id"]
        for i in items
        if (i["price"].get("recurring") or {}).get("usage_type") == "metered"
        and not i["price"]["recurring"].get("meter")
    }
    assert metered
    assert legacy
    usage = stream_records(output, "usage_records")
    assert usage
    assert {r["subscription_item_id"] for r in usage} <= legacy
    summaries = stream_records(output, "billing_meter_event_summaries")
    assert summaries
    customers = {s["id"]: s["customer"] for s in sandbox_objects(today, "subscriptions")}
    assert {(r["customer_id"], r["meter"]) for r in summaries} <= {(customers[s], m) for s, m in metered}
    assert len({(r["customer_id"], r["meter"], r["start_time"]) for r in summaries}) == len(summaries)
    closing = " ".join(m.log.message for m in output.logs if m.log is not None)
    assert "Subscription items on meter-based billing skipped" in closing


def test_given_standard_and_express_accounts_when_persons_read_then_skipped_by_name_and_the_sync_completes(
    today: SandboxProcess,
) -> None:
    accounts = sandbox_objects(today, "accounts")
    refusing = {
        a["id"] for a in accounts if (a.get("controller") or {}).get("requirement_collection") == "stripe"
    }
    assert refusing
    assert len(refusing) < len(accounts)
    output = read_streams(stripe_config(today), ("persons",), SyncMode.full_refresh)
    read_from = {r["account_id"] for r in stream_records(output, "persons")}
    assert read_from
    assert not read_from & refusing
    warnings = " ".join(
        m.log.message for m in output.logs if m.log is not None and m.log.level.value == "WARN"
    )
    assert all(account in warnings for account in refusing)
