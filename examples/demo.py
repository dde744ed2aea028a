"""`make demo`: sync every stream of the three APIs from the local sandbox into DuckDB through PyAirbyte, then
reconcile licenses with subscriptions.

Starts the sandbox on 127.0.0.1, runs the connector's own executable (PyAirbyte in offline mode, so nothing
but loopback is contacted), prints the row count of every stream, stops the sandbox, and answers the
reconciliation questions of `examples/reconciliation/` on the synced tables: licenses active without an
active subscription, active subscriptions without an installed license, licenses expiring in the next 30
days, licenses per connector. The database stays in `demo-output/`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb

from examples import reconciliation
from sandbox import credentials
from sandbox.process import SandboxProcess

OUTPUT = Path("demo-output")
DATABASE = OUTPUT / "billing.duckdb"
DEMO_SCALE = 300


def sandbox_config(sandbox: SandboxProcess) -> dict[str, Any]:
    """A configuration of all three APIs pointing at the sandbox."""
    return {
        # A live-mode key gets the live rate budget (100 requests/s instead of 25); the sandbox takes both.
        "stripe": {"client_secret": credentials.STRIPE_LIVE_KEY, "api_base_url": sandbox.base_url("stripe")},
        "orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb")},
        "integrator_io": {
            "api_token": credentials.INTEGRATOR_TOKEN,
            "api_base_url": sandbox.base_url("integrator"),
        },
    }


def sync() -> dict[str, int]:
    """Read every stream from the sandbox into the DuckDB cache; the row count of each stream."""
    # PyAirbyte reads these at import: without them it fetches Airbyte's registry and sends telemetry.
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import airbyte as ab
    from airbyte.caches import DuckDBCache

    executable = Path(sys.executable).with_name("source-billing")
    with SandboxProcess(scale=DEMO_SCALE, max_seconds=900) as sandbox:
        source = ab.get_source("source-billing", config=sandbox_config(sandbox), local_executable=executable)
        source.check()
        source.select_all_streams()
        cache = DuckDBCache(db_path=DATABASE)
        result = source.read(cache=cache, force_full_refresh=True)
        counts = {name: len(dataset) for name, dataset in sorted(result.streams.items())}
    cache.close()  # releases the database file for the reconciliation's own connection
    return counts


def main() -> int:
    """Run the demo; the exit code is 0 when every stream synced rows and every question found some."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir()
    counts = sync()
    print("\nRows per stream:")
    reconciliation.print_table(["stream", "rows"], list(counts.items()))
    print("\nReconciliation (examples/reconciliation/*.sql):")
    with duckdb.connect(str(DATABASE), read_only=True) as connection:
        answers = reconciliation.answer(connection)
    reconciliation.report(answers)
    print(f"\nThe DuckDB database is {DATABASE}; `python -m examples.reconciliation` answers again on it.")
    empty = [name for name, rows in counts.items() if not rows] + [a.title for a in answers if not a.rows]
    if empty or not counts:
        print(f"\nNothing found for: {', '.join(empty) or 'any stream'}.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
