"""The integrator.io streams through the connector's entry point: connectors' client-side incremental, the
children's connector id, and jobs paged backwards by `createdAt_lte` without losing or repeating a job at a
boundary."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.mock_http import HttpRequest

from source_billing.integrator_io.jobs import JOBS_PAGE_CAP, RUNNING_JOBS_HORIZON, format_timestamp
from unit_tests.entrypoint import NOW, MockedApi, final_state, read_stream, records, stream_error
from unit_tests.integrator_io.helpers import BASE, NOW_MILLIS, answer, connector, job, settings

CONNECTORS = f"{BASE}/v1/connectors"
JOBS = f"{BASE}/v1/jobs"


def _stamp(second: int, millisecond: int = 0) -> str:
    return f"2024-03-01T00:{second // 60:02d}:{second % 60:02d}.{millisecond:03d}Z"


def _jobs_newest_first(count: int, *, tied_at: int | None = None, ties: int = 0) -> list[dict[str, Any]]:
    """`count` jobs one second apart, plus `ties` more created at the same moment as job `tied_at`."""
    jobs = [job(n, _stamp(n)) for n in range(count)]
    if tied_at is not None:
        jobs += [job(10_000 + n, _stamp(tied_at)) for n in range(ties)]
    return sorted(jobs, key=lambda j: (j["createdAt"], j["_id"]), reverse=True)


def _jobs_api(api: MockedApi, jobs: list[dict[str, Any]], since: str | None = None) -> dict[str, HttpRequest]:
    """The requests that page back through `jobs`, answered as documented: inclusive createdAt filters,
    newest first, at most JOBS_PAGE_CAP, no Link. The first request ends at the sync's start; after a full
    answer, the next one ends at its oldest job (until that would ask the same again). A query without a
    filter (answered 400 `invalid_query`) or any other bound is not mocked, so it fails the read.

    Returns:
        Each request by its `createdAt_lte`, in order.
    """
    asked: dict[str, HttpRequest] = {}
    until = NOW_MILLIS
    while until not in asked:
        query = {"createdAt_lte": until} | ({"createdAt_gte": since} if since else {})
        chosen = [j for j in jobs if j["createdAt"] <= until and (since is None or j["createdAt"] >= since)]
        asked[until] = api.get(HttpRequest(JOBS, query_params=query), answer(chosen[:JOBS_PAGE_CAP]))
        if len(chosen) < JOBS_PAGE_CAP:
            break
        until = min(j["createdAt"] for j in chosen[:JOBS_PAGE_CAP])
    return asked


def _saved_after_the_records(output: EntrypointOutput) -> bool:
    """Whether every state message comes after the last record: a state moves once its slice is read."""
    kinds = [m.type for m in output.get_message_iterator() if m.type in (Type.RECORD, Type.STATE)]
    return Type.STATE in kinds and kinds == sorted(kinds, key=lambda kind: kind == Type.STATE)


# Connectors -----------------------------------------------------------------------------------------------


def test_given_saved_cursor_when_read_incremental_then_connectors_modified_since_and_state_on_close(
    api: MockedApi,
) -> None:
    listed = [
        connector(1, "2024-03-01T00:00:00.000Z"),
        connector(2, "2024-02-01T00:00:00.000Z"),
        connector(3, "2024-01-01T00:00:00.000Z"),
    ]
    api.get(HttpRequest(CONNECTORS), answer(listed))
    saved = {"default": {"lastModified": "2024-02-01T00:00:00.000Z"}}
    output = read_stream(settings(), "integrator_io_connectors", SyncMode.incremental, saved)
    assert [r["_id"] for r in records(output)] == [connector(1)["_id"], connector(2)["_id"]]
    assert _saved_after_the_records(output)
    assert final_state(output) == {"default": {"lastModified": "2024-03-01T00:00:00.000Z"}}


def test_given_full_refresh_when_read_then_every_connector_whatever_the_state(api: MockedApi) -> None:
    api.get(HttpRequest(CONNECTORS), answer([connector(1), connector(2)]))
    saved = {"default": {"lastModified": "2030-01-01T00:00:00.000Z"}}
    output = read_stream(settings(), "integrator_io_connectors", SyncMode.full_refresh, saved)
    assert len(records(output)) == 2


# Licenses and install base --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "child"), [("licenses", "licenses"), ("install_base", "installBase")])
def test_given_connectors_when_children_read_then_one_slice_per_connector_and_each_record_names_its_connector(
    api: MockedApi, name: str, child: str
) -> None:
    first, second = connector(1)["_id"], connector(2)["_id"]
    api.get(HttpRequest(CONNECTORS), answer([connector(1), connector(2)]))
    # Each connector's list, once.
    api.get(
        HttpRequest(f"{CONNECTORS}/{first}/{child}"),
        answer([{"_id": "a1"}, {"_id": "a2", "_connectorId": first}, {"_id": "a3", "_connectorId": None}]),
    )
    api.get(HttpRequest(f"{CONNECTORS}/{second}/{child}"), answer(status=204))
    output = read_stream(settings(), f"integrator_io_{name}")
    assert [(r["_id"], r["_connectorId"]) for r in records(output)] == [
        ("a1", first),
        ("a2", first),
        ("a3", first),
    ]


# Jobs -----------------------------------------------------------------------------------------------------


def test_given_fewer_jobs_than_one_answer_holds_when_read_then_one_request_with_created_at_lte_now(
    api: MockedApi,
) -> None:
    # The parent-jobs rule needs a filter even without a cursor: `createdAt_lte`, the sync's start, alone.
    assert list(_jobs_api(api, _jobs_newest_first(3))) == [NOW_MILLIS]
    output = read_stream(settings(), "integrator_io_jobs")
    assert len(records(output)) == 3


def test_given_more_jobs_than_one_answer_holds_when_read_then_pages_back_by_created_at_lte(
    api: MockedApi,
) -> None:
    jobs = _jobs_newest_first(2 * JOBS_PAGE_CAP + 500)
    # The first request ends at the sync's start; each next one at the oldest job of the previous answer.
    bounds = [NOW_MILLIS, jobs[JOBS_PAGE_CAP - 1]["createdAt"], jobs[2 * JOBS_PAGE_CAP - 2]["createdAt"]]
    assert list(_jobs_api(api, jobs)) == bounds
    output = read_stream(settings(), "integrator_io_jobs")
    ids = [r["_id"] for r in records(output)]
    assert sorted(ids) == sorted(j["_id"] for j in jobs)
    assert len(ids) == len(jobs), "no job twice"


def test_given_a_jobs_answer_with_a_link_header_when_read_then_the_link_is_followed_as_given(
    api: MockedApi,
) -> None:
    jobs = _jobs_newest_first(5)
    next_url = f"{JOBS}?cursor=opaque"
    api.get(
        HttpRequest(JOBS, query_params={"createdAt_lte": NOW_MILLIS}),
        answer(jobs[:3], headers={"Link": f'<{next_url}>; rel="next"'}),
    )
    api.get(HttpRequest(next_url), answer(jobs[3:]))
    output = read_stream(settings(), "integrator_io_jobs")
    assert [r["_id"] for r in records(output)] == [j["_id"] for j in jobs]


@pytest.mark.parametrize("ties", [1, 5, JOBS_PAGE_CAP - 2])
def test_given_jobs_sharing_the_oldest_timestamp_of_a_full_answer_when_read_then_none_lost_and_none_twice(
    api: MockedApi, ties: int
) -> None:
    # The tied group straddles the end of the first answer: some of it in, the rest only in the next one.
    jobs = _jobs_newest_first(JOBS_PAGE_CAP + 300, tied_at=300, ties=ties)
    assert jobs[JOBS_PAGE_CAP - 1]["createdAt"] == jobs[JOBS_PAGE_CAP]["createdAt"] == _stamp(300)
    _jobs_api(api, jobs)
    ids = [r["_id"] for r in records(read_stream(settings(), "integrator_io_jobs"))]
    assert len(ids) == len(set(ids)), "a job at the boundary was emitted twice"
    assert set(ids) == {j["_id"] for j in jobs}, "a job at the boundary was lost"


def test_given_a_full_answer_all_at_one_timestamp_when_read_then_fails_instead_of_looping_or_skipping(
    api: MockedApi,
) -> None:
    jobs = _jobs_newest_first(10, tied_at=5, ties=JOBS_PAGE_CAP + 1)
    assert list(_jobs_api(api, jobs)) == [NOW_MILLIS, _stamp(5)], "the second answer asks the same again"
    output = read_stream(settings(), "integrator_io_jobs")
    assert "cannot be paged to without skipping some" in stream_error(output, "integrator_io_jobs").message


def test_given_saved_state_when_read_incremental_then_created_at_gte_and_state_moves_on_close_only(
    api: MockedApi,
) -> None:
    # Asked with both bounds: `createdAt_gte` the saved cursor, `createdAt_lte` the sync's start.
    _jobs_api(api, _jobs_newest_first(10), since=_stamp(7))
    saved = {"default": {"createdAt": _stamp(7)}}
    output = read_stream(settings(), "integrator_io_jobs", SyncMode.incremental, saved)
    assert sorted(r["createdAt"] for r in records(output)) == [_stamp(7), _stamp(8), _stamp(9)]
    assert _saved_after_the_records(output)
    assert final_state(output) == {"default": {"createdAt": _stamp(9)}}


def test_given_a_recent_job_still_running_when_read_incremental_then_the_cursor_waits_for_it_to_end(
    api: MockedApi,
) -> None:
    now = pendulum.parse(NOW)
    assert isinstance(now, pendulum.DateTime)
    recent, stuck = format_timestamp(now.subtract(hours=2)), format_timestamp(now - RUNNING_JOBS_HORIZON * 2)
    newest = format_timestamp(now.subtract(minutes=5))
    running = [
        job(3, newest),
        job(2, recent, status="running", endedAt=None),
        job(1, stuck, status="running", endedAt=None),
    ]
    ended = job(2, recent, status="completed")
    api.get(HttpRequest(JOBS, query_params={"createdAt_lte": NOW_MILLIS}), answer(running))
    api.get(
        HttpRequest(JOBS, query_params={"createdAt_lte": NOW_MILLIS, "createdAt_gte": recent}),
        answer([running[0], ended]),
    )
    first = read_stream(settings(), "integrator_io_jobs", SyncMode.incremental)
    held = final_state(first)
    assert held == {"default": {"createdAt": recent}}, "held at the running job, not the stuck one"
    again = read_stream(settings(), "integrator_io_jobs", SyncMode.incremental, held)
    assert ended in records(again), "the next sync emits the job again, ended"
    assert final_state(again) == {"default": {"createdAt": newest}}


def test_given_a_jobs_read_that_breaks_off_when_read_incremental_then_the_state_does_not_move(
    api: MockedApi,
) -> None:
    jobs = _jobs_newest_first(JOBS_PAGE_CAP + 5)
    api.get(HttpRequest(JOBS, query_params={"createdAt_lte": NOW_MILLIS}), answer(jobs[:JOBS_PAGE_CAP]))
    api.get(
        HttpRequest(JOBS, query_params={"createdAt_lte": jobs[JOBS_PAGE_CAP - 1]["createdAt"]}),
        answer({"errors": [{"code": "invalid_query", "message": "no"}]}, 400),
    )
    output = read_stream(settings(), "integrator_io_jobs", SyncMode.incremental)
    assert len(records(output)) == JOBS_PAGE_CAP, "the first answer's jobs are out"
    assert stream_error(output, "integrator_io_jobs")
    assert final_state(output) == {}, "nothing read in full: no cursor saved"
