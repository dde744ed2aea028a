"""Stripe writes: form-encoded bodies, an Idempotency-Key on every POST derived from the record (stable, so a
retried or repeated create is replayed, never applied twice), cancellation by DELETE, customers matched by
id or by a metadata key."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import pytest
import requests_mock
from airbyte_cdk.models import DestinationSyncMode, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from unit_tests.destination.fakes import FakeStripe, Fault, catalog, config, record, subscription, write

UPDATE, SOFT_DELETE = DestinationSyncMode.update, DestinationSyncMode.soft_delete
CUSTOMERS = catalog(("accounts", "customers", UPDATE))
MATCHED = config(stripe_customer_match_key="account_id")


@pytest.fixture
def stripe() -> FakeStripe:
    fake = FakeStripe()
    fake.put(
        "customers", {"id": "cus_1", "email": "old@acme.com", "name": "Acme", "metadata": {"tier": "gold"}}
    )
    fake.put("subscriptions", subscription("sub_1", "price_basic", 1))
    fake.put("subscriptions", subscription("sub_2", "price_basic", 3))
    fake.put("subscriptions", subscription("sub_old", "price_basic", 1, status="canceled"))
    return fake


def test_given_a_new_customer_with_a_match_key_when_written_then_it_is_created_with_the_key_in_metadata(
    stripe: FakeStripe,
) -> None:
    with requests_mock.Mocker() as mock:
        stripe.install(mock)
        write(MATCHED, CUSTOMERS, [record("accounts", account_id="A-7", email="new@acme.com", name="New")])

    search, create = stripe.sent
    assert search.path == "/v1/customers/search"
    assert search.query["query"] == ["metadata['account_id']:'A-7'"]
    assert (create.method, create.path) == ("POST", "/v1/customers")
    assert create.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert create.body == {"email": "new@acme.com", "name": "New", "metadata[account_id]": "A-7"}
    assert create.headers["Idempotency-Key"].startswith("destination-billing-")
    assert create.headers["Stripe-Version"]


def test_given_the_same_record_in_two_runs_when_posted_then_the_key_is_the_same_and_differs_by_payload(
    stripe: FakeStripe,
) -> None:
    def key_of(**data: object) -> str:
        fresh = FakeStripe()
        with requests_mock.Mocker() as mock:
            fresh.install(mock)
            write(MATCHED, CUSTOMERS, [record("accounts", account_id="A-7", **data)])
        (post,) = fresh.writes()
        return post.headers["Idempotency-Key"]

    first, again, other = key_of(email="a@acme.com"), key_of(email="a@acme.com"), key_of(email="b@acme.com")

    assert first == again
    assert first != other


def test_given_stripe_fails_a_post_when_retried_then_the_same_idempotency_key_replays_and_creates_once(
    stripe: FakeStripe, sleeps: list[float]
) -> None:
    stripe.faults.append(Fault("POST", "/v1/customers", status=500, after_applying=True))
    with requests_mock.Mocker() as mock:
        stripe.install(mock)
        write(MATCHED, CUSTOMERS, [record("accounts", account_id="A-7", email="new@acme.com")])

    first, retried = stripe.writes()
    assert first.headers["Idempotency-Key"] == retried.headers["Idempotency-Key"]
    assert len(sleeps) == 1
    created = [
        c for c in stripe.objects["customers"].values() if c.get("metadata", {}).get("account_id") == "A-7"
    ]
    assert len(created) == 1


def test_given_a_customer_by_id_when_fields_change_then_only_they_and_the_changed_metadata_keys_are_posted(
    stripe: FakeStripe,
) -> None:
    with requests_mock.Mocker() as mock:
        stripe.install(mock)
        write(
            config(),
            CUSTOMERS,
            [
                record(
                    "accounts",
                    id="cus_1",
                    email="new@acme.com",
                    name="Acme",
                    metadata={"tier": "gold", "seats": "5"},
                )
            ],
        )

    (update,) = stripe.writes()
    assert (update.method, update.path) == ("POST", "/v1/customers/cus_1")
    assert update.body == {"email": "new@acme.com", "metadata[seats]": "5"}


def test_given_an_unknown_customer_id_when_written_then_rejected_since_stripe_assigns_ids(
    stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    with requests_mock.Mocker() as mock, caplog.at_level(logging.WARNING, "airbyte"):
        stripe.install(mock)
        write(config(), CUSTOMERS, [record("accounts", id="cus_nope", email="x@acme.com")])

    assert stripe.writes() == []
    assert "Rejected customers id=cus_nope: no such object" in caplog.text


def test_given_subscriptions_to_cancel_when_written_then_active_ones_are_deleted_and_cancelled_ones_left(
    stripe: FakeStripe,
) -> None:
    with requests_mock.Mocker() as mock:
        stripe.install(mock)
        write(
            config(),
            catalog(("ended", "subscriptions", SOFT_DELETE)),
            [record("ended", id="sub_1"), record("ended", id="sub_old"), record("ended", id="sub_missing")],
        )

    assert [(request.method, request.path) for request in stripe.writes()] == [
        ("DELETE", "/v1/subscriptions/sub_1")
    ]
    assert "Idempotency-Key" not in stripe.writes()[0].headers, "Stripe ignores keys on DELETE"


def test_given_cancellations_above_the_share_when_written_then_refused_before_any_write(
    stripe: FakeStripe,
) -> None:
    with requests_mock.Mocker() as mock:
        stripe.install(mock)
        with pytest.raises(AirbyteTracedException) as refused:
            write(
                config(max_retire_share=0.5),
                catalog(("ended", "subscriptions", SOFT_DELETE)),
                [record("ended", id="sub_1"), record("ended", id="sub_2")],
            )

    assert refused.value.failure_type == FailureType.config_error
    assert "cancel 2 of 2 existing" in refused.value.message
    assert stripe.writes() == []


def test_given_a_quantity_change_when_written_then_the_single_item_is_updated_by_id(
    stripe: FakeStripe,
) -> None:
    with requests_mock.Mocker() as mock:
        stripe.install(mock)
        write(
            config(),
            catalog(("seats", "subscriptions", UPDATE)),
            [
                record("seats", id="sub_2", quantity=5, price="price_basic"),
                record("seats", id="sub_1", quantity=1),
            ],
        )

    (update,) = stripe.writes()
    assert update.path == "/v1/subscriptions/sub_2"
    assert update.body == {"items[0][id]": "si_sub_2", "items[0][quantity]": "5"}
    assert stripe.objects["subscriptions"]["sub_2"]["items"]["data"][0]["quantity"] == 5


def test_given_catalogue_objects_when_written_then_created_or_updated_and_fixed_fields_rejected(
    stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    stripe.put("products", {"id": "prod_pro", "name": "Pro", "active": True})
    stripe.put(
        "prices",
        {
            "id": "price_1",
            "lookup_key": "pro_monthly",
            "unit_amount": 1000,
            "currency": "usd",
            "product": "prod_pro",
            "recurring": {"interval": "month"},
            "nickname": None,
            "active": True,
        },
    )
    with requests_mock.Mocker() as mock, caplog.at_level(logging.WARNING, "airbyte"):
        stripe.install(mock)
        write(
            config(),
            catalog(("p", "products", UPDATE), ("q", "prices", UPDATE), ("c", "coupons", UPDATE)),
            [
                record("p", id="prod_pro", name="Pro plan"),
                record("q", lookup_key="pro_monthly", unit_amount=1200, currency="usd", product="prod_pro"),
                record(
                    "q",
                    lookup_key="pro_yearly",
                    unit_amount=10000,
                    currency="usd",
                    product="prod_pro",
                    recurring_interval="year",
                ),
                record("c", id="LAUNCH", percent_off=20, duration="once"),
            ],
        )

    sent = [(request.path, dict(parse_qsl(""), **request.body)) for request in stripe.writes()]
    assert sent == [
        ("/v1/products/prod_pro", {"name": "Pro plan"}),
        (
            "/v1/prices",
            {
                "lookup_key": "pro_yearly",
                "product": "prod_pro",
                "currency": "usd",
                "unit_amount": "10000",
                "recurring[interval]": "year",
            },
        ),
        ("/v1/coupons", {"id": "LAUNCH", "percent_off": "20", "duration": "once"}),
    ]
    assert "Rejected prices lookup_key=pro_monthly: unit_amount cannot be changed" in caplog.text
