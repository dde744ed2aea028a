"""The Airbyte destination: `spec`, `check`, `discover` (a `DESTINATION_CATALOG` of operations) and `write`.

A write reads every input message first and plans each record against the object it stands for (read
first, so an unchanged record sends nothing); the guard then checks the whole plan, and only then are the
writes sent, in input order. A `STATE` message is echoed once every record before it has been applied or
rejected, so a run resumed from the last echoed state re-sends only records whose outcome is not known;
being read first again, those already applied are left unchanged.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.destinations import Destination
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from airbyte_protocol_dataclasses.models import DestinationCatalog, DestinationOperation

from destination_billing.clients import Api, ApiClient
from destination_billing.config import DOCUMENTATION_URL, DestinationConfig, connection_specification
from destination_billing.operations import OPERATIONS, Action, Operation, find_operation, stripe_endpoints
from destination_billing.plan import ApiReads, Planner, Step, guard_problems
from destination_billing.rejections import RejectionLog
from source_billing.config import config_error
from source_billing.runtime.inputs import read_catalog, spec_violation
from source_billing.runtime.source import check_apis

LOGGER = logging.getLogger("airbyte")
SYNC_MODES = [DestinationSyncMode.update, DestinationSyncMode.soft_delete]
StreamKey = tuple[str | None, str]


class DestinationBilling(Destination):
    """Writes to Stripe, Orb and integrator.io from records matched to their objects."""

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            documentationUrl=DOCUMENTATION_URL,
            connectionSpecification=connection_specification(),
            supported_destination_sync_modes=SYNC_MODES,
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One cheap authenticated call per configured API, the source's own probes."""
        try:
            parsed = DestinationConfig.parse(config)
        except AirbyteTracedException as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=error.message)
        problems = check_apis(parsed.apis, logger)
        if problems:
            return AirbyteConnectionStatus(status=Status.FAILED, message=problems)
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def discover(self, config: Mapping[str, Any]) -> DestinationCatalog:
        """The operations of the configured APIs: object name, sync mode, matching keys, record schema."""
        parsed = DestinationConfig.parse(config)
        return DestinationCatalog(
            operations=[
                DestinationOperation(
                    object_name=operation.object_name,
                    sync_mode=operation.sync_mode,
                    json_schema=operation.schema(parsed),
                    matching_keys=[list(key) for key in operation.keys(parsed)],
                )
                for operation in OPERATIONS
                if operation.api in parsed.apis.configured_apis
            ]
        )

    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        """Plan every record (reading the objects they stand for), check the guard, then apply the plan in
        input order, echoing each STATE once the records before it are applied or rejected; a dry run
        stops after logging the plan."""
        parsed = DestinationConfig.parse(config)
        operations = self._operations(configured_catalog, parsed)
        needed = {operation.api for operation in operations.values()}
        clients = {api: ApiClient(_api(api, parsed), LOGGER, read_only=parsed.dry_run) for api in needed}
        try:
            yield from self._write(parsed, operations, clients, input_messages)
        finally:
            for client in clients.values():
                client.close()

    def _write(
        self,
        parsed: DestinationConfig,
        operations: Mapping[StreamKey, Operation],
        clients: Mapping[str, ApiClient],
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterator[AirbyteMessage]:
        reads = {api: ApiReads(client, parsed) for api, client in clients.items()}
        planner = Planner(parsed, reads)
        plan: list[Step | AirbyteMessage] = []
        for message in input_messages:
            if message.type == Type.RECORD and message.record is not None:
                operation = operations.get((message.record.namespace, message.record.stream))
                if operation is None:
                    # Skipping it would commit it with the next state: fail before any write instead.
                    raise AirbyteTracedException(
                        message=f"A record of stream {message.record.stream}, which the catalog does not "
                        "configure, was received: nothing was written.",
                        failure_type=FailureType.system_error,
                    )
                plan.append(planner.plan(operation, message.record.data))
            elif message.type == Type.STATE:
                plan.append(message)
        steps = [item for item in plan if isinstance(item, Step)]
        problems = guard_problems(steps, reads, parsed)
        if parsed.dry_run:
            self._report_plan(steps, problems, parsed)
            return
        if problems:
            raise config_error(
                "Refused before any write: " + "; ".join(problems) + ". Check the records, or raise "
                "`max_retire_share` if so many should really go."
            )
        done: Counter[Action] = Counter()
        with RejectionLog(parsed.rejected_records_path, LOGGER) as rejections:
            for item in plan:
                if isinstance(item, Step):
                    done[self._apply(item, clients, rejections)] += 1
                else:
                    yield item  # every record before it is applied or rejected
        LOGGER.info("Write finished: " + _counts(done))

    def _apply(self, step: Step, clients: Mapping[str, ApiClient], rejections: RejectionLog) -> Action:
        if step.action == Action.REJECTED:
            rejections.add(step, step.reason or "")
            return Action.REJECTED
        if step.request is None:
            return step.action
        result = clients[step.operation.api].write(step.request)
        if result.rejected is not None:
            rejections.add(step, result.rejected)
            return Action.REJECTED
        LOGGER.info(f"Applied: {step.describe()}")
        return step.action

    def _report_plan(self, steps: list[Step], problems: list[str], config: DestinationConfig) -> None:
        """A dry run's output: the plan, record by record, and what the guard would refuse."""
        with RejectionLog(config.rejected_records_path, LOGGER) as rejections:
            for step in steps:
                if step.action == Action.REJECTED:
                    rejections.add(step, step.reason or "")
                else:
                    LOGGER.info(f"Plan: {step.describe()}")
        for problem in problems:
            LOGGER.warning(f"A real run would be refused before any write: {problem}.")
        LOGGER.info(
            "Dry run: nothing was written and no state is committed. Plan: "
            + _counts(Counter(step.action for step in steps))
        )

    def _operations(
        self, catalog: ConfiguredAirbyteCatalog, config: DestinationConfig
    ) -> dict[StreamKey, Operation]:
        """The operation of each configured stream, by (namespace, stream name); a stream asking for an
        operation the destination does not offer, or for an API not configured, fails before any request."""
        found: dict[StreamKey, Operation] = {}
        for configured in catalog.streams:
            object_name = configured.destination_object_name or configured.stream.name
            operation = find_operation(object_name, configured.destination_sync_mode)
            if operation is None:
                offered = ", ".join(f"{row.object_name} ({row.sync_mode.value})" for row in OPERATIONS)
                raise config_error(
                    f"Stream {configured.stream.name} asks for {object_name} with sync mode "
                    f"{configured.destination_sync_mode.value}, which this destination does not offer. "
                    f"Offered: {offered}."
                )
            if operation.api not in config.apis.configured_apis:
                raise config_error(
                    f"Stream {configured.stream.name} writes {object_name}, which needs the "
                    f"`{operation.api}` section of the configuration."
                )
            found[(configured.stream.namespace, configured.stream.name)] = operation
        return found

    # --- the command line: the CDK's, plus `discover` -------------------------------------------------------

    def parse_args(self, args: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser(prog="destination-billing")
        commands = parser.add_subparsers(title="commands", dest="command", required=True)
        commands.add_parser("spec", help="outputs the JSON configuration specification")
        for name, text in (
            ("check", "checks the config can be used to connect"),
            ("discover", "outputs the destination catalog of operations"),
            ("write", "writes the records read from standard input"),
        ):
            command = commands.add_parser(name, help=text)
            command.add_argument("--config", type=str, required=True, help="path to the JSON configuration")
            if name == "write":
                command.add_argument(
                    "--catalog", type=str, required=True, help="path to the configured catalog"
                )
        return parser.parse_args(args)

    def run_cmd(self, parsed_args: argparse.Namespace) -> Iterable[Any]:
        """The CDK's commands, plus `discover`; the configuration is checked against the spec with the
        source's messages, which name the field and never quote its value."""
        command = parsed_args.command
        spec = self.spec(LOGGER)
        if command == "spec":
            yield AirbyteMessage(type=Type.SPEC, spec=spec)
            return
        config = self.read_config(config_path=parsed_args.config)
        update_secrets(get_secrets(spec.connectionSpecification, config))
        problem = spec_violation(config, spec.connectionSpecification)
        if command == "check":
            status = (
                AirbyteConnectionStatus(status=Status.FAILED, message=problem.message)
                if problem is not None
                else self.check(LOGGER, config)
            )
            yield AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status)
            return
        if problem is not None:
            raise problem
        if command == "discover":
            yield self.discover(config)
        elif command == "write":
            catalog = read_catalog(parsed_args.catalog)
            yield from self.write(config, catalog, self._parse_input_stream(_stdin()))


def _api(name: str, config: DestinationConfig) -> Api:
    apis = config.apis
    if name == "stripe" and apis.stripe is not None:
        return Api.stripe(apis.stripe, stripe_endpoints())
    if name == "orb" and apis.orb is not None:
        return Api.orb(apis.orb)
    if name == "integrator_io" and apis.integrator_io is not None:
        return Api.integrator_io(apis.integrator_io)
    raise config_error(f"`{name}` is not configured.")


def _counts(counts: Counter[Action]) -> str:
    return (
        ", ".join(f"{action.value} {counts[action]}" for action in Action if counts[action]) or "no records"
    )


def _stdin() -> io.TextIOWrapper:
    """Standard input as UTF-8, whatever the locale says (as the CDK's destinations read it)."""
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8")
