"""Saved cursors read back: a value the stream never writes is dropped with one warning, never a crash."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from source_billing.incremental.cursors import (
    DEFAULT_PARTITION,
    PartitionedCursor,
    parse_iso_timestamp,
    parse_unix_seconds,
)


@pytest.mark.parametrize("value", ["garbage", "1700000000", 1.7e9, True, None, [1], {"a": 1}, 10**30])
def test_given_a_value_that_is_not_unix_seconds_when_parsed_then_refused(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_unix_seconds(value)


@pytest.mark.parametrize("value", [12, 2024, "garbage", "", "P1D", None, ["2024-01-01T00:00:00Z"]])
def test_given_a_value_that_is_not_an_iso_timestamp_when_parsed_then_refused(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_iso_timestamp(value)


def test_given_cursors_as_written_when_parsed_then_the_moment() -> None:
    assert parse_unix_seconds(1_700_000_000) == pendulum.datetime(2023, 11, 14, 22, 13, 20)
    assert parse_iso_timestamp("2024-01-01T01:00:00+01:00") == pendulum.datetime(2024, 1, 1)
    assert parse_iso_timestamp("2017-10-24T00:55:49.128Z") == pendulum.datetime(
        2017, 10, 24, 0, 55, 49, 128000
    )


def test_given_a_saved_cursor_of_the_wrong_type_when_adopted_then_dropped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cursor = PartitionedCursor("customers", "updated", parse_unix_seconds)
    cursor.set_state({DEFAULT_PARTITION: {"updated": "garbage"}})
    assert cursor.value(DEFAULT_PARTITION) is None
    assert cursor.state == {}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == (
        "Stream customers: the saved `updated` ('garbage') is not a valid cursor: it is ignored, and the "
        "stream is read again from its start date."
    )


def test_given_some_partitions_with_bad_cursors_when_adopted_then_only_those_dropped_in_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    saved: dict[str, Any] = {f"cus_{n}": {"created_at": n} for n in range(7)}
    saved["cus_good"] = {"created_at": "2024-01-01T00:00:00Z"}
    saved["cus_huge"] = {"created_at": "x" * 10_000}
    cursor = PartitionedCursor("orb_credits_ledger_entries", "created_at", parse_iso_timestamp, saved)
    assert cursor.state == {"cus_good": {"created_at": "2024-01-01T00:00:00Z"}}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == (
        "Stream orb_credits_ledger_entries: the saved `created_at` of cus_0, cus_1, cus_2, cus_3, cus_4 "
        "and 3 more (such as 0) is not a valid cursor: it is ignored, and those partitions are read again "
        "from their start date."
    )


def test_given_a_huge_bad_value_when_warned_then_it_is_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    PartitionedCursor(
        "orb_customers", "created_at", parse_iso_timestamp, {"default": {"created_at": "x" * 10_000}}
    )
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) < 300


def test_given_valid_cursors_when_adopted_then_kept_and_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    cursor = PartitionedCursor("customers", "updated", parse_unix_seconds)
    cursor.set_state({"acct_1": {"updated": 1_700_000_000}, "acct_2": {"created": 1}, "acct_3": 5})
    assert cursor.state == {"acct_1": {"updated": 1_700_000_000}}
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
