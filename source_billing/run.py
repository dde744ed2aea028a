"""The `source-billing` console script (also what `main.py` and the Docker image run)."""

from __future__ import annotations

import sys

from airbyte_cdk.connector import TConfig
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_billing.inputs import spec_violation
from source_billing.source import SourceBilling


class BillingEntrypoint(AirbyteEntrypoint):
    """The CDK's entry point, with a spec validation whose message names the field and never quotes the
    value (the CDK's quotes it: a key pasted as a whole section would be shown)."""

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: TConfig) -> None:
        connector_config, _ = split_config(config)  # without the CDK's internal `_limit`, `_page_size`
        problem = spec_violation(connector_config, source_spec.connectionSpecification)
        if problem is not None:
            raise problem


def run() -> None:
    """Run the connector with the command-line arguments (`spec`, `check`, `discover`, `read`), as the
    CDK's `launch` does, with `BillingEntrypoint`."""
    entrypoint = BillingEntrypoint(SourceBilling())
    with PRINT_BUFFER:
        for message in entrypoint.run(entrypoint.parse_args(sys.argv[1:])):
            # One write per message, newline included, so that concurrent output never interleaves (`print`
            # would write the line and its `end` apart).
            sys.stdout.write(f"{message}\n")
