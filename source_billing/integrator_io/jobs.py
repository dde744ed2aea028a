"""integrator.io jobs: incremental on `createdAt`, read backwards from the newest.

`GET /v1/jobs` (https://github.com/celigo/integrator-api-docs/blob/master/job.md) filters on
`createdAt_gte` / `createdAt_lte` (both inclusive). A query for parent jobs must carry one of
`_integrationId`, `_flowId`, `_exportId`, `_importId`, `_flowJobId`, `createdAt_gte` or `createdAt_lte`,
else integrator.io answers 400 `invalid_query`: every request sends `createdAt_lte` (the sync's start, then
the paging boundary) and, from a saved cursor, `createdAt_gte`. An answer holds at most 1,001 jobs, newest
first, with no `Link` header. A full answer therefore means "maybe more": the next request asks for the jobs
created at or before the oldest one seen. Several jobs can share that timestamp and some of them may not
have fitted in the answer, so the boundary timestamp is asked for again and the jobs already emitted at it
are skipped: nothing is lost and nothing is emitted twice. Should an answer carry a `Link` next page after
all, the link is followed as for every other list, and only the end of that chain pages backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pendulum
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.http.pages import Records
from source_billing.incremental.cursors import DEFAULT_PARTITION
from source_billing.integrator_io.base import CursoredStream, IntegratorIoApi

# The most jobs one answer holds; an answer this long may have left older jobs out.
JOBS_PAGE_CAP = 1001
# A job still running is read again by the next syncs until it ends (its status and counts change), but a
# job that has not ended after this long is taken as stuck and no longer holds the cursor back.
RUNNING_JOBS_HORIZON = pendulum.duration(days=3)
CURSOR_FIELD = "createdAt"


def format_timestamp(moment: pendulum.DateTime) -> str:
    """A moment as integrator.io writes it (`2017-10-24T00:55:49.128Z`), so that it compares as text."""
    return moment.in_tz("UTC").format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")


class JobsStream(CursoredStream):
    """Flow, export and import runs, in one slice per sync: the read walks back from the newest job, so only
    its end is a point a later sync can safely resume from.

    The state is the newest `createdAt` emitted, held back to the oldest job created within
    `RUNNING_JOBS_HORIZON` that has not ended, so that a running job is emitted again with its final status.
    """

    def __init__(self, *, api: IntegratorIoApi, name: str) -> None:
        super().__init__(api=api, name=name, path="jobs", cursor_field=CURSOR_FIELD)

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        # The read ends at the sync's start: the first request's `createdAt_lte` (a filter the parent-jobs
        # rule accepts even without a cursor), and the jobs created later are the next sync's.
        now = format_timestamp(pendulum.now("UTC"))
        if sync_mode == SyncMode.incremental:
            since = self._cursor.value(DEFAULT_PARTITION)
            running_since = format_timestamp(pendulum.now("UTC") - RUNNING_JOBS_HORIZON)
            yield {"since": since, "running_since": running_since, "now": now}
        else:
            yield {"since": None, "running_since": None, "now": now}

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"createdAt_lte": stream_slice.get("until") or stream_slice["now"]}
        if stream_slice.get("since"):
            params["createdAt_gte"] = stream_slice["since"]
        return params

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        request = dict(stream_slice)
        running_since = request.get("running_since")
        newest: str | None = None
        oldest_running: str | None = None
        until: str | None = None
        emitted_at_until: frozenset[str] = frozenset()
        while True:
            request["until"] = until
            page: Records = []
            last_size = 0
            for answer in self.read_pages(self.first_request(request), self.paginator):
                page.extend(answer.records)
                last_size = len(answer.records)
            for record in page:
                if record.get("_id") in emitted_at_until:
                    continue  # the previous answer ended inside this timestamp and had it already
                created = record.get(CURSOR_FIELD)
                if created is not None:
                    if newest is None or created > newest:
                        newest = created
                    if (
                        running_since is not None
                        and record.get("endedAt") is None
                        and created >= running_since
                        and (oldest_running is None or created < oldest_running)
                    ):
                        oldest_running = created
                yield record
            # The end of a `Link` chain, or a lone answer, that is full may have left older jobs out.
            if last_size < JOBS_PAGE_CAP:
                break
            until, emitted_at_until = self._boundary(page, until)
        self.reached.put(stream_slice, oldest_running or newest)

    def _boundary(self, page: Records, until: str | None) -> tuple[str, frozenset[str]]:
        """Where the next answer starts: the oldest timestamp of a full answer, and the jobs it held there."""
        stamps = [record[CURSOR_FIELD] for record in page if record.get(CURSOR_FIELD) is not None]
        oldest = min(stamps, default=None)
        if oldest is None or oldest == until:
            # Every job of the answer has the timestamp asked for (or none): asking again gives the same jobs.
            raise AirbyteTracedException(
                message=(
                    f"integrator.io answered {len(page)} jobs, as many as one answer holds, all created at "
                    f"{oldest or 'an unknown time'}: the older jobs cannot be paged to without skipping "
                    "some. Please report this."
                ),
                failure_type=FailureType.system_error,
            )
        return oldest, frozenset(str(r["_id"]) for r in page if r.get(CURSOR_FIELD) == oldest)
