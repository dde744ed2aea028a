"""The destination's commands: `spec` (the source's API sections plus the write settings), `discover` (a
DESTINATION_CATALOG of operations), `check` (the source's probes), the catalog's validation, and no
secret in any output."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests_mock
from airbyte_cdk.models import (
    AirbyteMessage,
    ConfiguredAirbyteCatalogSerializer,
    DestinationSyncMode,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_billing import DestinationBilling
from destination_billing.operations import OPERATIONS
from destination_billing.run import serialize
from unit_tests.destination.fakes import (
    INTEGRATOR_BASE,
    INTEGRATOR_TOKEN,
    ORB_BASE,
    SECRETS,
    STRIPE_BASE,
    FakeIntegratorIo,
    catalog,
    config,
    record,
    state,
    write,
)

ROOT = Path(__file__).resolve().parents[2]
UPDATE, SOFT_DELETE = DestinationSyncMode.update, DestinationSyncMode.soft_delete


def command(*args: str, config_file: Path | None = None) -> list[dict[str, Any]]:
    arguments = [*args, *(["--config", str(config_file)] if config_file else [])]
    done = subprocess.run(
        [sys.executable, "-m", "destination_billing", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_given_the_command_line_when_spec_and_discover_run_then_a_spec_and_a_destination_catalog_come_out(
    tmp_path: Path,
) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"integrator_io": {"api_token": INTEGRATOR_TOKEN}}))

    (spec,) = [message for message in command("spec") if message["type"] == "SPEC"]
    (discovered,) = [
        message for message in command("discover", config_file=config_file) if message["type"] != "LOG"
    ]

    properties = spec["spec"]["connectionSpecification"]["properties"]
    assert {"stripe", "orb", "integrator_io", "dry_run", "max_retire_share"} <= set(properties)
    assert spec["spec"]["supported_destination_sync_modes"] == ["update", "soft_delete"]
    assert discovered["type"] == "DESTINATION_CATALOG"
    assert discovered["destination_catalog"]["operations"] == [
        {
            "object_name": "integrator_io_licenses",
            "sync_mode": mode,
            "json_schema": discovered["destination_catalog"]["operations"][index]["json_schema"],
            "matching_keys": [["connector_id", "email"]],
        }
        for index, mode in enumerate(["update", "soft_delete"])
    ]


def test_given_every_api_when_discovered_then_every_operation_is_listed_with_its_keys_and_a_flat_schema() -> (
    None
):
    discovered = DestinationBilling().discover(config(stripe_customer_match_key="account_id"))

    listed = {(operation.object_name, operation.sync_mode.value) for operation in discovered.operations}
    assert listed == {(row.object_name, row.sync_mode.value) for row in OPERATIONS}
    assert listed >= {
        ("integrator_io_licenses", "update"),
        ("integrator_io_licenses", "soft_delete"),
        ("orb_licenses", "update"),
        ("orb_licenses", "soft_delete"),
        ("orb_customers", "update"),
        ("customers", "update"),
        ("subscriptions", "update"),
        ("subscriptions", "soft_delete"),
        ("products", "update"),
        ("prices", "update"),
        ("coupons", "update"),
    }
    for operation in discovered.operations:
        properties = operation.json_schema["properties"]
        for key in operation.matching_keys:
            assert set(key) <= set(properties), (operation.object_name, key)
    customers = next(operation for operation in discovered.operations if operation.object_name == "customers")
    assert customers.matching_keys == [["id"], ["account_id"]]


def test_given_the_spec_when_read_then_the_api_keys_are_secrets_and_reading_only_settings_are_left_out() -> (
    None
):
    properties = DestinationBilling().spec(logging.getLogger("airbyte")).connectionSpecification["properties"]

    assert properties["stripe"]["properties"]["client_secret"]["airbyte_secret"] is True
    assert properties["orb"]["properties"]["api_key"]["airbyte_secret"] is True
    assert properties["integrator_io"]["properties"]["api_token"]["airbyte_secret"] is True
    assert "start_date" not in properties["stripe"]["properties"]
    assert "Write permission" in properties["stripe"]["properties"]["client_secret"]["description"]


def test_given_a_stream_asking_for_an_operation_not_offered_when_written_then_refused_before_a_request() -> (
    None
):
    with requests_mock.Mocker() as mock, pytest.raises(AirbyteTracedException) as refused:
        write(config(), catalog(("x", "invoices", UPDATE)), [record("x", id="in_1")])

    assert refused.value.failure_type == FailureType.config_error
    assert "invoices with sync mode update" in refused.value.message
    assert mock.call_count == 0


def test_given_an_invalid_share_when_written_then_a_config_error_names_the_setting(tmp_path: Path) -> None:
    config_file, catalog_file = tmp_path / "config.json", tmp_path / "catalog.json"
    config_file.write_text(json.dumps(config(max_retire_share=3)))
    configured = catalog(("x", "integrator_io_licenses", UPDATE))
    catalog_file.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(configured)))
    destination = DestinationBilling()
    arguments = destination.parse_args(
        ["write", "--config", str(config_file), "--catalog", str(catalog_file)]
    )

    with pytest.raises(AirbyteTracedException) as refused:
        list(destination.run_cmd(arguments))

    assert refused.value.failure_type == FailureType.config_error
    assert refused.value.message == "`max_retire_share` must be between 0 and 1."


def test_given_a_rejected_token_when_checked_then_failed_with_the_source_message() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{INTEGRATOR_BASE}/v1/tokenInfo", status_code=401, json={"message": "Bad token"})
        status = DestinationBilling().check(
            logging.getLogger("airbyte"), {"integrator_io": {"api_token": "tok"}}
        )

    assert status.status == Status.FAILED
    assert "integrator.io: integrator.io rejected the API token (HTTP 401)" in (status.message or "")


def test_given_secrets_in_the_config_when_commands_write_reject_fail_and_check_then_no_output_shows_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeIntegratorIo()
    api.add("c1", "a@acme.com")
    rejected = tmp_path / "rejected.jsonl"
    settings = config(rejected_records_path=str(rejected))
    licenses = catalog(("l", "integrator_io_licenses", UPDATE))
    outputs: list[str] = []
    with requests_mock.Mocker() as mock, caplog.at_level(logging.DEBUG):
        api.install(mock)
        for dry_run in (True, False):
            for message in write(
                {**settings, "dry_run": dry_run},
                licenses,
                [
                    record("l", connector_id="c1", email="stranger@acme.com"),
                    record("l", connector_id="c1", email="a@acme.com", opts={"x": 1}),
                    state("l", 1),
                ],
            ):
                outputs.append(serialize(message))
        api.faults.append(
            __import__("unit_tests.destination.fakes", fromlist=["Fault"]).Fault("PUT", ".*", 401)
        )
        with pytest.raises(AirbyteTracedException) as failed:
            write(settings, licenses, [record("l", connector_id="c1", email="a@acme.com", opts={"x": 2})])
        outputs.append(serialize(failed.value.as_airbyte_message()))
        mock.get(f"{INTEGRATOR_BASE}/v1/tokenInfo", status_code=401, json={"message": "Bad token"})
        mock.get(f"{STRIPE_BASE}/v1/account", status_code=401, json={"error": {"message": "Invalid API Key"}})
        mock.get(f"{ORB_BASE}/v1/ping", status_code=401, json={"title": "Unauthorized"})
        status = DestinationBilling().check(logging.getLogger("airbyte"), settings)
        outputs.append(serialize(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status)))

    everything = "\n".join([*outputs, caplog.text, *capsys.readouterr(), rejected.read_text()])
    assert status.status == Status.FAILED
    assert "Stripe rejected the API key" in (status.message or "")
    assert "stranger@acme.com" in everything, "the test saw the rejection it looks in"
    for secret in SECRETS:
        assert secret not in everything


def test_given_files_and_stdin_when_the_write_command_runs_then_records_are_applied_and_the_state_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeIntegratorIo()
    api.add("c1", "a@acme.com")
    config_file, catalog_file = tmp_path / "config.json", tmp_path / "catalog.json"
    config_file.write_text(json.dumps({"integrator_io": {"api_token": INTEGRATOR_TOKEN}}))
    configured = catalog(("licenses", "integrator_io_licenses", UPDATE))
    catalog_file.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(configured)))
    lines = [
        serialize(record("licenses", connector_id="c1", email="a@acme.com", opts={"edition": "pro"})),
        serialize(state("licenses", 1)),
    ]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(lines).encode())))
    destination = DestinationBilling()
    arguments = destination.parse_args(
        ["write", "--config", str(config_file), "--catalog", str(catalog_file)]
    )

    with requests_mock.Mocker() as mock:
        api.install(mock)
        out = [serialize(message) for message in destination.run_cmd(arguments)]

    assert [request.method for request in api.writes()] == ["PUT"]
    assert out == [lines[1]]


def test_given_a_config_missing_every_api_when_the_command_line_writes_then_a_config_error_trace_names_it(
    tmp_path: Path,
) -> None:
    config_file, catalog_file = tmp_path / "config.json", tmp_path / "catalog.json"
    config_file.write_text(json.dumps({"dry_run": True}))
    catalog_file.write_text(json.dumps({"streams": []}))

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "destination_billing",
            "write",
            "--config",
            str(config_file),
            "--catalog",
            str(catalog_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        input="",
        check=False,
    )

    traces = [json.loads(line)["trace"] for line in done.stdout.splitlines() if '"TRACE"' in line]
    assert done.returncode != 0
    assert traces[0]["error"]["failure_type"] == "config_error"
    assert "No API is configured" in traces[0]["error"]["message"]
