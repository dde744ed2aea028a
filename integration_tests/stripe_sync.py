"""Reading Stripe streams from a sandbox in-process, and the sandbox's own objects to compare them with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read

from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing import SourceBilling


def stripe_config(sandbox: SandboxProcess, **stripe: Any) -> dict[str, Any]:
    """A Stripe-only configuration on the sandbox's test-mode key; `stripe` adds or overrides settings."""
    section = {
        "client_secret": credentials.STRIPE_TEST_KEY,
        "api_base_url": sandbox.base_url("stripe"),
        **stripe,
    }
    return {"stripe": section, "max_concurrency": 8}


def read_streams(
    config: dict[str, Any],
    streams: Sequence[str],
    mode: SyncMode = SyncMode.incremental,
    state: list[AirbyteStateMessage] | None = None,
    *,
    expect_errors: bool = False,
) -> EntrypointOutput:
    """One sync of `streams`; unless `expect_errors`, it must report no error."""
    catalog = CatalogBuilder()
    for name in streams:
        catalog = catalog.with_stream(name, mode)
    output = read(SourceBilling(), config, catalog.build(), state, expecting_exception=expect_errors)
    if not expect_errors:
        assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    return output


def stream_records(output: EntrypointOutput, stream: str) -> list[dict[str, Any]]:
    """The data of one stream's records, in the order they were emitted."""
    return [dict(m.record.data) for m in output.records if m.record is not None and m.record.stream == stream]


def sandbox_objects(
    sandbox: SandboxProcess, resource: str, account: str | None = None
) -> list[dict[str, Any]]:
    """The sandbox's objects of one Stripe resource (of one Connect account), through its control API."""
    query = f"?account={account}" if account else ""
    data: list[dict[str, Any]] = sandbox.control("GET", f"/_control/objects/stripe/{resource}{query}")["data"]
    return data


# Whether the stream returns an object of the sandbox (given the sandbox's accounts, by id).
Keep = Callable[[dict[str, Any], dict[str, dict[str, Any]]], bool]


def _everything(_: dict[str, Any], __: dict[str, dict[str, Any]]) -> bool:
    return True


def _of_type(object_type: str) -> Keep:
    return lambda item, _: item.get("object") == object_type


def _of_readable_accounts(item: dict[str, Any], accounts: dict[str, dict[str, Any]]) -> bool:
    """People of Custom accounts: Stripe refuses the platform those of Standard and Express accounts, whose
    requirements Stripe collects."""
    account = accounts.get(item["_parent"])
    if account is None:
        return False  # the platform's own people are not a Connect account's
    return (account.get("controller") or {}).get("requirement_collection") != "stripe"


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
    "payment_methods": ("payment_methods", lambda item, _: item.get("customer") is not None),
    "subscription_schedule": ("subscription_schedules", _everything),
    "top_ups": ("topups", _everything),
    "transactions": ("issuing_transactions", _everything),
    "usage_records": ("usage_record_summaries", _everything),
    # `persons` lists the people of the platform's Connect accounts (children of `GET /v1/accounts`).
    "persons": ("persons", _of_readable_accounts),
}


def expected_objects(sandbox: SandboxProcess, stream: str) -> list[dict[str, Any]]:
    """The sandbox's objects that a full refresh of a Stripe stream returns."""
    resource, keep = EXPECTED.get(stream, (stream, _everything))
    accounts = {account["id"]: account for account in sandbox_objects(sandbox, "accounts")}
    return [item for item in sandbox_objects(sandbox, resource) if keep(item, accounts)]
