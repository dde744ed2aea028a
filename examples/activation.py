"""Closing the loop: the reconciliation's mismatches become records for `destination-billing`.

- An active license (not in trial) whose licensee has no active subscription is expired
  (`integrator_io_licenses`, `soft_delete`).
- An active subscription without a license gets a 30-day trial license on the vendor's main connector, and
  one whose license has expired gets that license renewed for 30 days (the installed one, if any)
  (`integrator_io_licenses`, `update`: create or update, as the API requires).
- "Licensed, not installed" is left alone: the licensee must install the integration app, which no write can
  do. Trials without a subscription are expected; the comparisons with Stripe's entitlements and Orb's
  licenses are reports (which side is right is the vendor's call).

The destination runs as a subprocess, as Airbyte runs it: PyAirbyte 0.71's `Destination.write` cannot set a
stream's `destination_object_name` and `destination_sync_mode`, which a data-activation write needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pendulum

from examples.reconciliation import Answer

TRIAL_DAYS = 30
LICENSES = "integrator_io_licenses"
# A web sign-up to provision too, Celigo's first use case: the address is no integrator.io user yet, so
# integrator.io refuses it (`invalid_user`), and the run shows a rejected record beside the applied ones.
SIGN_UP = "newcomer@example.org"
# The vendor's main integration app: the published connector with the most licenses.
MAIN_CONNECTOR = """
select k._id
from integrator_io_connectors k
left join integrator_io_licenses l on l._connectorid = k._id
where k.published
group by k._id, k.name
order by count(l._id) desc, k.name
limit 1
"""
EXECUTABLE = Path(sys.executable).with_name("destination-billing")
# The console script as setup.py installs it; an install older than the destination runs the module.
COMMAND = [str(EXECUTABLE)] if EXECUTABLE.exists() else [sys.executable, "-m", "destination_billing"]


@dataclass(frozen=True)
class Stream:
    """One stream of the write: the records of one operation."""

    name: str
    object_name: str
    sync_mode: str
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    """What one `destination-billing write` logged."""

    returncode: int
    logs: list[tuple[str, str]]
    errors: list[str]

    def lines(self, prefix: str) -> list[str]:
        return [message.removeprefix(prefix) for _, message in self.logs if message.startswith(prefix)]


def plan(answers: Sequence[Answer], connection: duckdb.DuckDBPyConnection) -> list[Stream]:
    """The records that fix what the reconciliation found, one stream per operation (each key once)."""
    found = {answer.name: answer for answer in answers}
    expires = pendulum.now("UTC").add(days=TRIAL_DAYS).start_of("day").format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")
    expire = Stream("licenses_to_expire", LICENSES, "soft_delete")
    provision = Stream("licenses_to_provision", LICENSES, "update")
    unpaid = found["licenses_without_subscription.sql"]
    for row in map(dict, (zip(unpaid.columns, values, strict=True) for values in unpaid.rows)):
        if not row["in_trial"]:
            expire.records.append({"connector_id": row["connector_id"], "email": row["email"]})
    main = connection.execute(MAIN_CONNECTOR).fetchone()
    unlicensed = found["subscriptions_without_installed_license.sql"]
    for row in map(dict, (zip(unlicensed.columns, values, strict=True) for values in unlicensed.rows)):
        if row["license_state"] == "no license" and main is not None:
            trial = {"expires": expires, "trialEndDate": expires, "opts": {"connectorEdition": "starter"}}
            provision.records.append({"connector_id": main[0], "email": row["email"], **trial})
        elif row["license_state"] in ("installed license expired", "license expired"):
            provision.records.append(
                {"connector_id": row["connector_id"], "email": row["email"], "expires": expires}
            )
    if main is not None:
        provision.records.append(
            {"connector_id": main[0], "email": SIGN_UP, "expires": expires, "trialEndDate": expires}
        )
    for stream in (expire, provision):
        unique = {(record["connector_id"], record["email"]): record for record in stream.records}
        stream.records[:] = list(unique.values())
    return [stream for stream in (expire, provision) if stream.records]


def messages(streams: Sequence[Stream]) -> list[dict[str, Any]]:
    """The input of the write: each stream's records, then a state for the stream."""
    lines: list[dict[str, Any]] = []
    for stream in streams:
        for data in stream.records:
            lines.append({"type": "RECORD", "record": {"stream": stream.name, "data": data, "emitted_at": 0}})
        lines.append(
            {
                "type": "STATE",
                "state": {
                    "type": "STREAM",
                    "stream": {
                        "stream_descriptor": {"name": stream.name},
                        "stream_state": {"written": len(stream.records)},
                    },
                },
            }
        )
    return lines


def catalog(streams: Sequence[Stream]) -> dict[str, Any]:
    """Each stream mapped to its operation (`destination_object_name`, `destination_sync_mode`)."""
    return {
        "streams": [
            {
                "stream": {"name": stream.name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": stream.sync_mode,
                "destination_object_name": stream.object_name,
            }
            for stream in streams
        ]
    }


def write(config: dict[str, Any], streams: Sequence[Stream]) -> Outcome:
    """Run `destination-billing write` with the streams' records on standard input."""
    with tempfile.TemporaryDirectory() as folder:
        config_path, catalog_path = Path(folder) / "config.json", Path(folder) / "catalog.json"
        config_path.write_text(json.dumps(config))
        catalog_path.write_text(json.dumps(catalog(streams)))
        done = subprocess.run(
            [*COMMAND, "write", "--config", str(config_path), "--catalog", str(catalog_path)],
            input="".join(json.dumps(line) + "\n" for line in messages(streams)),
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
    logs, errors = [], []
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "LOG":
            logs.append((message["log"]["level"], message["log"]["message"]))
        elif message["type"] == "TRACE" and message["trace"].get("error"):
            errors.append(message["trace"]["error"]["message"])
    return Outcome(done.returncode, logs, errors)
