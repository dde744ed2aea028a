"""integrator.io licenses written from records: create, update, expire, reject; read first, so an unchanged
record sends nothing; STATE echoed only after the records before it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pendulum
import pytest
import requests
import requests_mock
from airbyte_cdk.models import DestinationSyncMode, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from unit_tests.destination.fakes import (
    FakeIntegratorIo,
    Fault,
    catalog,
    config,
    positions,
    record,
    state,
    write,
)

UPDATE, SOFT_DELETE = DestinationSyncMode.update, DestinationSyncMode.soft_delete
PROVISION = catalog(("provision", "integrator_io_licenses", UPDATE))
EXPIRE = catalog(("expire", "integrator_io_licenses", SOFT_DELETE))
FUTURE = "2027-06-30T00:00:00.000Z"
LICENSE_PATH = r"/v1/connectors/c1/licenses(/.*)?"


@pytest.fixture
def api() -> FakeIntegratorIo:
    fake = FakeIntegratorIo()
    fake.add("c1", "same@acme.com", expires=FUTURE, opts={"edition": "pro"})
    fake.add("c1", "changed@acme.com", expires=FUTURE, opts={"edition": "starter"})
    fake.users.add("new@acme.com")
    return fake


def provision(**data: object) -> object:
    return record("provision", connector_id="c1", **data)


def test_given_new_changed_and_unchanged_licenses_when_written_then_create_and_update_only_what_differs(
    api: FakeIntegratorIo,
) -> None:
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(
            config(),
            PROVISION,
            [
                provision(email="new@acme.com", expires=FUTURE, opts={"edition": "trial"}),
                provision(email="changed@acme.com", expires=FUTURE, opts={"edition": "pro"}),
                # the same instant written another way, and the e-mail in another case: unchanged
                provision(email="Same@Acme.com", expires="2027-06-30T00:00:00Z", opts={"edition": "pro"}),
            ],
        )

    created, updated = api.writes()
    assert (created.method, created.path) == ("POST", "/v1/connectors/c1/licenses")
    assert created.body == {"email": "new@acme.com", "expires": FUTURE, "opts": {"edition": "trial"}}
    assert (updated.method, updated.path) == (
        "PUT",
        f"/v1/connectors/c1/licenses/{api.of('c1', 'changed@acme.com')['_id']}",
    )
    assert updated.body == {"opts": {"edition": "pro"}}, "only the changed field, and never the e-mail"
    assert [request.method for request in api.sent].count("GET") == 1, "the connector's licenses read once"


def test_given_licenses_on_several_pages_when_planned_then_every_page_is_read_before_deciding(
    api: FakeIntegratorIo,
) -> None:
    api.page_size = 1
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(config(), PROVISION, [provision(email="changed@acme.com", opts={"edition": "starter"})])

    assert [request.query.get("page") for request in api.sent] == [None, ["2"]]
    assert api.writes() == [], "the license on the second page was found unchanged"


def test_given_soft_delete_when_written_then_the_license_expires_now_by_put_and_is_never_deleted(
    api: FakeIntegratorIo,
) -> None:
    api.add("c1", "gone@acme.com", expires="2020-01-01T00:00:00.000Z")
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(
            config(),
            EXPIRE,
            [
                record("expire", connector_id="c1", email="same@acme.com"),
                record("expire", connector_id="c1", email="gone@acme.com"),  # already expired: unchanged
                record("expire", connector_id="c1", email="nobody@acme.com"),  # no license: unchanged
            ],
        )

    (expired,) = api.writes()
    assert expired.method == "PUT"
    assert list(expired.body) == ["expires"]
    assert abs(pendulum.parse(expired.body["expires"]) - pendulum.now("UTC")).total_seconds() < 60


def test_given_deletes_allowed_when_soft_delete_is_written_then_the_license_is_deleted(
    api: FakeIntegratorIo,
) -> None:
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(
            config(allow_license_delete=True),
            EXPIRE,
            [record("expire", connector_id="c1", email="same@acme.com")],
        )

    assert [(request.method, request.body) for request in api.writes()] == [("DELETE", None)]
    assert api.of("c1", "same@acme.com") is None


def test_given_an_unknown_email_when_written_then_it_is_rejected_with_the_api_reason_and_the_rest_applied(
    api: FakeIntegratorIo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rejected_file = tmp_path / "rejected.jsonl"
    with requests_mock.Mocker() as mock, caplog.at_level(logging.INFO, "airbyte"):
        api.install(mock)
        out = write(
            config(rejected_records_path=str(rejected_file)),
            PROVISION,
            [
                provision(email="stranger@acme.com", expires=FUTURE),
                state("provision", 1),
                provision(email="new@acme.com", expires=FUTURE),
                state("provision", 2),
            ],
        )

    assert api.of("c1", "new@acme.com") is not None
    assert positions(out) == [1, 2], "a rejected record is done with: the state after it is echoed"
    (line,) = [json.loads(text) for text in rejected_file.read_text().splitlines()]
    assert line["object_name"] == "integrator_io_licenses"
    assert line["key"] == {"connector_id": "c1", "email": "stranger@acme.com"}
    assert "No integrator.io user has the e-mail stranger@acme.com" in line["reason"]
    assert "HTTP 422" in line["reason"]
    warnings = [entry.message for entry in caplog.records if entry.levelno == logging.WARNING]
    assert any("stranger@acme.com" in message and "No integrator.io user" in message for message in warnings)


def test_given_a_record_without_its_matching_key_when_written_then_it_is_rejected_without_a_request(
    api: FakeIntegratorIo, caplog: pytest.LogCaptureFixture
) -> None:
    with requests_mock.Mocker() as mock, caplog.at_level(logging.WARNING, "airbyte"):
        api.install(mock)
        write(config(), PROVISION, [record("provision", email="new@acme.com"), provision(email=42)])

    assert api.sent == []
    assert "needs connector_id+email" in caplog.text
    assert "42 is not of type" in caplog.text


def test_given_dry_run_when_written_then_only_gets_are_sent_the_plan_is_logged_and_no_state_is_echoed(
    api: FakeIntegratorIo, caplog: pytest.LogCaptureFixture
) -> None:
    with requests_mock.Mocker() as mock, caplog.at_level(logging.INFO, "airbyte"):
        api.install(mock)
        out = write(
            config(dry_run=True),
            catalog(
                ("provision", "integrator_io_licenses", UPDATE),
                ("expire", "integrator_io_licenses", SOFT_DELETE),
            ),
            [
                provision(email="new@acme.com", expires=FUTURE),
                provision(email="changed@acme.com", opts={"edition": "pro"}),
                provision(email="same@acme.com", opts={"edition": "pro"}),
                record("expire", connector_id="c1", email="same@acme.com"),
                state("provision", 1),
            ],
        )

    assert {request.method for request in api.sent} == {"GET"}
    assert out == [], "a dry run commits no state: the real run must see the same records"
    plan = [entry.message for entry in caplog.records if entry.message.startswith("Plan: ")]
    assert plan == [
        "Plan: integrator_io_licenses connector_id=c1 email=new@acme.com: create",
        "Plan: integrator_io_licenses connector_id=c1 email=changed@acme.com: update (opts)",
        "Plan: integrator_io_licenses connector_id=c1 email=same@acme.com: unchanged",
        "Plan: integrator_io_licenses connector_id=c1 email=same@acme.com: expire",
    ]


def test_given_the_same_records_when_written_twice_then_the_second_run_sends_no_write(
    api: FakeIntegratorIo,
) -> None:
    records = [
        provision(email="new@acme.com", expires=FUTURE, opts={"edition": "trial"}),
        provision(email="changed@acme.com", opts={"edition": "pro"}),
    ]
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(config(), PROVISION, records)
        first_run = len(api.writes())
        write(config(), PROVISION, records)

    assert first_run == 2
    assert len(api.writes()) == first_run


def test_given_a_repeated_record_in_one_run_when_written_then_it_is_created_once(
    api: FakeIntegratorIo,
) -> None:
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(config(), PROVISION, [provision(email="new@acme.com", expires=FUTURE)] * 3)

    assert [request.method for request in api.writes()] == ["POST"]


def test_given_expiries_above_the_share_when_written_then_the_run_is_refused_before_any_write(
    api: FakeIntegratorIo,
) -> None:
    with requests_mock.Mocker() as mock:
        api.install(mock)
        with pytest.raises(AirbyteTracedException) as refused:
            write(
                config(max_retire_share=0.4),
                EXPIRE,
                [
                    record("expire", connector_id="c1", email="same@acme.com"),
                    record("expire", connector_id="c1", email="changed@acme.com"),
                ],
            )

    assert refused.value.failure_type == FailureType.config_error
    assert "expire 2 of 2 existing (100%)" in refused.value.message
    assert api.writes() == []


def test_given_expiries_within_the_share_when_written_then_they_are_applied(api: FakeIntegratorIo) -> None:
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(
            config(max_retire_share=0.5), EXPIRE, [record("expire", connector_id="c1", email="same@acme.com")]
        )

    assert [request.method for request in api.writes()] == ["PUT"]


def test_given_states_between_records_when_written_then_each_state_comes_after_its_records_are_applied(
    api: FakeIntegratorIo,
) -> None:
    writes_at_state: dict[int, int] = {}

    def on_output(message: object) -> None:
        for position in positions([message]):  # type: ignore[list-item]
            writes_at_state[position] = len(api.writes())

    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(
            config(),
            PROVISION,
            [
                provision(email="new@acme.com", expires=FUTURE),
                state("provision", 1),
                provision(email="changed@acme.com", opts={"edition": "pro"}),
                provision(email="same@acme.com", opts={"edition": "pro"}),
                state("provision", 2),
            ],
            on_output,
        )

    assert writes_at_state == {1: 1, 2: 2}


@pytest.mark.parametrize(
    ("status", "exception", "after_applying"),
    [
        (500, None, False),
        (502, None, True),
        (None, requests.exceptions.ReadTimeout, True),
        (None, requests.exceptions.ConnectionError, True),
    ],
    ids=["500 before applying", "502 after applying", "timeout after applying", "cut after applying"],
)
def test_given_a_crash_mid_write_when_resumed_from_the_last_echoed_state_then_each_record_is_applied_once(
    api: FakeIntegratorIo,
    status: int | None,
    exception: type[Exception] | None,
    after_applying: bool,
    sleeps: list[float],
) -> None:
    emails = ["a@acme.com", "b@acme.com", "c@acme.com"]
    api.users.update(emails)
    messages = []
    for position, email in enumerate(emails, start=1):
        messages += [provision(email=email, expires=FUTURE), state("provision", position)]
    # The second create fails: answered 5xx, timed out or cut off, before or after the API applied it.
    api.faults.append(Fault("POST", LICENSE_PATH, status, exception, after_applying, skip=1))
    echoed: list[int] = []
    with requests_mock.Mocker() as mock:
        api.install(mock)
        with pytest.raises(AirbyteTracedException) as crashed:
            write(config(), PROVISION, messages, lambda message: echoed.extend(positions([message])))
        # The platform resumes from the last state it received: the source sends what came after it.
        out = write(config(), PROVISION, messages[2 * echoed[-1] :])

    assert crashed.value.failure_type == FailureType.transient_error
    assert echoed == [1], "no state after the record whose outcome is unknown"
    assert (
        sorted(item["user"]["email"] for item in api.licenses["c1"] if item["user"]["email"] in emails)
        == emails
    )
    assert positions(out) == [2, 3]
    creates_of_b = [
        request for request in api.writes() if request.body == {"email": "b@acme.com", "expires": FUTURE}
    ]
    assert len(creates_of_b) == (1 if after_applying else 2), (
        "re-read first: an applied create is not sent again"
    )
    assert sleeps == [], "a write that may have been applied is never retried"


@pytest.mark.parametrize(
    ("status", "exception"),
    [(429, None), (None, requests.exceptions.ConnectTimeout)],
    ids=["429", "connect timeout"],
)
def test_given_a_write_the_api_never_received_when_it_fails_then_it_is_retried_and_applied_once(
    api: FakeIntegratorIo, status: int | None, exception: type[Exception] | None, sleeps: list[float]
) -> None:
    api.faults.append(Fault("POST", LICENSE_PATH, status, exception))
    with requests_mock.Mocker() as mock:
        api.install(mock)
        write(config(), PROVISION, [provision(email="new@acme.com", expires=FUTURE)])

    assert [request.method for request in api.writes()] == ["POST", "POST"]
    assert len(sleeps) == 1
    assert sum(item["user"]["email"] == "new@acme.com" for item in api.licenses["c1"]) == 1
