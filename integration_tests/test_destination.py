"""End to end: the real `destination-billing` executable writes to the local sandbox over HTTP.

Records and states go in on standard input, as Airbyte sends them; the sandbox's request log shows what was
sent (method, path, body, `Idempotency-Key`), and its objects what was applied. The module has its own small
sandbox, since every test changes licenses; each test starts with an empty request log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pendulum
import pytest
import requests

from sandbox import credentials
from sandbox.clock import parse_iso
from sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
EXECUTABLE = Path(sys.executable).with_name("destination-billing")
# The console script, as installed from setup.py; an install older than the destination lacks it, and the
# same entry point runs as a module then.
COMMAND = [str(EXECUTABLE)] if EXECUTABLE.exists() else [sys.executable, "-m", "destination_billing"]
TIMEOUT_SECONDS = 120
LICENSES = "integrator_io_licenses"
UNKNOWN_EMAIL = "stranger@nowhere.example"


@dataclass
class Written:
    """What one `destination-billing` command printed."""

    returncode: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["type"] == kind]

    def states(self) -> list[int]:
        """The positions of the echoed states."""
        return [line["state"]["stream"]["stream_state"]["position"] for line in self.of_type("STATE")]

    def logs(self, level: str | None = None) -> list[str]:
        return [
            line["log"]["message"]
            for line in self.of_type("LOG")
            if level is None or line["log"]["level"] == level
        ]


def run_destination(
    command: str,
    config: dict[str, Any],
    streams: list[tuple[str, str]] | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> Written:
    """Run one command; `streams` are (object name, sync mode) pairs, each a stream of that object's name
    (plus `_retire` for soft_delete), `messages` the input lines."""
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "config.json"
        config_path.write_text(json.dumps(config))
        args = [*COMMAND, command, "--config", str(config_path)]
        if streams is not None:
            catalog_path = Path(folder) / "catalog.json"
            catalog_path.write_text(json.dumps(catalog(streams)))
            args += ["--catalog", str(catalog_path)]
        stdin = "".join(json.dumps(message) + "\n" for message in messages or [])
        done = subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            cwd=ROOT,
        )
    return Written(
        done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()], done.stderr
    )


def stream_name(object_name: str, sync_mode: str) -> str:
    return object_name + ("_retire" if sync_mode == "soft_delete" else "")


def catalog(streams: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {
                    "name": stream_name(object_name, mode),
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh"],
                },
                "sync_mode": "full_refresh",
                "destination_sync_mode": mode,
                "destination_object_name": object_name,
            }
            for object_name, mode in streams
        ]
    }


def record(object_name: str, data: dict[str, Any], sync_mode: str = "update") -> dict[str, Any]:
    return {
        "type": "RECORD",
        "record": {"stream": stream_name(object_name, sync_mode), "data": data, "emitted_at": 0},
    }


def state(position: int) -> dict[str, Any]:
    return {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "plan"}, "stream_state": {"position": position}},
        },
    }


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(scale=40, scale_for={"integrator.connectors": 8}, max_seconds=900) as running:
        yield running


@pytest.fixture
def config(sandbox: SandboxProcess) -> dict[str, Any]:
    """All three APIs on the sandbox, the guard off (each test names what it retires); the log emptied."""
    sandbox.control("DELETE", "/requests")
    sandbox.control("DELETE", "/faults")
    return {
        "stripe": {"client_secret": credentials.STRIPE_TEST_KEY, "api_base_url": sandbox.base_url("stripe")},
        "orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb")},
        "integrator_io": {
            "api_token": credentials.INTEGRATOR_TOKEN,
            "api_base_url": sandbox.base_url("integrator"),
        },
        "max_retire_share": 1,
    }


def sent(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    """Every API request since the log was emptied."""
    return list(sandbox.control("GET", "/requests")["requests"])


def writes(sandbox: SandboxProcess) -> list[tuple[str, str]]:
    return [(entry["method"], entry["path"]) for entry in sent(sandbox) if entry["method"] != "GET"]


def licenses_of(sandbox: SandboxProcess, connector_id: str) -> list[dict[str, Any]]:
    return [
        found
        for found in sandbox.control("GET", "/objects/integrator/licenses")["data"]
        if found.get("_connectorId") == connector_id
    ]


def connector(sandbox: SandboxProcess, index: int) -> str:
    """The id of a connector with licenses (each test its own, so tests do not see each other's)."""
    licensed = {
        str(found["_connectorId"])
        for found in sandbox.control("GET", "/objects/integrator/licenses")["data"]
        if found.get("_connectorId")
    }
    return sorted(licensed)[index]


def expired(found: dict[str, Any]) -> bool:
    """Whether a license's expiry has passed."""
    return bool(found.get("expires")) and parse_iso(str(found["expires"])) <= pendulum.now("UTC").timestamp()


def in_days(days: int) -> str:
    return pendulum.now("UTC").add(days=days).format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")


# --- discover -----------------------------------------------------------------------------------------------


def test_given_all_three_apis_when_discovered_then_every_operation_is_listed(config: dict[str, Any]) -> None:
    written = run_destination("discover", config)

    assert written.returncode == 0, written.stderr
    (catalog_line,) = written.of_type("DESTINATION_CATALOG")
    operations = {
        (operation["object_name"], operation["sync_mode"])
        for operation in catalog_line["destination_catalog"]["operations"]
    }
    assert {(LICENSES, "update"), (LICENSES, "soft_delete"), ("orb_licenses", "update")} <= operations
    assert {("customers", "update"), ("subscriptions", "soft_delete"), ("coupons", "update")} <= operations


# --- integrator.io licenses -------------------------------------------------------------------------------


def plan(connector_id: str, sandbox: SandboxProcess) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """A trial for a new licensee, a renewal of an existing license and an expiry of another."""
    existing = [found for found in licenses_of(sandbox, connector_id) if found.get("user")]
    renewed, expired = existing[0]["user"]["email"], existing[1]["user"]["email"]
    messages = [
        record(
            LICENSES, {"connector_id": connector_id, "email": "user9001@example.com", "expires": in_days(30)}
        ),
        state(1),
        record(LICENSES, {"connector_id": connector_id, "email": renewed, "expires": "2031-01-01T00:00:00Z"}),
        state(2),
        record(LICENSES, {"connector_id": connector_id, "email": expired}, "soft_delete"),
        state(3),
    ]
    return messages, [(LICENSES, "update"), (LICENSES, "soft_delete")]


def test_given_a_dry_run_when_written_then_only_gets_are_sent_and_the_plan_is_logged(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    connector_id = connector(sandbox, 0)
    messages, streams = plan(connector_id, sandbox)

    written = run_destination("write", {**config, "dry_run": True}, streams, messages)

    assert written.returncode == 0, written.stderr
    assert {entry["method"] for entry in sent(sandbox)} == {"GET"}
    plans = [line for line in written.logs("INFO") if line.startswith("Plan: ")]
    assert [line.rsplit(": ", 1)[-1].split(" ")[0] for line in plans] == ["create", "update", "expire"]
    assert written.states() == []  # a dry run commits nothing


def test_given_the_plan_when_written_twice_then_it_applies_once_and_the_second_run_writes_nothing(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    connector_id = connector(sandbox, 1)
    messages, streams = plan(connector_id, sandbox)

    first = run_destination("write", config, streams, messages)

    assert first.returncode == 0, first.stderr
    assert first.states() == [1, 2, 3]
    methods = [method for method, _ in writes(sandbox)]
    assert methods == ["POST", "PUT", "PUT"]
    by_email = {found["user"]["email"]: found for found in licenses_of(sandbox, connector_id)}
    assert by_email["user9001@example.com"]["expires"] is not None
    renewed = messages[2]["record"]["data"]["email"]
    assert by_email[renewed]["expires"] == "2031-01-01T00:00:00.000Z"
    retired = messages[4]["record"]["data"]["email"]
    assert expired(by_email[retired])

    sandbox.control("DELETE", "/requests")
    second = run_destination("write", config, streams, messages)

    assert second.returncode == 0, second.stderr
    assert second.states() == [1, 2, 3]
    assert writes(sandbox) == []
    assert "Write finished: unchanged 3" in second.logs("INFO")


def test_given_an_email_that_is_no_user_when_written_then_it_is_rejected_with_the_reason_and_the_rest_applied(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    connector_id = connector(sandbox, 2)
    messages = [
        record(LICENSES, {"connector_id": connector_id, "email": UNKNOWN_EMAIL, "expires": in_days(30)}),
        record(
            LICENSES, {"connector_id": connector_id, "email": "user9002@example.com", "expires": in_days(30)}
        ),
        state(1),
    ]

    written = run_destination("write", config, [(LICENSES, "update")], messages)

    assert written.returncode == 0, written.stderr
    (warning,) = written.logs("WARN")
    assert warning.startswith(f"Rejected {LICENSES} connector_id={connector_id} email={UNKNOWN_EMAIL}: ")
    assert "HTTP 422" in warning
    assert "is not an integrator.io user" in warning
    emails = {found["user"]["email"] for found in licenses_of(sandbox, connector_id)}
    assert "user9002@example.com" in emails
    assert UNKNOWN_EMAIL not in emails
    assert written.states() == [1]


def renewals(
    sandbox: SandboxProcess, connector_id: str, expires: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three of a connector's licenses, and messages renewing each to `expires`, each followed by a state
    (positions 1 to 3)."""
    existing = [found for found in licenses_of(sandbox, connector_id) if found.get("user")][:3]
    messages: list[dict[str, Any]] = []
    for position, found in enumerate(existing, start=1):
        data = {"connector_id": connector_id, "email": found["user"]["email"], "expires": expires}
        messages += [record(LICENSES, data), state(position)]
    return existing, messages


def test_given_a_write_cut_off_once_applied_when_resumed_from_the_last_state_then_each_record_applies_once(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    connector_id = connector(sandbox, 3)
    existing, messages = renewals(sandbox, connector_id, "2032-02-02T00:00:00Z")
    new = {"connector_id": connector_id, "email": "user9003@example.com", "expires": in_days(30)}
    messages += [record(LICENSES, new), state(4)]
    # The third license's PUT is applied, and its answer cut off: the destination cannot tell, and stops.
    sandbox.control(
        "POST",
        "/faults",
        {"rate": 1.0, "kinds": ["truncated"], "paths": [f"/licenses/{existing[2]['_id']}$"]},
    )

    crashed = run_destination("write", config, [(LICENSES, "update")], messages)

    assert crashed.returncode != 0
    assert crashed.states() == [1, 2]
    sandbox.control("DELETE", "/faults")
    resumed_from = crashed.states()[-1]
    rest = messages[2 * resumed_from :]

    resumed = run_destination("write", config, [(LICENSES, "update")], rest)

    assert resumed.returncode == 0, resumed.stderr
    assert resumed.states() == [3, 4]
    assert writes(sandbox) == [
        *[("PUT", f"/v1/connectors/{connector_id}/licenses/{found['_id']}") for found in existing],
        ("POST", f"/v1/connectors/{connector_id}/licenses"),
    ]
    emails = [found["user"]["email"] for found in licenses_of(sandbox, connector_id)]
    assert emails.count("user9003@example.com") == 1


def test_given_a_write_killed_while_waiting_for_an_answer_when_resumed_then_each_record_applies_once(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    connector_id = connector(sandbox, 5)
    existing, messages = renewals(sandbox, connector_id, "2033-03-03T00:00:00Z")
    # The third license's PUT is held unanswered; the process is killed once it has echoed two states.
    sandbox.control("POST", "/faults", {"hang": True, "paths": [f"/licenses/{existing[2]['_id']}$"]})
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.json").write_text(json.dumps(config))
        Path(folder, "catalog.json").write_text(json.dumps(catalog([(LICENSES, "update")])))
        process = subprocess.Popen(
            [*COMMAND, "write", "--config", f"{folder}/config.json", "--catalog", f"{folder}/catalog.json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("".join(json.dumps(message) + "\n" for message in messages))
        process.stdin.close()
        echoed = []
        for line in process.stdout:
            if json.loads(line)["type"] == "STATE":
                echoed.append(json.loads(line)["state"]["stream"]["stream_state"]["position"])
                if len(echoed) == 2:
                    break
        process.kill()
        process.wait(timeout=30)
    sandbox.control("DELETE", "/faults")  # frees the held request, unanswered and not applied

    resumed = run_destination("write", config, [(LICENSES, "update")], messages[2 * echoed[-1] :])

    assert echoed == [1, 2]
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.states() == [3]
    applied = [
        entry["path"] for entry in sent(sandbox) if entry["method"] == "PUT" and entry["status"] == 200
    ]
    assert applied == [f"/v1/connectors/{connector_id}/licenses/{found['_id']}" for found in existing]


def test_given_expiries_above_the_guards_share_when_written_then_the_run_is_refused_before_any_write(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    connector_id = connector(sandbox, 4)
    active = [
        found for found in licenses_of(sandbox, connector_id) if found.get("user") and not expired(found)
    ]
    messages = [
        *[
            record(LICENSES, {"connector_id": connector_id, "email": found["user"]["email"]}, "soft_delete")
            for found in active[:2]
        ],
        state(1),
    ]

    written = run_destination(
        "write", {**config, "max_retire_share": 0.1}, [(LICENSES, "soft_delete")], messages
    )

    assert written.returncode != 0
    (error,) = [line["trace"]["error"]["message"] for line in written.of_type("TRACE")]
    assert error.startswith("Refused before any write: integrator_io_licenses: this run would expire 2 of ")
    assert writes(sandbox) == []
    assert written.states() == []


# --- Stripe -------------------------------------------------------------------------------------------------


def stripe_post(
    sandbox: SandboxProcess, path: str, data: dict[str, str], key: str | None = None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {credentials.STRIPE_TEST_KEY}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(sandbox.base_url("stripe") + path, data=data, headers=headers, timeout=10)


def test_given_an_idempotency_key_when_stripe_gets_it_again_then_it_replays_or_refuses_other_parameters(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    first = stripe_post(sandbox, "/v1/customers", {"email": "replay@example.com"}, key="k-replay")
    again = stripe_post(sandbox, "/v1/customers", {"email": "replay@example.com"}, key="k-replay")
    other = stripe_post(sandbox, "/v1/customers", {"email": "other@example.com"}, key="k-replay")

    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    customers = sandbox.control("GET", "/objects/stripe/customers")["data"]
    assert [found["email"] for found in customers].count("replay@example.com") == 1
    logged = [entry for entry in sent(sandbox) if entry["method"] == "POST"]
    assert logged[0]["body"] == {"email": "replay@example.com"}
    assert logged[0]["idempotency_key"] == "k-replay"


def test_given_stripe_records_when_written_twice_then_they_apply_with_their_events_and_repeat_nothing(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    subscriptions = sandbox.control("GET", "/objects/stripe/subscriptions")["data"]
    active = [found for found in subscriptions if found["status"] == "active"]
    single = next(found for found in active if found["items"]["total_count"] == 1)
    canceled = next(found for found in active if found["id"] != single["id"])
    customer = sandbox.control("GET", "/objects/stripe/customers")["data"][0]
    product = {"id": "prod_destination_e2e", "name": "Destination app", "metadata": {"tier": "pro"}}
    price = {
        "lookup_key": "destination_e2e_monthly",
        "product": product["id"],
        "currency": "usd",
        "unit_amount": 4900,
        "recurring_interval": "month",
    }
    coupon = {"id": "E2EWELCOME", "name": "Welcome", "percent_off": 20, "duration": "once"}
    messages = [
        record("customers", {"id": customer["id"], "metadata": {"plan": "gold"}}),
        record("products", product),
        record("prices", price),
        record("coupons", coupon),
        record("subscriptions", {"id": single["id"], "quantity": 7}),
        record("subscriptions", {"id": canceled["id"]}, "soft_delete"),
        state(1),
    ]
    streams = [
        ("customers", "update"),
        ("products", "update"),
        ("prices", "update"),
        ("coupons", "update"),
        ("subscriptions", "update"),
        ("subscriptions", "soft_delete"),
    ]

    first = run_destination("write", config, streams, messages)

    assert first.returncode == 0, first.stderr
    assert first.states() == [1]
    assert len(writes(sandbox)) == 6
    assert all(entry["idempotency_key"] for entry in sent(sandbox) if entry["method"] == "POST")
    objects = {
        name: sandbox.control("GET", f"/objects/stripe/{name}")["data"]
        for name in ("customers", "subscriptions")
    }
    assert next(c for c in objects["customers"] if c["id"] == customer["id"])["metadata"]["plan"] == "gold"
    updated = next(s for s in objects["subscriptions"] if s["id"] == single["id"])
    assert updated["items"]["data"][0]["quantity"] == 7
    assert next(s for s in objects["subscriptions"] if s["id"] == canceled["id"])["status"] == "canceled"
    events = {
        (event["type"], event["data"]["object"].get("id"))
        for event in sandbox.control("GET", "/objects/stripe/events")["data"]
    }
    assert ("customer.subscription.deleted", canceled["id"]) in events
    assert ("customer.updated", customer["id"]) in events

    sandbox.control("DELETE", "/requests")
    second = run_destination("write", config, streams, messages)

    assert second.returncode == 0, second.stderr
    assert writes(sandbox) == []


# --- Orb ----------------------------------------------------------------------------------------------------


def test_given_orb_licenses_when_written_then_created_deactivated_and_invalid_ones_rejected(
    sandbox: SandboxProcess, config: dict[str, Any]
) -> None:
    subscriptions = sandbox.control("GET", "/objects/orb/subscriptions")["data"]
    active = next(found for found in subscriptions if found["status"] == "active")
    ended = next(found for found in subscriptions if found["status"] == "ended")
    seat = sandbox.control("GET", "/objects/orb/license_types")["data"][0]["id"]
    key = {"subscription_id": active["id"], "license_type_id": seat, "external_license_id": "e2e-seat"}
    messages = [
        record("orb_licenses", key),
        record("orb_licenses", {**key, "subscription_id": ended["id"]}),
        record("orb_licenses", {**key, "license_type_id": "no_such_type"}),
        state(1),
    ]

    created = run_destination("write", config, [("orb_licenses", "update")], messages)

    assert created.returncode == 0, created.stderr
    rejections = created.logs("WARN")
    assert len(rejections) == 2
    assert "licenses can only be created on an active subscription" in rejections[0]
    assert "No license type with id no_such_type" in rejections[1]
    posts = [entry for entry in sent(sandbox) if entry["method"] == "POST"]
    assert all(entry["idempotency_key"] for entry in posts)

    retired = run_destination(
        "write",
        config,
        [("orb_licenses", "soft_delete")],
        [record("orb_licenses", key, "soft_delete"), state(2)],
    )

    assert retired.returncode == 0, retired.stderr
    mine = [
        found
        for found in sandbox.control("GET", "/objects/orb/licenses")["data"]
        if found["external_license_id"] == "e2e-seat"
    ]
    assert [found["status"] for found in mine] == ["inactive"]
