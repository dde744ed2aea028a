"""What users read: `docs/billing.md` describes exactly the streams `discover` returns, the page, the spec and
metadata.yaml agree, and the reconciliation example's SQL finds each mismatch case it promises."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.models import AirbyteStream, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover

from source_billing.runtime.source import SourceBilling

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
DOCS = (CONNECTOR_ROOT / "docs" / "billing.md").read_text(encoding="utf-8")
METADATA = yaml.safe_load((CONNECTOR_ROOT / "metadata.yaml").read_text(encoding="utf-8"))["data"]
SPEC = yaml.safe_load((CONNECTOR_ROOT / "source_billing" / "spec.yaml").read_text(encoding="utf-8"))
ALL_APIS = {
    "stripe": {"client_secret": "sk_test_docs"},
    "orb": {"api_key": "orb_docs"},
    "integrator_io": {"api_token": "integrator_docs"},
}
SYNC_MODES = {"FR": SyncMode.full_refresh, "Inc": SyncMode.incremental}
CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class DocumentedStream:
    """One row of the page's streams table."""

    name: str
    sync_modes: frozenset[SyncMode]
    cursor: str | None
    primary_key: tuple[str, ...]


def _section(heading: str) -> str:
    """The page's text under a `## ` heading, up to the next one."""
    start = DOCS.index(f"\n## {heading}\n")
    end = DOCS.find("\n## ", start + 1)
    return DOCS[start : end if end != -1 else None]


def _table_rows(text: str) -> Iterator[list[str]]:
    """The cells of each table row that starts with a code span (the rows naming a stream or a key); no cell
    of these tables holds a `|`."""
    for line in text.splitlines():
        if line.startswith("| `"):
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]


def _code(cell: str) -> str | None:
    found = CODE.search(cell)
    return found.group(1) if found else None


def documented_streams() -> list[DocumentedStream]:
    rows = []
    for name, _endpoint, modes, cursor, primary_key, _changes in _table_rows(_section("Supported streams")):
        rows.append(
            DocumentedStream(
                name=str(_code(name)),
                sync_modes=frozenset(SYNC_MODES[mode.strip()] for mode in modes.split(",")),
                cursor=_code(cursor),
                primary_key=tuple(CODE.findall(primary_key)),
            )
        )
    return rows


@pytest.fixture(scope="module")
def discovered() -> list[AirbyteStream]:
    """The catalog of a configuration of all three APIs, from the connector's own `discover`."""
    output = discover(SourceBilling(), ALL_APIS)
    catalog = output.catalog.catalog
    assert catalog is not None
    return list(catalog.streams)


def test_given_all_three_apis_when_discovered_then_the_docs_list_exactly_those_streams_in_that_order(
    discovered: list[AirbyteStream],
) -> None:
    assert [row.name for row in documented_streams()] == [stream.name for stream in discovered]


def test_given_each_discovered_stream_when_documented_then_modes_cursor_and_primary_key_match(
    discovered: list[AirbyteStream],
) -> None:
    documented = {row.name: row for row in documented_streams()}
    for stream in discovered:
        row = documented[stream.name]
        assert row.sync_modes == frozenset(stream.supported_sync_modes), stream.name
        cursor = stream.default_cursor_field[0] if stream.default_cursor_field else None
        assert row.cursor == cursor, stream.name
        assert [[key] for key in row.primary_key] == stream.source_defined_primary_key, stream.name


def test_given_the_stripe_streams_when_documented_then_each_has_a_restricted_key_permission(
    discovered: list[AirbyteStream],
) -> None:
    permissions = _section("Prerequisites").split("### Orb")[0]
    named = {stream for row in _table_rows(permissions) for stream in CODE.findall(row[1])}
    # Stripe's newer objects are named with a pointer to Stripe's permissions reference, which names the
    # permission of each endpoint.
    newer = permissions[permissions.index("The streams of Stripe's newer objects") :].split("\n\n")[0]
    assert "docs.stripe.com/keys/permissions-reference" in newer
    named |= set(CODE.findall(newer))
    stripe = {s.name for s in discovered if not s.name.startswith(("orb_", "integrator_io_"))}
    assert stripe - named == set()


def _config_keys(schema: dict[str, Any]) -> Iterator[str]:
    for name, prop in schema.get("properties", {}).items():
        yield name
        yield from _config_keys(prop)


def test_given_every_configuration_field_when_the_setup_guide_is_read_then_it_is_explained() -> None:
    guide = _section("Setup guide")
    sections = set(SPEC["connectionSpecification"]["properties"]) - {"max_concurrency"}
    fields = set(_config_keys(SPEC["connectionSpecification"])) - sections
    search_and_custom_items = {"name", "object", "query", "path", "params"}
    missing = {field for field in fields - search_and_custom_items if f"`{field}`" not in guide}
    assert missing == set()


def test_given_the_page_when_published_then_metadata_and_spec_point_to_it() -> None:
    url = METADATA["documentationUrl"]
    assert url == SPEC["documentationUrl"]
    assert url.rstrip("/").rsplit("/", 1)[-1] == "billing"  # the page is docs/billing.md
    assert url in json.dumps(SPEC["connectionSpecification"])  # the form links to it too


def test_given_the_released_version_when_the_changelog_is_read_then_it_has_a_row() -> None:
    version = re.escape(METADATA["dockerImageTag"])
    assert re.search(rf"^\| {version} \| \d{{4}}-\d{{2}}-\d{{2}} \|", _section("Changelog"), re.M)


# --- The reconciliation example (examples/reconciliation/*.sql) ------------------------------------------


NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
DAY = dt.timedelta(days=1)


def _license(
    license_id: str, email: str, expires: dt.datetime, *, connector: str = "con_a", installed: bool = False
) -> tuple[Any, ...]:
    return (
        license_id,
        connector,
        f"int_{license_id}" if installed else None,
        expires,
        None,
        json.dumps({"connectorEdition": "standard"}),
        json.dumps({"email": email, "_id": f"u_{license_id}", "name": license_id}),
    )


@pytest.fixture(scope="module")
def answers() -> dict[str, set[tuple[Any, ...]]]:
    """The example's answers on hand-made tables, shaped as PyAirbyte's DuckDB cache writes them (column
    names lower-cased, nested objects as JSON), each question's rows keyed by its SQL file."""
    duckdb = pytest.importorskip("duckdb")  # the `demo` extra
    from examples import reconciliation

    connection = duckdb.connect()
    connection.execute("""
        create table customers (id varchar, email varchar, is_deleted boolean);
        create table subscriptions (id varchar, customer varchar, status varchar, is_deleted boolean);
        create table active_entitlements (customer_id varchar, lookup_key varchar, is_deleted boolean);
        create table orb_customers (id varchar, email varchar);
        create table orb_subscriptions (id varchar, customer json, status varchar);
        create table orb_license_types (id varchar, name varchar);
        create table orb_licenses (
            id varchar, subscription_id varchar, license_type_id varchar, external_license_id varchar,
            status varchar, start_date timestamp, end_date timestamp
        );
        create table integrator_io_connectors (_id varchar, name varchar);
        create table integrator_io_licenses (
            _id varchar, _connectorid varchar, _integrationid varchar, expires timestamp,
            trialenddate timestamp, opts json, "user" json
        );
    """)
    connection.executemany(
        "insert into customers values (?, ?, ?)",
        [
            ("cus_paid", " Paid@Example.com", None),  # matched case- and space-insensitively
            ("cus_unlicensed", "unlicensed@example.com", None),
            ("cus_canceled", "canceled@example.com", None),
            ("cus_deleted", "deleted@example.com", True),
            ("cus_stale", "stale@example.com", None),
        ],
    )
    connection.executemany(
        "insert into subscriptions values (?, ?, ?, ?)",
        [
            ("sub_paid", "cus_paid", "active", None),
            ("sub_unlicensed", "cus_unlicensed", "past_due", False),
            ("sub_canceled", "cus_canceled", "canceled", True),
            ("sub_deleted_customer", "cus_deleted", "active", None),
            ("sub_stale", "cus_stale", "active", None),
        ],
    )
    connection.executemany(
        "insert into active_entitlements values (?, ?, ?)",
        [
            ("cus_paid", "api_access", None),  # licensed: not listed
            ("cus_unlicensed", "sso", None),
            ("cus_unlicensed", "api_access", False),
            ("cus_canceled", "api_access", True),  # removed by Stripe
            ("cus_deleted", "api_access", None),  # its customer was deleted
        ],
    )
    connection.executemany(
        "insert into orb_customers values (?, ?)",
        [
            ("orb_idle", "idle@example.com"),
            ("orb_lapsed", "lapsed@example.com"),
            ("orb_orbonly", "orbonly@example.com"),
        ],
    )
    connection.executemany(
        "insert into orb_subscriptions values (?, ?, ?)",
        [
            ("osub_idle", json.dumps({"id": "orb_idle", "email": "idle@example.com"}), "active"),
            ("osub_lapsed", json.dumps({"id": "orb_lapsed"}), "active"),
            ("osub_upcoming", json.dumps({"id": "orb_idle"}), "upcoming"),
            ("osub_orbonly", json.dumps({"id": "orb_orbonly"}), "active"),
        ],
    )
    connection.execute("insert into orb_license_types values ('lt_seat', 'Seat')")
    seats = [
        ("ol_idle", "osub_idle", "seat-1", "active", None),
        ("ol_upcoming", "osub_upcoming", "seat-2", "active", None),  # subscription not started
        ("ol_missing", "osub_gone", "seat-3", "active", None),  # subscription not synced
        ("ol_lapsed", "osub_lapsed", "seat-4", "active", NOW + 5 * DAY),  # no active license for the e-mail
        ("ol_ended", "osub_lapsed", "seat-5", "active", NOW - DAY),  # its end date has passed
        ("ol_inactive", "osub_idle", "seat-6", "inactive", None),
    ]
    connection.executemany(
        "insert into orb_licenses values (?, ?, 'lt_seat', ?, ?, ?, ?)",
        [(seat, sub, external, status, NOW - 30 * DAY, end) for seat, sub, external, status, end in seats],
    )
    connection.executemany(
        "insert into integrator_io_connectors values (?, ?)",
        [("con_a", "Shopify Connector"), ("con_b", "Unlicensed Connector")],
    )
    licenses = [
        _license("lic_paid", "paid@example.com", NOW + 200 * DAY, installed=True),
        _license("lic_unpaid", "canceled@example.com", NOW + 90 * DAY, installed=True),
        _license("lic_idle", "idle@example.com", NOW + 90 * DAY),
        _license("lic_lapsed", "lapsed@example.com", NOW - 20 * DAY, installed=True),
        _license("lic_soon", "paid@example.com", NOW + 10 * DAY),
        _license("lic_soon_unpaid", "nobody@example.com", NOW + 29 * DAY),
        _license("lic_later", "nobody@example.com", NOW + 31 * DAY),
        _license("lic_stale", "stale@example.com", NOW - 5 * DAY),  # never installed, expired
        _license("lic_orbonly", "orbonly@example.com", NOW + 100 * DAY, connector="con_b", installed=True),
    ]
    trial = list(_license("lic_trial", "trial@example.com", NOW + 365 * DAY))
    trial[4] = NOW + 14 * DAY
    connection.executemany(
        "insert into integrator_io_licenses values (?, ?, ?, ?, ?, ?, ?)", [*licenses, tuple(trial)]
    )
    found = {
        name: {tuple(row) for row in answer.rows}
        for name, answer in zip(reconciliation.QUESTIONS, reconciliation.answer(connection), strict=True)
    }
    connection.close()
    return found


def test_given_licenses_when_reconciled_then_active_ones_without_an_active_subscription_are_listed(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    rows = answers["licenses_without_subscription.sql"]
    # (license_id, connector_name, email, expires, in_trial, is_installed, connector_id)
    assert {row[6] for row in rows} == {"con_a"}
    assert {(row[0], row[4], row[5]) for row in rows} == {
        ("lic_unpaid", False, True),  # its subscription was canceled
        ("lic_soon_unpaid", False, False),
        ("lic_later", False, False),
        ("lic_trial", True, False),
    }


def test_given_subscriptions_when_reconciled_then_those_without_an_installed_active_license_say_why(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    rows = answers["subscriptions_without_installed_license.sql"]
    # (billing, subscription_id, customer_id, email, status, license_state, connector_id)
    assert {(row[0], row[1], row[5], row[6]) for row in rows} == {
        ("stripe", "sub_unlicensed", "no license", None),
        ("orb", "osub_idle", "licensed, not installed", None),
        # e-mail from orb_customers; the connector of the expired license, to renew it
        ("orb", "osub_lapsed", "installed license expired", "con_a"),
        ("stripe", "sub_stale", "license expired", "con_a"),  # a license to renew, though never installed
    }


def test_given_licenses_when_reconciled_then_those_expiring_within_30_days_are_listed(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    rows = answers["licenses_expiring_soon.sql"]
    # (license_id, connector_name, email, expires, days_left, is_installed, has_active_subscription)
    assert {(row[0], row[4], row[6]) for row in rows} == {
        ("lic_soon", 10, True),
        ("lic_soon_unpaid", 29, False),
    }


def test_given_connectors_when_reconciled_then_each_has_its_license_counts(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    # (connector_name, connector_id, licenses, active, installed, in_trial, expired)
    assert answers["licenses_per_connector.sql"] == {
        ("Shopify Connector", "con_a", 9, 7, 2, 1, 2),
        ("Unlicensed Connector", "con_b", 1, 1, 1, 0, 0),
    }


def test_given_orb_licenses_when_reconciled_then_active_ones_on_subscriptions_not_active_are_listed(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    rows = answers["orb_licenses_on_inactive_subscriptions.sql"]
    # (license_id, subscription_id, subscription_status, license_type, external_license_id, email, type id)
    assert {(row[0], row[2], row[3], row[5]) for row in rows} == {
        ("ol_upcoming", "upcoming", "Seat", "idle@example.com"),
        ("ol_missing", "not synced", "Seat", None),
    }


def test_given_licenses_when_reconciled_then_active_ones_without_an_active_orb_license_are_listed(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    rows = answers["licenses_without_orb_license.sql"]
    # (license_id, connector_name, email, in_trial, orb_subscription)
    assert {(row[0], row[4]) for row in rows} == {
        ("lic_orbonly", "osub_orbonly"),  # billed through Orb, yet no seat
        ("lic_paid", None),
        ("lic_unpaid", None),
        ("lic_soon", None),
        ("lic_soon_unpaid", None),
        ("lic_later", None),
        ("lic_trial", None),
    }


def test_given_orb_licenses_when_reconciled_then_active_ones_without_an_active_license_are_listed(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    # (license_id, subscription_id, license_type, external_license_id, email): the seat on the subscription
    # not synced has no e-mail, and is listed by the question above only.
    assert answers["orb_licenses_without_license.sql"] == {
        ("ol_lapsed", "osub_lapsed", "Seat", "seat-4", "lapsed@example.com"),
    }


def test_given_entitlements_when_reconciled_then_customers_entitled_without_an_active_license_are_listed(
    answers: dict[str, set[tuple[Any, ...]]],
) -> None:
    # (customer_id, email, features)
    assert answers["entitlements_without_license.sql"] == {
        ("cus_unlicensed", "unlicensed@example.com", "api_access, sso"),
    }
