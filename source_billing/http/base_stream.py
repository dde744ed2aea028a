"""The stream base every API builds on: error and retry wiring, the one page loop, and windowed incremental
reads.

Per API, a subclass (`StripeStream`, `OrbStream`, `IntegratorIoStream`) owns the URL, auth, paginator
(`http/pages.py`) and error mapping; concrete streams are declarations on top of it. Nothing here is
global: every stream gets its API's settings (including the shared rate budget) from the source, so streams
can be read on concurrent workers.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, NoReturn

import pendulum
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.adapters import HTTPAdapter

from source_billing.config import MOST_CONCURRENCY
from source_billing.http.budget import Pacing
from source_billing.http.context import ApiContext
from source_billing.http.errors import (
    REQUEST_TIMEOUT,
    ApiErrorHandler,
    ErrorMapping,
    RetryAfterBackoff,
    response_json,
)
from source_billing.http.pages import Paginator, Records, Request
from source_billing.incremental.cursors import DEFAULT_PARTITION, PartitionedCursor, this_second, windows
from source_billing.runtime.progress import StreamStats
from source_billing.schemas import load_schema, open_schema


@dataclass(frozen=True)
class Page:
    """One answer of a list: its records, the response, and the request that asked for it."""

    records: Records
    response: requests.Response
    request: Request


class ApiStream(HttpStream, ABC):
    """What every stream of the connector shares, whatever its API."""

    api_name: ClassVar[str]
    schema_package: ClassVar[str]
    _api: ApiContext[Any]
    paginator: Paginator
    """How the stream's API pages its lists."""
    # Incremental streams keep their state here, one cursor per partition; `state` reads and sets it.
    _cursor: PartitionedCursor | None = None
    # Set by the source during a concurrent read: queues another slice of this stream for the workers.
    spawn: Callable[[Mapping[str, Any]], None] | None = None

    def __init__(
        self, *, api: ApiContext[Any], error_mapping: ErrorMapping, lookback_window_days: int = 0
    ) -> None:
        self._api = api
        # The CDK builds its HTTP client, which asks for the error handler, inside HttpStream.__init__.
        self._error_mapping = error_mapping
        self._lookback = pendulum.duration(days=lookback_window_days)
        self._breaker = api.breaker
        self.stats = StreamStats()
        self._failed = threading.Event()
        self._failed_lock = threading.Lock()
        # The stream spends from its API's shared budget through its own `Pacing`, which tells the
        # scheduler whether the stream could use another worker.
        self.pacing = Pacing(api.budget)
        super().__init__(authenticator=api.authenticator, api_budget=self.pacing)
        # The CDK keeps 40 connections per host for https and requests' 10 for http (a local API or
        # proxy); a stream with more slices in flight than its pool holds would open a connection per
        # request. A pool as large as the most workers a sync may have keeps every connection alive.
        # Every attempt reports to the breaker.
        adapter = api.breaker.adapter(HTTPAdapter(pool_maxsize=MOST_CONCURRENCY))
        for scheme in ("https://", "http://"):
            self._http_client._session.mount(scheme, adapter)
        # HttpStream gives streams without a cursor field a resumable-full-refresh cursor, which makes
        # read_records return ONE page per call and expects the CDK's sequential reader to call again. The
        # concurrent framework calls read_records once per slice, so every slice must read all its pages.
        self.cursor = None

    @property
    def url_base(self) -> str:
        return self._api.url_base

    @staticmethod
    @abstractmethod
    def error_detail(body: Any) -> str | None:
        """The human-readable message inside one of this API's error bodies."""

    def resume_from(self, saved: pendulum.DateTime) -> pendulum.DateTime:
        """Where an incremental read resumes: the saved cursor less `lookback_window_days`, to pick up
        objects that appeared late."""
        return saved - self._lookback

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        """Record that a slice was read in full and all its records were emitted: the only place where a
        stream's state may advance. `read_records` never touches state, since it runs on a worker thread
        while the records are still queued for output; the source calls this on the main thread after the
        slice's last record went out. Streams without state have nothing to do."""

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursor.state if self._cursor is not None else {}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        if self._cursor is not None:
            self._cursor.set_state(value or {})

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[StreamData]:
        return self.guard(self.read_slice(stream_slice or {}))

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """The records of one slice: by default every page of the slice's list (`path`, `params`)."""
        for page in self.read_pages(self.first_request(stream_slice), self.paginator):
            yield from self.page_records(page.records, stream_slice)

    def first_request(self, stream_slice: Mapping[str, Any]) -> Request:
        """The request of a slice's first page: `path` and `params`."""
        return Request(self.url_base + self.path(stream_slice=stream_slice), self.params(stream_slice))

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        """The query parameters of a slice's first page (the paginator adds the next pages' own)."""
        return {}

    def page_records(self, records: Records, stream_slice: Mapping[str, Any]) -> Iterable[StreamData]:
        """The records of one page of a slice, as the stream emits them."""
        return records

    def read_pages(
        self,
        request: Request,
        paginator: Paginator,
        *,
        headers: Mapping[str, str] | None = None,
        client: HttpClient | None = None,
        narrow: Callable[[Page, int, Request], Request] | None = None,
    ) -> Iterator[Page]:
        """The connector's one page loop: every page of a list, each request made once the page before was
        handed on. `narrow` (the page just read, how many were read, and the next page's request) may change
        the next page's request (a read that split its window off reads fewer objects). An answer the error
        mapping let through without success (ignored) ends the list: its page has no records, and the
        stream may say why from its response. Requests go through `client` (by default the stream's own)
        with the stream's retries, budget and timeout."""
        pages = 0
        while True:
            _, response = (client or self._http_client).send_request(
                "GET",
                request.url,
                request_kwargs={"timeout": REQUEST_TIMEOUT},
                headers=dict(headers or {}),
                params=request.params,
            )
            if not response.ok:
                yield Page([], response, request)
                return
            page = Page(paginator.records(response), response, request)
            yield page
            pages += 1
            following = paginator.following(request, response, page.records)
            if following is None:
                return
            request = following if narrow is None else narrow(page, pages, following)

    def fetch(
        self,
        url: str,
        client: HttpClient | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> MutableMapping[str, Any] | None:
        """One object, through `client` (by default the stream's own); None when the API no longer has it
        (a 404 that the client's error mapping lets through)."""
        _, response = (client or self._http_client).send_request(
            "GET",
            url,
            request_kwargs={"timeout": REQUEST_TIMEOUT},
            headers=dict(headers or {}),
            params=dict(params or {}),
        )
        if response.status_code == 404:
            return None
        found: MutableMapping[str, Any] = response_json(response)
        return found

    # HttpStream's own page loop (`read_records` of the CDK) is not used: the streams read through
    # `read_pages`. It still asks every HttpStream for these two.
    def next_page_token(self, response: requests.Response) -> NoReturn:
        raise NotImplementedError("the streams page through ApiStream.read_pages")

    def parse_response(self, response: requests.Response, **_: Any) -> NoReturn:
        raise NotImplementedError("the streams page through ApiStream.read_pages")

    def guard(self, records: Iterable[StreamData]) -> Iterator[StreamData]:
        """Stop a stream's other slices once one has failed with an error the user must fix, and every
        slice of an API that has stopped answering.

        A rejected key or a missing permission fails every slice the same way; the first slice reports it
        (a trace naming the stream), and the others end without another request or another copy of the
        message. The stream is still reported incomplete, and the sync fails; its state no longer moves
        (`failed`), since the slices that ended early were not read.

        Once the API has answered nothing for a while (see `CircuitBreaker`), or a request exhausted its
        retries on transport failures, the API's circuit breaker is open: from then on, each slice of that
        API fails at once with a `transient_error`, before any request. It fails rather than ending
        quietly, so that its window is never taken as read and the state stays where the next sync must
        resume.
        """
        if self._failed.is_set():
            return
        self._breaker.check(self.name)
        try:
            yield from records
        except AirbyteTracedException as error:
            self._breaker.record(error)
            if error.failure_type != FailureType.config_error:
                raise
            with self._failed_lock:
                if self._failed.is_set():
                    return  # already reported by the slice that failed first
                self._failed.set()
            raise

    @property
    def failed(self) -> bool:
        """Whether a slice failed with an error the user must fix, which ends the stream's other slices."""
        return self._failed.is_set()

    def get_error_handler(self) -> ApiErrorHandler:
        return ApiErrorHandler(
            self.logger, self.api_name, self._error_mapping, self.error_detail, stats=self.stats
        )

    def side_client(self, name: str, error_mapping: ErrorMapping) -> HttpClient:
        """Another HTTP client for requests of this stream whose failures mean something else (a parent's
        children, lookups by id): the stream's session (its connection pool and authentication), budget,
        backoff and counters, with its own error mapping."""
        return HttpClient(
            name=name,
            logger=self.logger,
            error_handler=ApiErrorHandler(
                self.logger, self.api_name, error_mapping, self.error_detail, stats=self.stats
            ),
            backoff_strategy=self.get_backoff_strategy(),
            api_budget=self.pacing,
            session=self._http_client._session,
        )

    def get_backoff_strategy(self) -> RetryAfterBackoff:
        return RetryAfterBackoff()

    @cache
    def get_json_schema(self) -> Mapping[str, Any]:
        return self.build_schema()

    def build_schema(self) -> dict[str, Any]:
        """The stream's JSON schema, built once per stream (`get_json_schema` caches it): a stream whose
        schema depends on the configuration extends this."""
        # Schemas live beside the API they describe (`<api>/schemas/`), not in the CDK's one top-level folder.
        return (
            load_schema(self.schema_package, self.schema_name)
            if self.schema_name
            else open_schema(self.primary_key)
        )

    @property
    def schema_name(self) -> str | None:
        """The schema file of this stream's records; None for an open object (an undescribed endpoint)."""
        return self.name

    def get_error_display_message(self, exception: BaseException) -> str | None:
        if isinstance(exception, requests.HTTPError) and exception.response is not None:
            return f"{self.api_name} answered {exception.response.status_code} on stream {self.name}."
        return super().get_error_display_message(exception)


# A window whose first pages show more than SPLIT_PAGES pages still to read (at their density) keeps about
# PIECE_PAGES of them for its own read and hands the older rest to another worker as one window, which
# does the same after its own first pages. Every part ends on a partial page: parts of 40 pages cost 2.5%
# more requests than one chain would, and a dense list gains a chain per page of latency. Stripe decides
# after FIRST_SPLIT_PAGES pages: by then a limit shared with streams that started at the same moment has
# held the read back if it binds (a sync's first requests rarely wait), and a split would only add a
# partial page to a stream that already gets its share.
SPLIT_PAGES = 60
PIECE_PAGES = 40
FIRST_SPLIT_PAGES = 3
# Later in a read, while the stream's limits have room (the streams sharing them ended: the tail of a sync),
# a read with at least IDLE_SPLIT_PAGES pages still to go hands the older half of them to another worker
# (each split costs one more partial page, so the last few pages of a read are not split).
IDLE_SPLIT_PAGES = 12


class WindowedStream(ApiStream, ABC):
    """A stream read in windows of creation time per partition, with a cursor per partition.

    Subclasses name the partitions (Connect accounts, or one default partition), the earliest time to read
    from, and how a window becomes request parameters; this class slices, checkpoints after each window,
    and resumes from the saved cursor less the lookback.
    """

    _cursor: PartitionedCursor

    epoch: ClassVar[pendulum.DateTime]
    """Where a stream with no start date begins: before the API's first possible object."""
    newest_first: ClassVar[bool] = False
    """Whether the newest window is read first (see `window_slices`)."""

    def __init__(
        self,
        *,
        start_date: pendulum.DateTime | None,
        lookback_window_days: int,
        slice_range_days: int,
        **kwargs: Any,
    ) -> None:
        self._start_date = start_date
        self._slice_range = pendulum.duration(days=slice_range_days)
        cursor_field = self.cursor_field
        # A full-refresh-only stream still tracks its windows, under a name no record field has.
        field = cursor_field if isinstance(cursor_field, str) else "checkpoint"
        self._cursor = PartitionedCursor(self.name, field, self.parse_cursor)
        super().__init__(lookback_window_days=lookback_window_days, **kwargs)

    @property
    @abstractmethod
    def cursor_field(self) -> str | list[str]:
        """The record field the state follows; `[]` for a stream read in full every sync."""

    @abstractmethod
    def format_cursor(self, moment: pendulum.DateTime) -> Any:
        """A moment as this API writes its cursor values (state and query parameters)."""

    @abstractmethod
    def parse_cursor(self, value: Any) -> pendulum.DateTime:
        """The inverse of `format_cursor`; raises ValueError or TypeError for a value it never writes (a saved
        state's cursor is checked with it before it is used)."""

    def partitions(self) -> Iterable[str]:
        """The partitions whose cursors are tracked separately."""
        return (DEFAULT_PARTITION,)

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        now = this_second()
        for partition in self.partitions():
            start = self._read_from(partition, sync_mode)
            yield from self.window_slices(
                partition, start, now, open_ended=sync_mode == SyncMode.full_refresh
            )

    def window_slices(
        self, partition: str, start: pendulum.DateTime, now: pendulum.DateTime, *, open_ended: bool
    ) -> Iterator[dict[str, Any]]:
        """The windows of one partition from `start` to `now`, registered with the cursor.

        Windows end at the start of the current second, exclusive: an object created later in this second
        has a creation time >= the saved cursor and is read by the next sync. A full refresh has no next
        sync, so its newest window is left open (`open_ended`).

        With `newest_first`, the newest window comes first, then the others from the oldest: recent
        windows usually hold the most objects (a business grows), so a stream that splits dense windows
        (`split_window`) splits that one at once and reads its parts beside the others instead of ending
        on them. The cursor still moves only over windows completed from the oldest on.
        """
        spans = list(windows(start, now, self._slice_range))
        slices = []
        for index, window in enumerate(spans):
            end = self.format_cursor(window.end)
            self._cursor.open(partition, end)
            slices.append(
                {
                    "partition": partition,
                    "start": self.format_cursor(window.start),
                    "end": None if open_ended and index == len(spans) - 1 else end,
                    "checkpoint": end,
                }
            )
        if self.newest_first:
            slices.insert(0, slices.pop())
        yield from slices

    def split_window(
        self, stream_slice: Mapping[str, Any], reached: Any, newest: Any = None, pages: int = 1
    ) -> Any | None:
        """Hand the older part of a dense window to another worker, after its first `pages` pages.

        A list read newest first has covered [`reached`, end) after its first pages; what is left,
        [start, `reached`), would be one chain of pages, each waiting for the one before. When the pages
        read say that part holds more than `SPLIT_PAGES` pages (at their density: the time from `newest`,
        by default the window's end, to `reached`), and no limit holds the stream back (another chain would
        only wait for it), this read keeps the `PIECE_PAGES` pages next to it and the rest, [start, bound),
        becomes one window, registered with the cursor and queued as a slice of its own, which splits again
        after its first pages if it is still dense. Splitting next to what was read, not evenly over
        [start, `reached`), costs one request for a history that turns out empty (a start date years before
        the first object), not one per piece. Returns the new lower bound of this slice's own read, or None
        to read on unchanged.
        """
        if self.spawn is None or stream_slice.get("start") is None or self.pacing.throttled():
            return None
        start = self.parse_cursor(stream_slice["start"])
        # A window's checkpoint is its end, also for the open end of a full refresh (the moment it was made).
        newest = self.parse_cursor(stream_slice["checkpoint"] if newest is None else newest)
        oldest_read = self.parse_cursor(reached)
        left, page = (oldest_read - start).total_seconds(), (newest - oldest_read).total_seconds() / pages
        page = max(page, 1.0)
        if left / page < SPLIT_PAGES:
            return None
        # Whole seconds: the APIs filter creation times to the second.
        bound = self.format_cursor(oldest_read - pendulum.duration(seconds=math.ceil(page * PIECE_PAGES)))
        return self._hand_on(stream_slice, stream_slice["start"], bound)

    def split_idle(self, stream_slice: Mapping[str, Any], start: Any, reached: Any, pages: int) -> Any | None:
        """Hand the older half of what a window's read has left, [`start`, `reached`), to another worker,
        when the stream's limits, which held it back before, have room now and at least `IDLE_SPLIT_PAGES`
        pages are left (at the density
        of the `pages` read since the window's end). At the end of a sync the last streams would otherwise
        read alone, a page at a time per slice, far below their limits. Returns the new lower bound of this
        read, or None to read on unchanged."""
        pacing = self.pacing
        # Only once a limit has held the stream back (a limit matters) and no longer does.
        if self.spawn is None or start is None or pacing.held_by is None or pacing.throttled():
            return None
        begin, oldest_read = self.parse_cursor(start), self.parse_cursor(reached)
        per_page = max(
            (self.parse_cursor(stream_slice["checkpoint"]) - oldest_read).total_seconds() / pages, 1.0
        )
        if (oldest_read - begin).total_seconds() / per_page < IDLE_SPLIT_PAGES:
            return None
        middle = self.format_cursor(begin + (oldest_read - begin) / 2)
        return self._hand_on(stream_slice, start, middle)

    def _hand_on(self, stream_slice: Mapping[str, Any], start: Any, end: Any) -> Any:
        """Queue [`start`, `end`) of a window as a slice of its own, registered with the partition's cursor
        first (the window's state waits for it); `end` is where this read now stops."""
        assert self.spawn is not None
        self._cursor.open(stream_slice["partition"], end)
        self.spawn({**stream_slice, "start": start, "end": end, "checkpoint": end})
        return end

    def _read_from(self, partition: str, sync_mode: SyncMode) -> pendulum.DateTime:
        start = self._start_date or self.epoch
        saved = self._cursor.value(partition) if sync_mode == SyncMode.incremental else None
        if saved is not None:
            start = max(start, self.resume_from(self.parse_cursor(saved)))
        return start

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        self._cursor.close(stream_slice["partition"], stream_slice["checkpoint"])
