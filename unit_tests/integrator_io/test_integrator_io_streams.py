"""The integrator.io streams against mocked HTTP: connectors' client-side incremental, the children's
connector id, and jobs paged backwards by `createdAt_lte` without losing or repeating a job at a boundary."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.integrator_io.jobs import JOBS_PAGE_CAP, RUNNING_JOBS_HORIZON, format_timestamp
from unit_tests.integrator_io.helpers import BASE, connector, job, read, stream

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


def _jobs_api(jobs: list[dict[str, Any]]) -> Any:
    """The documented behaviour: a parent-jobs query needs a filter (else 400 `invalid_query`), inclusive
    createdAt filters, newest first, at most JOBS_PAGE_CAP, no Link."""

    def answer(request: Any, context: Any) -> Any:
        if not request.qs:
            context.status_code = 400
            return {"errors": [{"code": "invalid_query", "message": "For parent jobs, query parameters ..."}]}
        gte = request.qs.get("createdat_gte", [None])[0]
        lte = request.qs.get("createdat_lte", [None])[0]
        chosen = [
            j
            for j in jobs
            if (gte is None or j["createdAt"].lower() >= gte)
            and (lte is None or j["createdAt"].lower() <= lte)
        ]
        return chosen[:JOBS_PAGE_CAP]

    return answer


# Connectors -----------------------------------------------------------------------------------------------


def test_given_saved_cursor_when_read_incremental_then_connectors_modified_since_and_state_on_close() -> None:
    connectors = stream("connectors")
    connectors.state = {"default": {"lastModified": "2024-02-01T00:00:00.000Z"}}
    with requests_mock.Mocker() as mock:
        mock.get(
            CONNECTORS,
            json=[
                connector(1, "2024-03-01T00:00:00.000Z"),
                connector(2, "2024-02-01T00:00:00.000Z"),
                connector(3, "2024-01-01T00:00:00.000Z"),
            ],
        )
        (stream_slice,) = connectors.stream_slices(sync_mode=SyncMode.incremental)
        assert stream_slice is not None
        records = list(connectors.read_records(SyncMode.full_refresh, stream_slice=stream_slice))
        assert connectors.state == {"default": {"lastModified": "2024-02-01T00:00:00.000Z"}}, (
            "not before close"
        )
        connectors.close_slice(stream_slice)
    assert [r["_id"] for r in records] == [connector(1)["_id"], connector(2)["_id"]]
    assert connectors.state == {"default": {"lastModified": "2024-03-01T00:00:00.000Z"}}


def test_given_full_refresh_when_read_then_every_connector_whatever_the_state() -> None:
    connectors = stream("connectors")
    connectors.state = {"default": {"lastModified": "2030-01-01T00:00:00.000Z"}}
    with requests_mock.Mocker() as mock:
        mock.get(CONNECTORS, json=[connector(1), connector(2)])
        assert len(read(connectors, SyncMode.full_refresh)) == 2


# Licenses and install base --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "child"), [("licenses", "licenses"), ("install_base", "installBase")])
def test_given_connectors_when_children_read_then_one_slice_per_connector_and_each_record_names_its_connector(
    name: str, child: str
) -> None:
    first, second = connector(1)["_id"], connector(2)["_id"]
    children = stream(name)
    children.state = {"default": {"lastModified": "2030-01-01T00:00:00.000Z"}}  # never filters children
    with requests_mock.Mocker() as mock:
        mock.get(CONNECTORS, json=[connector(1), connector(2)])
        mock.get(
            f"{CONNECTORS}/{first}/{child}",
            json=[{"_id": "a1"}, {"_id": "a2", "_connectorId": first}, {"_id": "a3", "_connectorId": None}],
        )
        mock.get(f"{CONNECTORS}/{second}/{child}", status_code=204)
        slices = list(children.stream_slices(sync_mode=SyncMode.full_refresh))
        records = read(children)
    assert slices == [{"parent": {"_id": first}}, {"parent": {"_id": second}}]
    assert [(r["_id"], r["_connectorId"]) for r in records] == [("a1", first), ("a2", first), ("a3", first)]


# Jobs -----------------------------------------------------------------------------------------------------


def test_given_fewer_jobs_than_one_answer_holds_when_read_then_one_request_with_created_at_lte_now() -> None:
    before = format_timestamp(pendulum.now("UTC")).lower()
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=_jobs_api(_jobs_newest_first(3)))
        records = read(stream("jobs"))
        (request,) = mock.request_history
    assert len(records) == 3
    assert set(request.qs) == {"createdat_lte"}, "the parent-jobs rule needs a filter even without a cursor"
    assert request.qs["createdat_lte"][0] >= before


def test_given_more_jobs_than_one_answer_holds_when_read_then_pages_back_by_created_at_lte() -> None:
    jobs = _jobs_newest_first(2 * JOBS_PAGE_CAP + 500)
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=_jobs_api(jobs))
        records = read(stream("jobs"))
        bounds = [request.qs.get("createdat_lte") for request in mock.request_history]
    assert sorted(r["_id"] for r in records) == sorted(j["_id"] for j in jobs)
    assert len(records) == len(jobs), "no job twice"
    # The first request ends at the sync's start; each next one at the oldest job of the previous answer.
    assert bounds[1:] == [
        [jobs[JOBS_PAGE_CAP - 1]["createdAt"].lower()],
        [jobs[2 * JOBS_PAGE_CAP - 2]["createdAt"].lower()],
    ]
    assert bounds[0] is not None
    assert bounds[0][0] > jobs[0]["createdAt"].lower()


def test_given_a_jobs_answer_with_a_link_header_when_read_then_the_link_is_followed_as_given() -> None:
    jobs = _jobs_newest_first(5)
    next_url = f"{JOBS}?cursor=opaque"
    with requests_mock.Mocker() as mock:
        mock.get(
            JOBS, [{"json": jobs[:3], "headers": {"Link": f'<{next_url}>; rel="next"'}}, {"json": jobs[3:]}]
        )
        records = read(stream("jobs"))
        urls = [request.url for request in mock.request_history]
    assert [r["_id"] for r in records] == [j["_id"] for j in jobs]
    assert len(urls) == 2
    assert urls[1] == next_url


@pytest.mark.parametrize("ties", [1, 5, JOBS_PAGE_CAP - 2])
def test_given_jobs_sharing_the_oldest_timestamp_of_a_full_answer_when_read_then_none_lost_and_none_twice(
    ties: int,
) -> None:
    # The tied group straddles the end of the first answer: some of it in, the rest only in the next one.
    jobs = _jobs_newest_first(JOBS_PAGE_CAP + 300, tied_at=300, ties=ties)
    assert jobs[JOBS_PAGE_CAP - 1]["createdAt"] == jobs[JOBS_PAGE_CAP]["createdAt"] == _stamp(300)
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=_jobs_api(jobs))
        records = read(stream("jobs"))
    ids = [r["_id"] for r in records]
    assert len(ids) == len(set(ids)), "a job at the boundary was emitted twice"
    assert set(ids) == {j["_id"] for j in jobs}, "a job at the boundary was lost"


def test_given_a_full_answer_all_at_one_timestamp_when_read_then_fails_instead_of_looping_or_skipping() -> (
    None
):
    jobs = _jobs_newest_first(10, tied_at=5, ties=JOBS_PAGE_CAP + 1)
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=_jobs_api(jobs))
        with pytest.raises(AirbyteTracedException) as caught:
            read(stream("jobs"))
        assert mock.call_count == 2
    assert "cannot be paged to without skipping some" in str(caught.value.message)


def test_given_saved_state_when_read_incremental_then_created_at_gte_and_state_moves_on_close_only() -> None:
    jobs = stream("jobs")
    jobs.state = {"default": {"createdAt": _stamp(7)}}
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=_jobs_api(_jobs_newest_first(10)))
        (stream_slice,) = jobs.stream_slices(sync_mode=SyncMode.incremental)
        assert stream_slice is not None
        records = list(jobs.read_records(SyncMode.full_refresh, stream_slice=stream_slice))
        assert jobs.state == {"default": {"createdAt": _stamp(7)}}
        jobs.close_slice(stream_slice)
        (request,) = mock.request_history
    assert request.qs["createdat_gte"] == [_stamp(7).lower()]
    assert set(request.qs) == {"createdat_gte", "createdat_lte"}
    assert sorted(r["createdAt"] for r in records) == [_stamp(7), _stamp(8), _stamp(9)]
    assert jobs.state == {"default": {"createdAt": _stamp(9)}}


def test_given_a_recent_job_still_running_when_read_incremental_then_the_cursor_waits_for_it_to_end() -> None:
    now = pendulum.now("UTC")
    recent, stuck = format_timestamp(now.subtract(hours=2)), format_timestamp(now - RUNNING_JOBS_HORIZON * 2)
    newest = format_timestamp(now.subtract(minutes=5))
    answer = [
        job(3, newest),
        job(2, recent, status="running", endedAt=None),
        job(1, stuck, status="running", endedAt=None),
    ]
    jobs = stream("jobs")
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=answer)
        read(jobs, SyncMode.incremental)
        assert jobs.state == {"default": {"createdAt": recent}}, "held at the running job, not the stuck one"
        ended = job(2, recent, status="completed")
        mock.get(JOBS, json=[answer[0], ended])
        again = read(jobs, SyncMode.incremental)
        assert mock.last_request is not None
        assert mock.last_request.qs["createdat_gte"] == [recent.lower()]
    assert ended in again, "the next sync emits the job again, ended"
    assert jobs.state == {"default": {"createdAt": newest}}


def test_given_a_read_that_breaks_off_when_the_slice_is_not_closed_then_state_does_not_move() -> None:
    jobs = stream("jobs")
    with requests_mock.Mocker() as mock:
        mock.get(JOBS, json=_jobs_api(_jobs_newest_first(3)))
        read(jobs, SyncMode.incremental, close=False)
    assert jobs.state == {}
