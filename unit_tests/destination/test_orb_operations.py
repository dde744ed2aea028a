"""Orb writes: licenses created on a subscription and deactivated, customers updated by external id."""

from __future__ import annotations

import logging

import pytest
import requests_mock
from airbyte_cdk.models import DestinationSyncMode

from unit_tests.destination.fakes import FakeOrb, catalog, config, record, write

UPDATE, SOFT_DELETE = DestinationSyncMode.update, DestinationSyncMode.soft_delete
KEY = {"subscription_id": "sub_1", "license_type_id": "seat"}


@pytest.fixture
def orb() -> FakeOrb:
    fake = FakeOrb()
    fake.add_license("sub_1", "seat", "alice")
    fake.add_license("sub_1", "seat", "old", status="inactive")
    fake.customers["acct-1"] = {
        "id": "c1",
        "external_customer_id": "acct-1",
        "email": "a@acme.com",
        "name": "A",
    }
    return fake


def test_given_licenses_when_written_then_new_ones_are_created_and_existing_ones_left(orb: FakeOrb) -> None:
    with requests_mock.Mocker() as mock:
        orb.install(mock)
        write(
            config(),
            catalog(("seats", "orb_licenses", UPDATE)),
            [
                record("seats", **KEY, external_license_id="alice"),
                record("seats", **KEY, external_license_id="bob"),
            ],
        )

    (create,) = orb.writes()
    assert (create.method, create.path) == ("POST", "/v1/licenses")
    assert create.body == {**KEY, "external_license_id": "bob"}
    assert create.headers["Idempotency-Key"].startswith("destination-billing-")
    assert [request.query for request in orb.sent if request.method == "GET"] == [
        {"limit": ["100"], "subscription_id": ["sub_1"]}
    ]


def test_given_licenses_to_remove_when_soft_deleted_then_active_ones_are_deactivated(orb: FakeOrb) -> None:
    with requests_mock.Mocker() as mock:
        orb.install(mock)
        write(
            config(),
            catalog(("gone", "orb_licenses", SOFT_DELETE)),
            [
                record("gone", **KEY, external_license_id="alice"),
                record("gone", **KEY, external_license_id="old"),
            ],
        )

    (deactivate,) = orb.writes()
    assert (deactivate.method, deactivate.path) == (
        "POST",
        f"/v1/licenses/{orb.licenses[0]['id']}/deactivate",
    )
    assert orb.licenses[0]["status"] == "inactive"


def test_given_an_inactive_license_when_written_again_then_rejected_since_orb_cannot_reactivate(
    orb: FakeOrb, caplog: pytest.LogCaptureFixture
) -> None:
    with requests_mock.Mocker() as mock, caplog.at_level(logging.WARNING, "airbyte"):
        orb.install(mock)
        write(
            config(),
            catalog(("seats", "orb_licenses", UPDATE)),
            [record("seats", **KEY, external_license_id="old")],
        )

    assert orb.writes() == []
    assert "Orb cannot reactivate" in caplog.text


def test_given_customers_by_external_id_when_written_then_changed_ones_are_put_and_new_ones_created(
    orb: FakeOrb,
) -> None:
    with requests_mock.Mocker() as mock:
        orb.install(mock)
        write(
            config(),
            catalog(("accounts", "orb_customers", UPDATE)),
            [
                record("accounts", external_customer_id="acct-1", email="b@acme.com", name="A"),
                record("accounts", external_customer_id="acct-2", email="c@acme.com", name="C"),
            ],
        )

    update, create = orb.writes()
    assert (update.method, update.path, update.body) == (
        "PUT",
        "/v1/customers/external_customer_id/acct-1",
        {"email": "b@acme.com"},
    )
    assert (create.method, create.path) == ("POST", "/v1/customers")
    assert create.body == {"external_customer_id": "acct-2", "email": "c@acme.com", "name": "C"}
