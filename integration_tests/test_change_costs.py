"""What an incremental sync of every Stripe stream costs, against the sandbox: nothing changed costs one
events request for the account and the lists that cannot be followed; a change costs requests for what
changed; and the streams read per parent come back in full on their refresh interval."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteStateMessage
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from integration_tests.stripe_sync import read_streams, sandbox_objects, stream_records, stripe_config
from integration_tests.sync_clock import (
    SANDBOX_LAG_SECONDS,
    catch_up,
    connector_clock,
    final_states,
    next_second,
)
from sandbox.process import SandboxProcess
from source_billing.config import BillingConfig
from source_billing.stripe import streams as stripe_streams

# Streams that cost a request per parent object on every sync before they followed changes.
PER_PARENT = re.compile(
    r"^/v1/(subscription_items/\w+/usage_record_summaries|accounts/\w+/persons|customers/\w+/balance_transactions"
    r"|billing/credit_balance_transactions)$"
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=12, now=time.time() - SANDBOX_LAG_SECONDS, max_seconds=900) as running:
        yield running


def _every_stream(config: dict[str, Any]) -> list[str]:
    parsed = BillingConfig.parse(config).stripe
    assert parsed is not None
    return [stream.name for stream in stripe_streams(parsed)]


def _synced(
    sandbox: SandboxProcess, **stripe: Any
) -> tuple[dict[str, Any], list[str], list[AirbyteStateMessage]]:
    """A first sync of every Stripe stream (the sandbox's clock then moved to its end): its configuration,
    streams and final states."""
    config = stripe_config(sandbox, **stripe)
    names = _every_stream(config)
    synced = next_second(sandbox)
    with connector_clock(synced):
        state = final_states(read_streams(config, names))
    catch_up(sandbox, synced)
    return config, names, state


def _again(
    sandbox: SandboxProcess, config: dict[str, Any], names: list[str], state: list[AirbyteStateMessage]
) -> EntrypointOutput:
    """The next sync, a second after what the sandbox holds."""
    with connector_clock(next_second(sandbox)):
        return read_streams(config, names, state=state)


def _paths(sandbox: SandboxProcess) -> list[str]:
    requests: list[dict[str, Any]] = sandbox.control("GET", "/_control/requests")["requests"]
    return [request["path"] for request in requests]


def _forget_requests(sandbox: SandboxProcess) -> None:
    sandbox.control("DELETE", "/_control/requests")


def test_given_no_change_when_every_stream_syncs_incremental_then_one_events_request_and_no_per_parent_read(
    sandbox: SandboxProcess,
) -> None:
    config, names, state = _synced(sandbox)
    _forget_requests(sandbox)
    second = _again(sandbox, config, names, state)
    paths = _paths(sandbox)
    assert paths.count("/v1/events") == 1
    assert not [path for path in paths if PER_PARENT.match(path)]
    parsed = BillingConfig.parse(config).stripe
    assert parsed is not None
    followed = {stream.name for stream in stripe_streams(parsed) if stream.cursor_field}
    # Only the lists that cannot be followed (full refresh, or the still-growing day of usage) emit again.
    emitted = {m.record.stream for m in second.records if m.record is not None}
    assert emitted <= (set(names) - followed) | {"billing_meter_event_summaries"}
    by_path = Counter(re.sub(r"/(mtr|acct)_\w+", "/{id}", path) for path in paths)
    assert len(paths) < 60, by_path


def test_given_new_balance_transactions_when_synced_incremental_then_read_for_their_customers_only(
    sandbox: SandboxProcess,
) -> None:
    config, _, state = _synced(sandbox)
    credited = next(
        txn
        for txn in sandbox_objects(sandbox, "billing_credit_balance_transactions")
        if txn["type"] == "credit"
    )
    grant = next(
        g for g in sandbox_objects(sandbox, "billing_credit_grants") if g["id"] == credited["credit_grant"]
    )
    customer = grant["customer"]
    _forget_requests(sandbox)
    balance = sandbox.control(
        "POST", "/_control/stripe/customer_balance_transactions", {"_parent": customer, "amount": -700}
    )
    credit = sandbox.control(
        "POST", "/_control/stripe/billing_credit_balance_transactions", {"customer": customer}
    )
    second = _again(
        sandbox, config, ["customer_balance_transactions", "billing_credit_balance_transactions"], state
    )
    paths = _paths(sandbox)

    balances = stream_records(second, "customer_balance_transactions")
    assert balance["id"] in {record["id"] for record in balances}
    assert {record["customer_id"] for record in balances} == {customer}
    (credits,) = stream_records(second, "billing_credit_balance_transactions")
    assert (credits["id"], credits["customer_id"]) == (credit["id"], customer)
    # One events request, the changed customer's balance transactions, the credit (its event is rendered in
    # the account's 2023 default version: read again in the pinned one) and its grant (for its customer).
    assert sorted(paths) == sorted(
        [
            "/v1/events",
            f"/v1/customers/{customer}/balance_transactions",
            f"/v1/billing/credit_balance_transactions/{credit['id']}",
            f"/v1/billing/credit_grants/{credit['credit_grant']}",
        ]
    )


@pytest.mark.parametrize(("hours", "read_again"), [(0, True), (24, False)])
def test_given_a_refresh_interval_when_synced_again_then_usage_and_persons_are_read_in_full_when_due(
    sandbox: SandboxProcess, hours: int, read_again: bool
) -> None:
    config, _, state = _synced(sandbox, refresh_interval_hours=hours)
    refreshed = ["usage_records", "persons"]
    first = read_streams(config, refreshed)
    _forget_requests(sandbox)
    second = _again(sandbox, config, refreshed, state)
    paths = _paths(sandbox)
    assert bool([path for path in paths if path.endswith("/usage_record_summaries")]) == read_again
    for stream in refreshed:
        expected = {record["id"] for record in stream_records(first, stream)} if read_again else set()
        assert expected or not read_again
        assert {record["id"] for record in stream_records(second, stream)} == expected
