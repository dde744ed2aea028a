"""The `source-billing` console script."""

from __future__ import annotations

import sys

from airbyte_cdk.entrypoint import launch

from source_billing.source import SourceBilling


def run() -> None:
    """Run the connector with the command-line arguments (`spec`, `check`, `discover`, `read`)."""
    launch(SourceBilling(), sys.argv[1:])
