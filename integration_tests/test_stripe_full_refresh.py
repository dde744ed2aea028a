"""A full refresh of every Stripe stream returns exactly the sandbox's objects: the same ids, none twice,
every record valid against its stream's schema. Top-level streams at a scale of 2,000 objects each; child
streams (one request per parent for some of them, within Stripe's rate limits) under 300 parents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pendulum
import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from jsonschema import Draft7Validator

from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing import SourceBilling
from source_billing.schemas import load_schema
from source_billing.stripe.streams import STREAMS

TOP_LEVEL_SCALE = 2_000
CHILD_SCALE = 300
TOP_LEVEL = [row.name for row in STREAMS if row.parent is None]
CHILDREN = [row.name for row in STREAMS if row.parent is not None]
Keep = Callable[[dict[str, Any]], bool]


def _everything(_: dict[str, Any]) -> bool:
    return True


def _of_type(object_type: str) -> Keep:
    return lambda item: item.get("object") == object_type


# stream -> (the sandbox's resource, which of its objects the stream returns)
EXPECTED: dict[str, tuple[str, Keep]] = {
    "application_fees_refunds": ("application_fee_refunds", _everything),
    "authorizations": ("issuing_authorizations", _everything),
    "bank_accounts": ("customer_sources", _of_type("bank_account")),
    "cardholders": ("issuing_cardholders", _everything),
    "cards": ("issuing_cards", _everything),
    "checkout_sessions_line_items": ("checkout_session_line_items", _everything),
    # The platform's own external accounts: the key's account, read without a Connect account.
    "external_account_bank_accounts": ("external_accounts?account=acct_sandbox", _of_type("bank_account")),
    "external_account_cards": ("external_accounts?account=acct_sandbox", _of_type("card")),
    "invoice_items": ("invoiceitems", _everything),
    "payment_methods": ("payment_methods", lambda item: item.get("customer") is not None),
    "subscription_schedule": ("subscription_schedules", _everything),
    "top_ups": ("topups", _everything),
    "transactions": ("issuing_transactions", _everything),
    "usage_records": ("usage_record_summaries", _everything),
    # `persons` lists the people of the platform's Connect accounts (children of `GET /v1/accounts`).
    "persons": ("persons", lambda item: item["_parent"] != credentials.STRIPE_PLATFORM_ACCOUNT),
}


def _full_refresh(scale: int, streams: list[str]) -> Iterator[tuple[SandboxProcess, EntrypointOutput]]:
    with SandboxProcess(scale=scale, max_seconds=900) as sandbox:
        config = {
            "stripe": {
                "client_secret": credentials.STRIPE_LIVE_KEY,
                "api_base_url": sandbox.base_url("stripe"),
            },
            "max_concurrency": 8,
        }
        catalog = CatalogBuilder()
        for name in streams:
            catalog = catalog.with_stream(name, SyncMode.full_refresh)
        yield sandbox, read(SourceBilling(), config, catalog.build())


@pytest.fixture(scope="module")
def top_level() -> Iterator[tuple[SandboxProcess, EntrypointOutput]]:
    yield from _full_refresh(TOP_LEVEL_SCALE, TOP_LEVEL)


@pytest.fixture(scope="module")
def children() -> Iterator[tuple[SandboxProcess, EntrypointOutput]]:
    yield from _full_refresh(CHILD_SCALE, CHILDREN)


def _assert_exactly_the_sandbox_objects(
    sandbox: SandboxProcess, output: EntrypointOutput, stream: str
) -> None:
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    records = [m.record.data for m in output.records if m.record is not None and m.record.stream == stream]
    resource, keep = EXPECTED.get(stream, (stream, _everything))
    objects = [
        item for item in sandbox.control("GET", f"/_control/objects/stripe/{resource}")["data"] if keep(item)
    ]
    counts = Counter(record["id"] for record in records)
    assert not [key for key, count in counts.items() if count > 1], f"{stream} emitted records twice"
    if stream == "events":
        # Stripe lists the events of the last 30 days; the boundary moves while the sync runs.
        settled = pendulum.now("UTC").subtract(days=30).add(minutes=10).int_timestamp
        objects = [item for item in objects if item["created"] >= settled]
        assert {item["id"] for item in objects} <= set(counts)
    else:
        assert set(counts) == {item["id"] for item in objects}
    assert objects, f"the sandbox has no {resource} for {stream}"

    validator = Draft7Validator(load_schema("source_billing.stripe", stream))
    invalid = [error.message for record in records for error in validator.iter_errors(record)]
    assert not invalid, invalid[:5]


@pytest.mark.parametrize("stream", TOP_LEVEL)
def test_given_2000_objects_when_full_refresh_then_the_stream_has_exactly_them_valid_against_its_schema(
    top_level: tuple[SandboxProcess, EntrypointOutput], stream: str
) -> None:
    _assert_exactly_the_sandbox_objects(*top_level, stream)


@pytest.mark.parametrize("stream", CHILDREN)
def test_given_parents_when_full_refresh_of_a_child_stream_then_exactly_the_children_valid_against_schema(
    children: tuple[SandboxProcess, EntrypointOutput], stream: str
) -> None:
    _assert_exactly_the_sandbox_objects(*children, stream)
