"""`make demo`: sync every stream of the three APIs from the local sandbox into DuckDB through PyAirbyte.

Starts the sandbox on 127.0.0.1, runs the connector's own executable (PyAirbyte in offline mode, so nothing
but loopback is contacted), prints the row count of every stream and one join of integrator.io licenses
to Stripe and Orb customers by e-mail, then stops the sandbox. The database stays in `demo-output/`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from sandbox import credentials
from sandbox.process import SandboxProcess

OUTPUT = Path("demo-output")
DEMO_SCALE = 300
SAMPLE_JOIN = """
with licensees as (
    select
        _id as license_id,
        "_connectorId" as connector_id,
        lower(json_extract_string("user", '$.email')) as email,
        expires
    from integrator_io_licenses
)
select
    l.license_id,
    l.connector_id,
    l.email,
    l.expires,
    s.id as stripe_customer_id,
    o.id as orb_customer_id
from licensees l
left join customers s on lower(s.email) = l.email
left join orb_customers o on lower(o.email) = l.email
order by (s.id is null) and (o.id is null), l.email
limit 10
"""


def sandbox_config(sandbox: SandboxProcess) -> dict[str, Any]:
    """A configuration of all three APIs pointing at the sandbox."""
    return {
        "stripe": {"client_secret": credentials.STRIPE_TEST_KEY, "api_base_url": sandbox.base_url("stripe")},
        "orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb")},
        "integrator_io": {
            "api_token": credentials.INTEGRATOR_TOKEN,
            "api_base_url": sandbox.base_url("integrator"),
        },
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("(no rows)")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def main() -> int:
    """Run the demo; the exit code is 0 when every stream synced rows."""
    # PyAirbyte reads these at import: without them it fetches Airbyte's registry and sends telemetry.
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import airbyte as ab
    from airbyte.caches import DuckDBCache

    executable = Path(sys.executable).with_name("source-billing")
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir()
    with SandboxProcess(scale=DEMO_SCALE, max_seconds=900) as sandbox:
        source = ab.get_source("source-billing", config=sandbox_config(sandbox), local_executable=executable)
        source.check()
        source.select_all_streams()
        cache = DuckDBCache(db_path=OUTPUT / "billing.duckdb")
        result = source.read(cache=cache, force_full_refresh=True)
    print("\nRows per stream:")
    counts = {name: len(dataset) for name, dataset in sorted(result.streams.items())}
    _print_table([{"stream": name, "rows": rows} for name, rows in counts.items()])
    print("\nintegrator.io licenses joined to Stripe and Orb customers by e-mail (first 10):")
    _print_table(cache.run_sql_query(SAMPLE_JOIN))
    print(f"\nThe DuckDB database is {OUTPUT / 'billing.duckdb'}.")
    return 0 if counts and all(counts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
