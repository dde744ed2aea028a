"""Every Orb stream against the sandbox over real HTTP, through the CDK's entrypoint: exact record sets,
valid records, changes after creation (licenses deactivated included), ledgers in two currencies, ledger
enrichment through retries and budget, grouped usage with a metric Orb will not group."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteStateMessage, Level, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from jsonschema import Draft7Validator

from integration_tests.sync_clock import (
    SANDBOX_LAG_SECONDS,
    catch_up,
    connector_clock,
    final_states,
    next_second,
)
from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing import SourceBilling

# stream -> the sandbox collection it reads
LISTS = {
    "orb_customers": "customers",
    "orb_subscriptions": "subscriptions",
    "orb_plans": "plans",
    "orb_invoices": "invoices",
    "orb_credit_notes": "credit_notes",
    "orb_coupons": "coupons",
    "orb_items": "items",
    "orb_prices": "prices",
    "orb_credits_ledger_entries": "credit_ledger_entries",
    "orb_billable_metrics": "billable_metrics",
    "orb_license_types": "license_types",
    "orb_licenses": "licenses",
    "orb_credit_blocks": "credit_blocks",
    "orb_customer_balance_transactions": "balance_transactions",
    "orb_subscription_schedules": "subscription_schedules",
}
LICENSES = "orb_licenses"
UNIQUE_METRIC = "bm_unique_users"
USAGE = "orb_subscription_usage"
LEDGER = "orb_credits_ledger_entries"
EVENT_KEYS = {
    "numeric_event_properties_keys": ["tokens"],
    "string_event_properties_keys": ["region", "model"],
}


@pytest.fixture(scope="module")
def orb_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox of its own: these tests change Orb's data and inject faults."""
    with SandboxProcess(scale=30, now=time.time() - SANDBOX_LAG_SECONDS, max_seconds=900) as running:
        yield running


def _config(sandbox: SandboxProcess, **orb: Any) -> dict[str, Any]:
    return {"orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb"), **orb}}


def _read(
    config: dict[str, Any],
    streams: list[str],
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: list[AirbyteStateMessage] | None = None,
) -> EntrypointOutput:
    catalog = CatalogBuilder()
    for name in streams:
        catalog = catalog.with_stream(name, sync_mode)
    output = read(SourceBilling(), config, catalog.build(), state)
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    return output


def _records(output: EntrypointOutput, stream: str) -> list[dict[str, Any]]:
    return [dict(m.record.data) for m in output.records if m.record is not None and m.record.stream == stream]


def _objects(sandbox: SandboxProcess, resource: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = sandbox.control("GET", f"/_control/objects/orb/{resource}")["data"]
    return objects


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _schemas(config: dict[str, Any]) -> dict[str, Draft7Validator]:
    return {s.name: Draft7Validator(s.get_json_schema()) for s in SourceBilling().streams(config)}


def test_given_a_full_refresh_of_every_orb_stream_then_each_returns_exactly_the_sandboxs_objects_valid(
    orb_sandbox: SandboxProcess,
) -> None:
    config = _config(orb_sandbox, start_date=_iso(datetime.now(UTC) - timedelta(days=20)), **EVENT_KEYS)
    # `start_date` bounds the usage history read here; lists are compared without it below.
    output = _read(_config(orb_sandbox, **EVENT_KEYS), list(LISTS))
    validators = _schemas(config)
    for stream, resource in LISTS.items():
        records = _records(output, stream)
        ids = [record["id"] for record in records]
        assert Counter(ids).most_common(1)[0][1] == 1, f"{stream} emitted a record twice"
        assert set(ids) == {o["id"] for o in _objects(orb_sandbox, resource)}, stream
        for record in records:
            validators[stream].validate(record)
    assert {"draft", "void"} <= {record["status"] for record in _records(output, "orb_invoices")}
    assert {"active", "inactive"} <= {record["status"] for record in _records(output, LICENSES)}
    blocks = _records(output, "orb_credit_blocks")
    assert {record["currency"] for record in blocks} == {"credits", "USD"}
    assert all(record["customer_id"] for record in blocks)
    assert any(c.get("archived_at") for c in _records(output, "orb_coupons")), "archived coupons are read"

    usage = _records(_read(config, [USAGE]), USAGE)
    assert len({row["id"] for row in usage}) == len(usage)
    for row in usage:
        validators[USAGE].validate(row)
    charged = {
        s["id"]
        for s in _objects(orb_sandbox, "subscriptions")
        if s["status"] != "upcoming"
        and (s["end_date"] is None or s["end_date"] > config["orb"]["start_date"])
        and any(price["billable_metric"] for price in s["plan"]["prices"])
    }
    assert {row["subscription_id"] for row in usage} == charged


def test_given_a_start_date_when_the_ledger_is_read_then_older_customers_entries_since_then_are_there(
    orb_sandbox: SandboxProcess,
) -> None:
    start = _iso(datetime.now(UTC) - timedelta(days=10))
    output = _read(_config(orb_sandbox, start_date=start), [LEDGER, "orb_customers"])
    entries = _records(output, LEDGER)
    expected = {
        e["id"]: e for e in _objects(orb_sandbox, "credit_ledger_entries") if e["created_at"] >= start
    }
    assert sorted(e["id"] for e in entries) == sorted(expected)
    old_customers = {c["id"] for c in _objects(orb_sandbox, "customers") if c["created_at"] < start}
    assert {e["customer_id"] for e in entries} & old_customers, "customers created before start_date count"
    assert {c["id"] for c in _records(output, "orb_customers")}.isdisjoint(old_customers)


def test_given_state_when_invoices_are_paid_or_voided_and_subscriptions_end_then_the_next_sync_shows_it(
    orb_sandbox: SandboxProcess,
) -> None:
    config = _config(orb_sandbox)
    streams = ["orb_invoices", "orb_subscriptions"]
    synced_at = next_second(orb_sandbox)
    with connector_clock(synced_at):
        first = _read(config, streams, SyncMode.incremental)
    catch_up(orb_sandbox, synced_at)
    state = final_states(first)
    issued = sorted(
        (i for i in _records(first, "orb_invoices") if i["status"] == "issued"),
        key=lambda i: i["invoice_date"],
    )
    drafts = [i for i in _records(first, "orb_invoices") if i["status"] == "draft"]
    synced = [i for i in _records(first, "orb_invoices") if i["status"] == "synced"]
    active = [s for s in _records(first, "orb_subscriptions") if s["status"] == "active"]
    plans = [p["id"] for p in _objects(orb_sandbox, "plans")]
    paid, voided, draft_paid, synced_paid = issued[0], issued[1], drafts[0], synced[0]
    ending, moving = active[0], active[1]
    new_plan = next(p for p in plans if p != moving["plan"]["id"])
    orb_sandbox.control("POST", f"/_control/orb/invoices/{paid['id']}", {"status": "paid"})
    orb_sandbox.control("POST", f"/_control/orb/invoices/{voided['id']}", {"status": "void"})
    orb_sandbox.control("POST", f"/_control/orb/invoices/{draft_paid['id']}", {"status": "paid"})
    orb_sandbox.control("POST", f"/_control/orb/invoices/{synced_paid['id']}", {"status": "paid"})
    orb_sandbox.control("POST", f"/_control/orb/subscriptions/{ending['id']}", {"status": "ended"})
    orb_sandbox.control("POST", f"/_control/orb/subscriptions/{moving['id']}", {"plan": new_plan})
    with connector_clock(next_second(orb_sandbox)):
        second = _read(config, streams, SyncMode.incremental, state)

    invoices = {i["id"]: i for i in _records(second, "orb_invoices")}
    assert invoices[paid["id"]]["status"] == "paid"
    assert invoices[voided["id"]]["status"] == "void"
    assert invoices[draft_paid["id"]]["status"] == "paid"
    assert invoices[synced_paid["id"]]["status"] == "paid"
    subscriptions = {s["id"]: s for s in _records(second, "orb_subscriptions")}
    assert subscriptions[ending["id"]]["status"] == "ended"
    assert subscriptions[ending["id"]]["end_date"]
    assert subscriptions[moving["id"]]["plan"]["id"] == new_plan
    # Bounded: the open population and what left it, each once; settled objects are not read again.
    still_open = {
        i["id"] for i in _objects(orb_sandbox, "invoices") if i["status"] in ("draft", "issued", "synced")
    }
    changed = {paid["id"], voided["id"], draft_paid["id"], synced_paid["id"]}
    assert sorted(invoices) == sorted(still_open | changed)
    assert len(_records(second, "orb_invoices")) == len(invoices)
    open_subscriptions = {s["id"] for s in _objects(orb_sandbox, "subscriptions") if s["status"] != "ended"}
    assert sorted(subscriptions) == sorted(open_subscriptions | {ending["id"]})

    third = _read(config, streams, SyncMode.incremental, final_states(second))
    assert paid["id"] not in {i["id"] for i in _records(third, "orb_invoices")}, "settled: no longer tracked"
    assert ending["id"] not in {s["id"] for s in _records(third, "orb_subscriptions")}


@pytest.fixture(scope="module")
def heavy_customer(orb_sandbox: SandboxProcess) -> dict[str, Any]:
    """A customer with 1,300 usage deductions over 70 days (most with a stored event, some with an id no
    event has), so enrichment needs several batches and several 30-day windows."""
    customer: dict[str, Any] = orb_sandbox.control(
        "POST", "/_control/orb/customers", {"email": "heavy@example.com"}
    )
    newest = datetime.now(UTC) - timedelta(hours=2)
    for n in range(1300):
        orb_sandbox.control(
            "POST",
            "/_control/orb/credit_ledger_entries",
            {
                "_parent": customer["id"],
                "entry_type": "decrement",
                "created_at": _iso(newest - timedelta(hours=1.3 * n)),
                "_event": "missing" if n % 50 == 0 else "stored",
            },
        )
    return customer


def test_given_event_keys_when_the_ledger_is_read_then_entries_carry_typed_properties_in_bounded_searches(
    orb_sandbox: SandboxProcess, heavy_customer: dict[str, Any]
) -> None:
    orb_sandbox.control("DELETE", "/_control/requests")
    output = _read(_config(orb_sandbox, **EVENT_KEYS), [LEDGER])

    events = {e["id"]: e for e in _objects(orb_sandbox, "events")}
    entries = _records(output, LEDGER)
    validator = _schemas(_config(orb_sandbox, **EVENT_KEYS))[LEDGER]
    enriched = 0
    for entry in entries:
        validator.validate(entry)
        if not entry.get("event_id"):
            assert "event" not in entry
            continue
        event = events.get(entry["event_id"])
        properties = entry["event"]["properties"]
        if event is None:
            assert properties == {"tokens": None, "region": None, "model": None}
            continue
        enriched += 1
        assert properties == {key: event["properties"][key] for key in ("tokens", "region", "model")}
        assert isinstance(properties["tokens"], int | float)
        assert isinstance(properties["region"], str)
    assert enriched >= 1200

    searches = [
        r
        for r in orb_sandbox.control("GET", "/_control/requests")["requests"]
        if r["path"] == "/v1/events/search"
    ]
    # One warning per search that missed an event, none for the others.
    warnings = [m.log.message for m in output.logs if m.log is not None and m.log.level == Level.WARN]
    missed = [s for s in searches if set(s["body"]["event_ids"]) - set(events)]
    assert len(warnings) == len(missed) > 0
    assert sum(f"customer {heavy_customer['id']}" in w for w in warnings) >= 1
    assert max(len(s["body"]["event_ids"]) for s in searches) == 500
    for search in searches:
        assert len(search["body"]["event_ids"]) <= 500
        start = datetime.fromisoformat(search["body"]["timeframe_start"])
        end = datetime.fromisoformat(search["body"]["timeframe_end"])
        assert end - start <= timedelta(days=30)
    assert len(searches) >= 4, "1,300 events over 70 days: at least three batches, and 30-day windows"


def test_given_429s_on_event_searches_when_the_ledger_is_read_then_they_are_retried_and_the_sync_succeeds(
    orb_sandbox: SandboxProcess, heavy_customer: dict[str, Any]
) -> None:
    orb_sandbox.control("DELETE", "/_control/requests")
    orb_sandbox.control(
        "POST", "/_control/faults", {"burst_429": 2, "retry_after": 1, "paths": ["^/v1/events/search$"]}
    )
    try:
        output = _read(_config(orb_sandbox, **EVENT_KEYS), [LEDGER])
    finally:
        orb_sandbox.control("DELETE", "/_control/faults")
    statuses = [
        r["status"]
        for r in orb_sandbox.control("GET", "/_control/requests")["requests"]
        if r["path"] == "/v1/events/search"
    ]
    assert statuses[:2] == [429, 429]
    assert statuses.count(200) == len(statuses) - 2
    expected = {e["id"] for e in _objects(orb_sandbox, "credit_ledger_entries")}
    assert {e["id"] for e in _records(output, LEDGER)} == expected


def test_given_a_grouping_key_and_plan_when_usage_is_read_then_grouped_rows_have_unique_keys(
    orb_sandbox: SandboxProcess,
) -> None:
    subscriptions = _objects(orb_sandbox, "subscriptions")
    metered = [
        s
        for s in subscriptions
        if s["status"] == "active" and any(p["billable_metric"] for p in s["plan"]["prices"])
    ]
    plan_id = Counter(s["plan"]["id"] for s in metered).most_common(1)[0][0]
    start = _iso(datetime.now(UTC) - timedelta(days=3))
    config = _config(orb_sandbox, start_date=start, subscription_usage_grouping_key="region", plan_id=plan_id)
    rows = _records(_read(config, [USAGE], SyncMode.incremental), USAGE)
    assert rows
    assert len({row["id"] for row in rows}) == len(rows)
    keys = Counter(
        (r["subscription_id"], r["billable_metric_id"], r["grouping_value"], r["timeframe_start"])
        for r in rows
    )
    assert keys.most_common(1)[0][1] == 1
    assert {r["grouping_key"] for r in rows} == {"region"}
    assert {r["grouping_value"] for r in rows} == {"eu-west-1", "us-east-1", "ap-south-1"}
    on_plan = {s["id"] for s in subscriptions if s["plan"]["id"] == plan_id}
    assert {r["subscription_id"] for r in rows} <= on_plan


def test_given_a_customer_with_credits_in_credits_and_usd_when_the_ledger_is_read_then_both_ledgers_synced(
    orb_sandbox: SandboxProcess,
) -> None:
    entries = _objects(orb_sandbox, "credit_ledger_entries")
    usd = {e["customer"]["id"] for e in entries if e["currency"] == "USD"}
    both = usd & {e["customer"]["id"] for e in entries if e["currency"] == "credits"}
    assert both, "the sandbox has customers with credits in credits and in USD"

    output = _read(_config(orb_sandbox), [LEDGER], SyncMode.incremental)

    synced = _records(output, LEDGER)
    for customer_id in both:
        expected = {e["id"]: e["currency"] for e in entries if e["customer"]["id"] == customer_id}
        got = {e["id"]: e["currency"] for e in synced if e["customer_id"] == customer_id}
        assert got == expected
    (state,) = final_states(output)
    assert state.stream is not None
    assert state.stream.stream_state is not None
    partitions = set(state.stream.stream_state.__dict__)
    customer_id = sorted(both)[0]
    assert {f"{customer_id}|credits", f"{customer_id}|USD"} <= partitions


def test_given_a_license_deactivated_after_the_first_sync_when_synced_incrementally_then_its_new_status(
    orb_sandbox: SandboxProcess,
) -> None:
    config = _config(orb_sandbox)
    first = _read(config, [LICENSES], SyncMode.incremental)
    assert sorted(r["id"] for r in _records(first, LICENSES)) == sorted(
        lic["id"] for lic in _objects(orb_sandbox, "licenses")
    )
    open_subscriptions = {
        s["id"] for s in _objects(orb_sandbox, "subscriptions") if s["status"] in ("active", "upcoming")
    }
    active = next(r for r in _records(first, LICENSES) if r["status"] == "active")
    assert active["subscription_id"] in open_subscriptions
    orb_sandbox.control("POST", f"/_control/orb/licenses/{active['id']}", {"status": "inactive"})

    second = _read(config, [LICENSES], SyncMode.incremental, final_states(first))

    licenses = {r["id"]: r for r in _records(second, LICENSES)}
    assert licenses[active["id"]]["status"] == "inactive"
    assert licenses[active["id"]]["end_date"]
    # Bounded: only open subscriptions' licenses are read again, not those of ended ones.
    assert {r["subscription_id"] for r in licenses.values()} <= open_subscriptions
    ended = [
        lic for lic in _objects(orb_sandbox, "licenses") if lic["subscription_id"] not in open_subscriptions
    ]
    assert ended, "the sandbox has licenses of ended subscriptions"
    assert not {lic["id"] for lic in ended} & set(licenses)


@pytest.mark.parametrize("key", ["model", "region"])
def test_given_a_grouping_key_and_a_unique_count_metric_when_usage_is_read_then_it_completes(
    orb_sandbox: SandboxProcess, key: str
) -> None:
    subscriptions = _objects(orb_sandbox, "subscriptions")
    charged = [
        s
        for s in subscriptions
        if s["status"] == "active"
        and {p["billable_metric"]["id"] for p in s["plan"]["prices"] if p["billable_metric"]}
        - {UNIQUE_METRIC}
        and any((p["billable_metric"] or {}).get("id") == UNIQUE_METRIC for p in s["plan"]["prices"])
    ]
    assert charged, "the sandbox has subscriptions charging the unique count and another metric"
    plan_id = charged[0]["plan"]["id"]
    start = _iso(datetime.now(UTC) - timedelta(days=3))
    config = _config(orb_sandbox, start_date=start, subscription_usage_grouping_key=key, plan_id=plan_id)

    output = _read(config, [USAGE], SyncMode.incremental)

    rows = _records(output, USAGE)
    assert len({row["id"] for row in rows}) == len(rows)
    unique = [r for r in rows if r["billable_metric_id"] == UNIQUE_METRIC]
    others = [r for r in rows if r["billable_metric_id"] != UNIQUE_METRIC]
    assert unique
    assert others
    assert {r["grouping_key"] for r in others} == {key}
    refused = [m for m in output.logs if m.log is not None and "refused to group" in m.log.message]
    if key == "region":  # the unique count's price groups invoices by region: Orb groups it
        assert {r["grouping_key"] for r in unique} == {"region"}
        assert not refused
    else:
        assert {r.get("grouping_key") for r in unique} == {None}, "read ungrouped"
        assert refused


def test_given_orbs_rate_limits_enforced_when_ledger_and_usage_are_read_then_the_budget_stays_under() -> None:
    with SandboxProcess(scale=40, rate_limits=True, max_seconds=300) as limited:
        start = _iso(datetime.now(UTC) - timedelta(days=5))
        _read(_config(limited, start_date=start), [LEDGER, USAGE], SyncMode.incremental)
        stats = limited.control("GET", "/_control/stats")["apis"]["orb"]
    assert stats["requests"] > 60
    assert stats["rate_limited"] == 0
