"""The `source-billing` console script (also what `main.py` and the Docker image run)."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from functools import partial

from airbyte_cdk.connector import TConfig
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification

from source_billing.runtime.inputs import spec_violation
from source_billing.runtime.processes import apis_to_split, read_per_api
from source_billing.runtime.source import SourceBilling

# glibc's `mallopt` parameter for the most malloc arenas (malloc.h), and how many the connector keeps.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


class BillingEntrypoint(AirbyteEntrypoint):
    """The CDK's entry point, with a spec validation whose message names the field and never quotes the
    value (the CDK's quotes it: a key pasted as a whole section would be shown)."""

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: TConfig) -> None:
        problem = spec_violation(config, source_spec.connectionSpecification)
        if problem is not None:
            raise problem


def limit_malloc_arenas() -> bool:
    """Keep glibc's allocator to two arenas, unless `MALLOC_ARENA_MAX` already says how many; whether the
    limit was set.

    glibc gives threads arenas of their own, up to eight per core. The workers allocate whole pages (tens
    of KB each) that the main thread frees once written; with an arena per worker, a CPU-bound sync's
    peak RSS kept creeping up (fragmentation: tracemalloc saw no Python object kept) and ended up to 10 MB
    higher. With two arenas it stays within a few MB, at the same CPU per record: the interpreter lock
    already takes the allocations in turn."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:  # a C library without `mallopt`
        return False
    return bool(mallopt(M_ARENA_MAX, MALLOC_ARENAS))


def run() -> None:
    """Run the connector with the command-line arguments (`spec`, `check`, `discover`, `read`), as the
    CDK's `launch` does, with `BillingEntrypoint`; a read of several APIs in a process per API."""
    limit_malloc_arenas()  # before the workers start
    # The objects imported so far (the CDK, pydantic and their data: about 110,000) live as long as the
    # process, yet each of the collector's full passes walked them all: about 60 ms holding the interpreter
    # lock, once a second at 9,000 records/s, in which no worker sent a request (a tenth of each second's
    # requests at Stripe's 100/s lost, then a burst for the limits to hold back). Frozen, the passes skip
    # them; objects made later are collected as before.
    gc.freeze()
    args = sys.argv[1:]
    apis = apis_to_split(args)
    if apis:
        sys.exit(read_per_api(apis, partial(launch, args)))
    launch(args)


def launch(args: list[str], api: str | None = None) -> None:
    """Run the command in this process; `api`: read only that API's streams of the catalog."""
    entrypoint = BillingEntrypoint(SourceBilling(api=api))
    with PRINT_BUFFER:
        for message in entrypoint.run(entrypoint.parse_args(args)):
            # One write per message, newline included, so that concurrent output never interleaves (`print`
            # would write the line and its `end` apart).
            sys.stdout.write(f"{message}\n")
