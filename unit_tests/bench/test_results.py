"""Active times and rates per stream and API, the peer comparison, the targets and the result table."""

from __future__ import annotations

import io

import pytest

from bench.ceiling import api_traffic
from bench.report import Table, checks_table
from bench.results import PEER_FAILED, ConnectorRun, StreamComparison, compare_streams
from bench.sync import StreamProgress, SyncResult, _Reader
from bench.targets import orb_peer_checks, ratio, rss_growth, rss_growth_check, stripe_peer_check


def sync_of(
    streams: dict[str, StreamProgress], seconds: float = 100.0, timed_out: bool = False
) -> SyncResult:
    return SyncResult(["x"], 0, seconds, 1.0, 0.5, 102_400, timed_out, streams)


def test_given_status_messages_when_measuring_a_stream_then_it_runs_from_the_sync_start_to_complete() -> None:
    sync = sync_of(
        {
            "a": StreamProgress(records=1000, first_record=2.0, last_record=9.0, started=1.0, completed=11.0),
            "b": StreamProgress(records=10, first_record=0.5, last_record=0.6),
        }
    )

    assert sync.begin == 0.5  # the first stream's first record: interpreter start-up is left out
    assert sync.seconds_to_finish(["a"]) == 10.5
    assert sync.records_per_second(["a"]) == pytest.approx(1000 / 10.5)


def test_given_a_stream_cut_off_when_measuring_it_then_it_finishes_at_its_last_record() -> None:
    progress = StreamProgress(records=30, first_record=2.0, last_record=5.0)
    assert progress.finish(end=50.0) == 5.0


def test_given_a_stream_that_never_started_when_measuring_it_then_its_rate_is_unknown() -> None:
    sync = sync_of({"a": StreamProgress(records=5, started=1.0, completed=2.0), "b": StreamProgress()})
    assert sync.records_per_second(["b"]) is None
    assert sync.records_per_second(["missing"]) is None


def test_given_streams_of_one_api_when_measuring_it_then_it_runs_until_the_last_of_them_finished() -> None:
    sync = sync_of(
        {
            "a": StreamProgress(records=5, started=1.0, completed=4.0),
            "b": StreamProgress(records=5, first_record=3.0, last_record=12.0),
            "other": StreamProgress(records=5, started=0.0, completed=99.0),
        }
    )
    assert sync.seconds_to_finish(["a", "b", "missing"]) == 12.0
    assert sync.records_per_second(["a", "b"]) == pytest.approx(10 / 12.0)


def test_given_airbyte_output_of_two_cdk_generations_when_read_then_records_and_statuses_are_counted() -> (
    None
):
    lines = [
        b'{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1.0,"stream_status":'
        b'{"stream_descriptor":{"name":"customers"},"status":"STARTED"}}}\n',
        b'{"type":"RECORD","record":{"stream":"customers","data":{"id":"cus_1","stream":"x"},"emitted_at":1}}\n',
        b'{"type": "RECORD", "record": {"stream": "plans", "data": {"id": "p"}, "emitted_at": 1}}\n',
        b'{"type":"RECORD","record":{"data":{"id":"p2"},"stream":"plans","emitted_at":1}}\n',
        b'{"type":"LOG","log":{"level":"INFO","message":"a \\"RECORD\\" word"}}\n',
        b'{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1.0,"error":{"message":"boom"}}}\n',
        b'{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1.0,"stream_status":'
        b'{"stream_descriptor":{"name":"customers"},"status":"COMPLETE"}}}\n',
    ]
    reader = _Reader(start=0.0)

    reader.consume(io.BytesIO(b"".join(lines)))

    assert {name: progress.records for name, progress in reader.streams.items()} == {
        "customers": 1,
        "plans": 2,
    }
    assert reader.streams["customers"].status == "COMPLETE"
    assert reader.streams["customers"].started is not None
    assert reader.errors == ["boom"]


def run_of(label: str, streams: dict[str, StreamProgress], timed_out: bool = False) -> ConnectorRun:
    return ConnectorRun(label, sync_of(streams, timed_out=timed_out), {})


def test_given_a_peer_that_failed_a_stream_when_comparing_then_ours_is_infinitely_faster() -> None:
    ours = run_of("ours", {"orb_x": StreamProgress(records=100, started=0.0, completed=1.0)})
    theirs = run_of("peer", {"x": StreamProgress(records=0, completed=1.0, status="INCOMPLETE")})
    theirs.sync.errors.append("limit must be between 1 and 100; got 500.")

    (row,) = compare_streams(ours, theirs, {"orb_x": "x"})

    assert row.note == f"{PEER_FAILED}: limit must be between 1 and 100; got 500."
    assert row.ratio == float("inf")


def test_given_a_peer_cut_off_before_a_stream_when_comparing_then_the_ratio_is_unknown() -> None:
    ours = run_of("ours", {"a": StreamProgress(records=100, started=0.0, completed=1.0)})
    theirs = run_of("peer", {}, timed_out=True)

    (row,) = compare_streams(ours, theirs, {"a": "a"})

    assert row.ratio is None
    assert row.note == "peer did not start it before the timeout"


def test_given_a_sequential_peer_when_comparing_then_its_later_stream_counts_the_wait() -> None:
    ours = run_of("ours", {"a": StreamProgress(records=1000, started=1.0, completed=3.0)})
    theirs = run_of(
        "peer",
        {
            "first": StreamProgress(records=50, started=0.0, completed=2.0, status="COMPLETE"),
            "a": StreamProgress(records=100, started=2.0, completed=4.0, status="COMPLETE"),
        },
    )

    (row,) = compare_streams(ours, theirs, {"a": "a"})

    assert row == StreamComparison("a", "a", 500.0, 25.0, 1000, 100, "")
    assert row.ratio == 20.0


def test_given_ratios_when_checked_against_the_peer_targets_then_each_gets_pass_or_fail() -> None:
    assert stripe_peer_check(ratio(3100.0, 100.0)).verdict == "PASS"
    assert stripe_peer_check(ratio(2900.0, 100.0)).verdict == "FAIL"
    assert stripe_peer_check(ratio(None, 100.0)).verdict == "n/a"
    checks = orb_peer_checks(
        {"orb_customers": 1.0, "orb_plans": 2.0, "orb_credits_ledger_entries": 1.0},
        {"orb_credits_ledger_entries"},
        {},
    )
    # Equal speed is enough only where the ledger budget bounds both connectors.
    assert [check.verdict for check in checks] == ["FAIL", "PASS", "PASS"]


def test_given_two_peak_rss_values_when_checked_then_growth_is_relative_to_the_smaller() -> None:
    assert rss_growth(100.0, 110.0) == pytest.approx(0.10)
    assert rss_growth(110.0, 100.0) == pytest.approx(0.10)
    assert rss_growth_check(100.0, 109.0, (20_000, 200_000)).verdict == "PASS"
    assert rss_growth_check(100.0, 111.0, (20_000, 200_000)).verdict == "FAIL"


def test_given_checks_when_tabulated_then_every_fail_is_shown_next_to_its_target() -> None:
    table = checks_table([stripe_peer_check(10.0, "cut off")])

    text = table.text().splitlines()

    assert text[0] == "Targets"
    assert text[1].split() == ["target", "wanted", "measured", "result", "note"]
    assert text[3].startswith("stripe: our records/s over airbyte-source-stripe 5.14.1's")
    assert text[3].split()[-4:] == ["10.0x", "FAIL", "cut", "off"]


def test_given_a_table_when_rendered_as_markdown_then_pipes_in_cells_are_escaped() -> None:
    table = Table("T", ("a", "b"), (("x|y", "1"),))
    assert table.markdown().splitlines() == ["**T**", "", "| a | b |", "|---|---|", "| x\\|y | 1 |"]


def test_given_an_api_summary_when_serialised_then_derived_rates_are_included() -> None:
    traffic = api_traffic(
        "integrator", [{"api": "integrator", "path": "/v1/a", "time": t, "status": 200} for t in (0, 1)]
    )
    data = traffic.to_json()
    assert data["achieved_rps"] == 2.0
    assert data["ceiling_rps"] == 300.0
