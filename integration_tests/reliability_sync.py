"""Syncing every stream of the three APIs in-process against a sandbox, and judging the outcome: record
sets per stream against the sandbox, duplicates within a sync, the error traces, the latest state per
stream to resume from, and the sandbox's request log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pendulum
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    SyncMode,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from integration_tests.conftest import sandbox_config
from integration_tests.reliability_dataset import COMPUTED, duplicates, expected_ids, primary_key
from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing import SourceBilling

# The CDK ends a sync in which any stream failed with one combined trace of this text (as a config_error,
# "since the individual errors were already emitted"); the stream's own trace carries the real failure type.
COMBINED_FAILURE = "During the sync, the following streams did not sync successfully"
RFC3339 = "YYYY-MM-DDTHH:mm:ss[Z]"


def everything_config(sandbox: SandboxProcess, *, slice_range_days: int) -> dict[str, Any]:
    """All three APIs on the sandbox. A live Stripe key gets the live budget (100 requests/s), and a start
    date shortly before the sandbox's oldest object (three years back) keeps the number of windows small."""
    config = sandbox_config(sandbox, stripe_key=credentials.STRIPE_LIVE_KEY)
    config["stripe"]["start_date"] = pendulum.now("UTC").subtract(years=3, days=30).format(RFC3339)
    config["stripe"]["slice_range_days"] = slice_range_days
    config["max_concurrency"] = 8
    return config


def catalog_of(config: Mapping[str, Any], names: Iterable[str] | None = None) -> ConfiguredAirbyteCatalog:
    """The configured streams (all, or `names`), each incremental where it can be."""
    wanted = None if names is None else set(names)
    builder = CatalogBuilder()
    for stream in SourceBilling().streams(config):
        if wanted is None or stream.name in wanted:
            mode = SyncMode.incremental if stream.supports_incremental else SyncMode.full_refresh
            builder = builder.with_stream(stream.name, mode)
    return builder.build()


def records_by_stream(output: EntrypointOutput) -> dict[str, list[Mapping[str, Any]]]:
    found: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for message in output.records:
        assert message.record is not None
        found[message.record.stream].append(message.record.data)
    return found


def stream_errors(output: EntrypointOutput) -> list[tuple[FailureType | None, str]]:
    """The error traces of failed streams (the CDK's closing summary of them left out)."""
    found = []
    for message in output.errors:
        assert message.trace is not None
        assert message.trace.error is not None
        error = message.trace.error
        if not error.message.startswith(COMBINED_FAILURE):
            found.append((error.failure_type, error.message))
    return found


def latest_states(
    output: EntrypointOutput, earlier: list[AirbyteStateMessage] | None = None
) -> list[AirbyteStateMessage]:
    """The newest state of every stream, as the platform keeps it: a stream this sync gave no state
    keeps the one it had."""
    latest: dict[str, AirbyteStateMessage] = {}
    for state in earlier or []:
        assert state.stream is not None
        latest[state.stream.stream_descriptor.name] = state
    for message in output.state_messages:
        assert message.state is not None
        assert message.state.stream is not None
        latest[message.state.stream.stream_descriptor.name] = message.state
    return list(latest.values())


def sync(
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    state: list[AirbyteStateMessage] | None = None,
) -> EntrypointOutput:
    return read(SourceBilling(), dict(config), catalog, state)


def usage_ids(config: Mapping[str, Any]) -> dict[str, set[str]]:
    """The ids of the usage rows of each computed stream (Orb subscription usage, Stripe meter event
    summaries), from a fault-free read: the sandbox computes them from usage events, and the control API
    cannot list them."""
    output = sync(config, catalog_of(config, COMPUTED))
    assert not output.errors
    found = records_by_stream(output)
    return {stream: {str(row["id"]) for row in found[stream]} for stream in COMPUTED}


def record_set_problems(
    sandbox: SandboxProcess,
    found: Mapping[str, Iterable[Mapping[str, Any]]],
    streams: Iterable[str],
    usage_between: tuple[dict[str, set[str]], dict[str, set[str]]] | None = None,
) -> list[str]:
    """Per stream, the records lost or invented compared with the sandbox. Computed usage is compared with
    fault-free reads just before and just after (`usage_between`): the same rows, unless a new day began
    in between, when the rows found lie between the two."""
    problems: list[str] = []
    for stream in streams:
        ids = {str(record[primary_key(stream)]) for record in found.get(stream, [])}
        if stream in COMPUTED:
            if usage_between is not None:
                before, after = usage_between[0][stream], usage_between[1][stream]
                if not before <= ids <= after:
                    problems.append(f"{stream}: {len(before - ids)} rows lost, {len(ids - after)} invented")
            continue
        problems += expected_ids(sandbox, stream).problems(stream, ids)
    return problems


def committed_records(output: EntrypointOutput) -> dict[str, list[Mapping[str, Any]]]:
    """Per stream, the records a destination keeps from a sync: all of them when it completed; when it
    failed, only those before the stream's last state (the platform resumes from that state)."""
    kept: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    pending: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for message in output.records_and_state_messages:
        if message.record is not None:
            pending[message.record.stream].append(message.record.data)
        elif message.state is not None and message.state.stream is not None:
            name = message.state.stream.stream_descriptor.name
            kept[name] += pending.pop(name, [])
    if not output.errors:
        for name, rest in pending.items():
            kept[name] += rest
    return kept


def duplicate_problems(output: EntrypointOutput) -> list[str]:
    return [
        f"{stream}: {len(dups)} records emitted twice in one sync, e.g. {dups[:3]}"
        for stream, records in records_by_stream(output).items()
        if (dups := duplicates(records, stream))
    ]


def request_log(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = sandbox.control("GET", "/_control/requests?since=0&limit=1000000")[
        "requests"
    ]
    return entries


def same_request(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether two log entries are the same request (a retry repeats method, path, query and body)."""

    def key(entry: Mapping[str, Any]) -> bytes:
        return orjson.dumps(
            [entry["api"], entry["method"], entry["path"], entry["query"], entry["body"]],
            option=orjson.OPT_SORT_KEYS,
        )

    return key(one) == key(other)


def run_entrypoint(args: list[str]) -> list[AirbyteMessage]:
    """Run a command through the CDK's entrypoint in this process, as `launch` does, and return what it
    printed; an exception that ends the command becomes the trace the CDK's exception hook prints."""
    entrypoint = AirbyteEntrypoint(SourceBilling())
    messages = []
    try:
        for line in entrypoint.run(AirbyteEntrypoint.parse_args(args)):
            messages.append(AirbyteMessageSerializer.load(orjson.loads(line)))
    except Exception as error:
        traced = (
            error
            if isinstance(error, AirbyteTracedException)
            else AirbyteTracedException.from_exception(error)
        )
        messages.append(traced.as_sanitized_airbyte_message())
    return messages
