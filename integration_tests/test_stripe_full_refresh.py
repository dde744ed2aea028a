"""A full refresh of every Stripe stream returns exactly the sandbox's objects: the same ids, none twice,
every record valid against its stream's schema. Top-level streams at a scale of 250 objects each (three
pages); child streams (one request per parent for some of them, within Stripe's rate limits) under 60
parents. The soak (`make soak`) reads 2,000 objects each and children under 300 parents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pendulum
import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from jsonschema import Draft7Validator

from integration_tests.stripe_sync import expected_objects
from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing import SourceBilling
from source_billing.schemas import load_schema
from source_billing.stripe.streams import STREAMS

TOP_LEVEL_SCALES = [pytest.param(250, id="bounded"), pytest.param(2_000, id="soak", marks=pytest.mark.soak)]
CHILD_SCALES = [pytest.param(60, id="bounded"), pytest.param(300, id="soak", marks=pytest.mark.soak)]
TOP_LEVEL = [row.name for row in STREAMS if row.parent is None]
CHILDREN = [row.name for row in STREAMS if row.parent is not None]


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


@pytest.fixture(scope="module", params=TOP_LEVEL_SCALES)
def top_level(request: pytest.FixtureRequest) -> Iterator[tuple[SandboxProcess, EntrypointOutput]]:
    yield from _full_refresh(request.param, TOP_LEVEL)


@pytest.fixture(scope="module", params=CHILD_SCALES)
def children(request: pytest.FixtureRequest) -> Iterator[tuple[SandboxProcess, EntrypointOutput]]:
    yield from _full_refresh(request.param, CHILDREN)


def _assert_exactly_the_sandbox_objects(
    sandbox: SandboxProcess, output: EntrypointOutput, stream: str
) -> None:
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    records = [m.record.data for m in output.records if m.record is not None and m.record.stream == stream]
    objects = expected_objects(sandbox, stream)
    counts = Counter(record["id"] for record in records)
    assert not [key for key, count in counts.items() if count > 1], f"{stream} emitted records twice"
    if stream == "events":
        # Stripe lists the events of the last 30 days; the boundary moves while the sync runs.
        settled = pendulum.now("UTC").subtract(days=30).add(minutes=10).int_timestamp
        objects = [item for item in objects if item["created"] >= settled]
        assert {item["id"] for item in objects} <= set(counts)
    else:
        assert set(counts) == {item["id"] for item in objects}
    assert objects, f"the sandbox has no objects for {stream}"

    validator = Draft7Validator(load_schema("source_billing.stripe", stream))
    invalid = [error.message for record in records for error in validator.iter_errors(record)]
    assert not invalid, invalid[:5]


@pytest.mark.parametrize("stream", TOP_LEVEL)
def test_given_pages_of_objects_when_full_refresh_then_the_stream_has_exactly_them_valid_against_its_schema(
    top_level: tuple[SandboxProcess, EntrypointOutput], stream: str
) -> None:
    _assert_exactly_the_sandbox_objects(*top_level, stream)


@pytest.mark.parametrize("stream", CHILDREN)
def test_given_parents_when_full_refresh_of_a_child_stream_then_exactly_the_children_valid_against_schema(
    children: tuple[SandboxProcess, EntrypointOutput], stream: str
) -> None:
    _assert_exactly_the_sandbox_objects(*children, stream)
