"""`make demo`: sync every stream of the three APIs from the local sandbox into DuckDB through PyAirbyte,
reconcile licenses with subscriptions, write the fixes back with `destination-billing`, and sync again.

Starts the sandbox on 127.0.0.1, runs the connector's own executable (PyAirbyte in offline mode, so nothing
but loopback is contacted), prints the row count of every stream, and answers the reconciliation questions
of `examples/reconciliation/` on the synced tables: licenses active without an active subscription, active
subscriptions without an installed license, licenses expiring in the next 30 days, licenses per connector,
Orb licenses and Stripe entitlements beside integrator.io licenses. Then `examples/activation.py` turns the
mismatches into records for `destination-billing`: a dry run prints the plan, the write applies it to the
sandbox, and a second sync of the reconciliation's streams shows what is left. The database stays in
`demo-output/`.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import duckdb

from examples import activation, reconciliation
from sandbox import credentials
from sandbox.process import SandboxProcess

OUTPUT = Path("demo-output")
DATABASE = OUTPUT / "billing.duckdb"
DEMO_SCALE = 300
# The streams the reconciliation reads (the second sync reads only these).
RECONCILED = (
    "customers",
    "subscriptions",
    "active_entitlements",
    "orb_customers",
    "orb_subscriptions",
    "orb_licenses",
    "orb_license_types",
    "integrator_io_connectors",
    "integrator_io_licenses",
)
# The sandbox's licenses are unpaid half the time by construction: the guard's default (a tenth of the
# active licenses per run) would refuse the demo's write, so the demo allows up to half.
MAX_RETIRE_SHARE = 0.5
SHOWN_PER_ACTION = 4
# Questions the sandbox's data may leave empty: Orb ends every seat with its subscription.
OPTIONAL = ("orb_licenses_on_inactive_subscriptions.sql",)
# The mismatches a write fixes: (question, the rows it fixes, what to call them).
FIXED = (
    (
        "licenses_without_subscription.sql",
        lambda row: not row["in_trial"],
        "active licenses (not in trial) without an active subscription: expired",
    ),
    (
        "subscriptions_without_installed_license.sql",
        lambda row: row["license_state"] == "no license",
        "active subscriptions without a license: given a 30-day trial license",
    ),
    (
        "subscriptions_without_installed_license.sql",
        lambda row: row["license_state"] == "installed license expired",
        "active subscriptions whose installed license expired: renewed for 30 days",
    ),
    (
        "subscriptions_without_installed_license.sql",
        lambda row: row["license_state"] == "license expired",
        "active subscriptions whose licenses, never installed, expired: renewed",
    ),
)


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


def sync(sandbox: SandboxProcess, streams: tuple[str, ...] = ()) -> dict[str, int]:
    """Read the streams (all when none are named) from the sandbox into the DuckDB cache, replacing what it
    held; the row count of each stream."""
    # PyAirbyte reads these at import: without them it fetches Airbyte's registry and sends telemetry.
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Importing PyAirbyte imports Google's cloud clients (for caches this demo does not use), which announce
    # when they will stop supporting the running Python: a notice about the interpreter, not about the sync.
    warnings.filterwarnings(
        "ignore", category=FutureWarning, module=r"google\.api_core\._python_version_support"
    )
    import airbyte as ab
    from airbyte.caches import DuckDBCache

    executable = Path(sys.executable).with_name("source-billing")
    source = ab.get_source("source-billing", config=sandbox_config(sandbox), local_executable=executable)
    source.check()
    if streams:
        source.select_streams(list(streams))
    else:
        source.select_all_streams()
    cache = DuckDBCache(db_path=DATABASE)
    result = source.read(cache=cache, force_full_refresh=True)
    counts = {name: len(dataset) for name, dataset in sorted(result.streams.items())}
    cache.close()  # releases the database file for the reconciliation's own connection
    return counts


def reconcile() -> list[reconciliation.Answer]:
    """Every question's answer on the synced tables."""
    with duckdb.connect(str(DATABASE), read_only=True) as connection:
        return reconciliation.answer(connection)


def fixable(answers: list[reconciliation.Answer]) -> list[tuple[str, int]]:
    """The count of each kind of mismatch a write fixes."""
    found = {answer.name: answer for answer in answers}
    counts = []
    for name, fixes, label in FIXED:
        answer = found[name]
        rows = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
        counts.append((label, sum(1 for row in rows if fixes(row))))
    return counts


def close_the_loop(sandbox: SandboxProcess, answers: list[reconciliation.Answer]) -> bool:
    """Plan the fixes, print the dry run's plan, write them; whether the write succeeded."""
    with duckdb.connect(str(DATABASE), read_only=True) as connection:
        streams = activation.plan(answers, connection)
    records = sum(len(stream.records) for stream in streams)
    print(
        f"\nClosing the loop with destination-billing: {records} records from the mismatches above and "
        f"one web sign-up ({activation.SIGN_UP}), max_retire_share {MAX_RETIRE_SHARE}."
    )
    config = {
        **{api: settings for api, settings in sandbox_config(sandbox).items() if api == "integrator_io"},
        "max_retire_share": MAX_RETIRE_SHARE,
    }
    sandbox.control("DELETE", "/requests")
    dry = activation.write({**config, "dry_run": True}, streams)
    sent = [entry["method"] for entry in sandbox.control("GET", "/requests")["requests"]]
    writes = len(sent) - sent.count("GET")
    print(
        f"\nDry run ({sent.count('GET')} GET requests and {writes} writes in the sandbox's request log); "
        f"the plan, up to {SHOWN_PER_ACTION} records per action:"
    )
    shown: dict[str, int] = {}
    for line in dry.lines("Plan: "):
        action = line.rsplit(": ", 1)[-1].split(" ")[0]
        shown[action] = shown.get(action, 0) + 1
        if shown[action] <= SHOWN_PER_ACTION:
            print(f"  {line}")
    for line in dry.lines("Dry run: "):
        print(f"  Dry run: {line}")
    done = activation.write(config, streams)
    print("\nWrite to the sandbox:")
    for line in done.lines("Write finished: "):
        print(f"  {line}")
    for line in done.lines("Rejected "):
        print(f"  rejected: {line}")
    for error in dry.errors + done.errors:
        print(f"  failed: {error}")
    return dry.returncode == 0 and done.returncode == 0 and bool(done.lines("Write finished: "))


def main() -> int:
    """Run the demo; the exit code is 0 when every stream synced rows, every question of the first
    reconciliation found some, the write succeeded and the second sync shows no mismatch a write can fix."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir()
    with SandboxProcess(scale=DEMO_SCALE, max_seconds=1200) as sandbox:
        counts = sync(sandbox)
        print("\nRows per stream:")
        reconciliation.print_table(["stream", "rows"], list(counts.items()))
        print("\nReconciliation (examples/reconciliation/*.sql):")
        before = reconcile()
        reconciliation.report(before)
        written = close_the_loop(sandbox, before)
        sync(sandbox, RECONCILED)
    after = reconcile()
    print("\nSecond sync (the reconciliation's streams, a full refresh): rows per question")
    reconciliation.print_table(
        ["question", "before", "after"],
        [(a.title, len(a.rows), len(b.rows)) for a, b in zip(before, after, strict=True)],
    )
    print("\nOf those, the mismatches a write fixes:")
    remaining = fixable(after)
    reconciliation.print_table(
        ["mismatch", "before", "after"],
        [(label, count, left) for (label, count), (_, left) in zip(fixable(before), remaining, strict=True)],
    )
    subscriptions = next(a for a in after if a.name == FIXED[1][0])
    state = subscriptions.columns.index("license_state")
    unfixable = sum(1 for row in subscriptions.rows if row[state] == "licensed, not installed")
    print(
        f"\nLeft as they are: {unfixable} active subscriptions are 'licensed, not installed', which no "
        "write can fix:\nthe customer has a license (the new trials included) and must install the "
        "integration app. Licenses\nin trial without a subscription are expected. The Orb and Stripe "
        "entitlement questions are reports:\nwhich side is right is the vendor's call."
    )
    print(f"\nThe DuckDB database is {DATABASE}; `python -m examples.reconciliation` answers again on it.")
    empty = [name for name, rows in counts.items() if not rows]
    empty += [a.title for a in before if not a.rows and a.name not in OPTIONAL]
    if empty or not counts:
        print(f"\nNothing found for: {', '.join(empty) or 'any stream'}.")
        return 1
    if not written or any(left for _, left in remaining):
        print("\nThe write did not leave the reconciliation without the mismatches it fixes.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
