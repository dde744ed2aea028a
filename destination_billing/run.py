"""The `destination-billing` console script (also what `python -m destination_billing` and the image run)."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.logger import PRINT_BUFFER, init_logger
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type
from airbyte_protocol_dataclasses.models import AirbyteMessage as ProtocolMessage
from airbyte_protocol_dataclasses.models import DestinationCatalog
from serpyco_rs import Serializer

from destination_billing.destination import DestinationBilling

# The CDK's own message class has no `destination_catalog` yet; the protocol's dataclass has.
PROTOCOL_MESSAGES: Serializer[ProtocolMessage] = Serializer(ProtocolMessage, omit_none=True)


def serialize(message: AirbyteMessage | DestinationCatalog) -> str:
    """One output line."""
    if isinstance(message, DestinationCatalog):
        wrapped = ProtocolMessage(type=Type.DESTINATION_CATALOG, destination_catalog=message)
        return orjson.dumps(PROTOCOL_MESSAGES.dump(wrapped)).decode()
    return orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()


def run(args: list[str] | None = None) -> None:
    """Run the command given on the command line (`spec`, `check`, `discover`, `write`)."""
    logger = init_logger("airbyte")
    init_uncaught_exception_handler(logger)
    destination = DestinationBilling()
    parsed = destination.parse_args(sys.argv[1:] if args is None else args)
    with PRINT_BUFFER:
        message: Any
        for message in destination.run_cmd(parsed):
            # One write per message, newline included, so concurrent log output never splits a line.
            sys.stdout.write(f"{serialize(message)}\n")
            if isinstance(message, AirbyteMessage) and message.type == Type.STATE:
                # Delivered now, not at the buffer's next flush: a run killed during a long write keeps it.
                sys.stdout.flush()
