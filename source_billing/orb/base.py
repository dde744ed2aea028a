"""Orb's base streams: URL, auth, cursor pagination, errors and rate budget.

Reference: https://docs.withorb.com/api-reference (pagination: `limit` up to 100, `cursor`,
`pagination_metadata.next_cursor`; lists are newest first; timestamps are ISO 8601; rate limits:
https://docs.withorb.com/api-reference/rate-limits).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import pendulum
from airbyte_cdk.models import AirbyteMessage, FailureType, Level
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator

from source_billing.config import OrbConfig
from source_billing.http.base_stream import ApiStream, WindowedStream
from source_billing.http.breaker import CircuitBreaker
from source_billing.http.budget import LayeredBudget, Limit
from source_billing.http.context import ApiContext
from source_billing.http.errors import ErrorMapping, common_error_mapping, fail, response_json
from source_billing.http.pages import OrbCursor
from source_billing.incremental.cursors import parse_iso_timestamp, window_params
from source_billing.runtime.progress import log_message

PAGE_SIZE = 100  # Orb's maximum
REQUESTS_PER_SECOND = 100
# The credit ledger and subscription usage have a budget of their own, ten times narrower.
LEDGER_AND_USAGE_REQUESTS_PER_SECOND = 10
LEDGER_AND_USAGE_ENDPOINTS = ("/v1/customers/{id}/credits/ledger", "/v1/subscriptions/{id}/usage")
# Cursor values and time filters as Orb writes them; fractions of a second are dropped (floored).
ORB_TIMESTAMP_FORMAT = "YYYY-MM-DDTHH:mm:ss[Z]"
# A list in creation order is one window from the start date, split as it turns out dense; other windows
# (invoices, by `invoice_date`) are a year each.
WHOLE_RANGE_DAYS = 100 * 365
YEAR_DAYS = 365


def orb_error_mapping() -> ErrorMapping:
    """What each failure means for an Orb user."""
    return common_error_mapping("Orb") | {
        400: fail("Orb rejected a request the connector made (HTTP 400); please report this."),
        401: fail(
            "Orb rejected the API key (HTTP 401): check `orb.api_key` (Orb > Developers > API keys).",
            FailureType.config_error,
        ),
        403: fail(
            "Orb refused access (HTTP 403): the API key may not read this resource.", FailureType.config_error
        ),
        404: fail(
            "Orb answered 404 for a list endpoint: check `orb.api_base_url` (the API root without /v1).",
            FailureType.config_error,
        ),
    }


def orb_error_detail(body: Any) -> str | None:
    """Orb errors read `{"type", "status", "title", "detail"}`."""
    detail = body.get("detail") or body.get("title")
    return str(detail) if detail else None


def orb_budget(api_base_url: str) -> LayeredBudget:
    """Orb's two documented limits: the credit ledger and subscription usage share 10 requests/s, every
    request counts toward 100/s."""
    return LayeredBudget(
        api_base_url,
        [Limit(LEDGER_AND_USAGE_REQUESTS_PER_SECOND, LEDGER_AND_USAGE_ENDPOINTS), Limit(REQUESTS_PER_SECOND)],
    )


OrbApi = ApiContext[OrbConfig]


def orb_api(config: OrbConfig) -> OrbApi:
    """What the Orb streams of one sync share."""
    return ApiContext(
        config=config,
        authenticator=TokenAuthenticator(config.api_key),
        budget=orb_budget(config.api_base_url),
        breaker=CircuitBreaker("Orb"),
    )


def orb_timestamp(moment: pendulum.DateTime) -> str:
    """A moment as Orb writes it: ISO 8601 in UTC with a `Z`, to the second."""
    return moment.in_tz("UTC").format(ORB_TIMESTAMP_FORMAT)


def warning(message: str) -> AirbyteMessage:
    """A warning for the user, yielded among a slice's records (the source puts it on the output)."""
    return log_message(message, Level.WARN)


class OrbStream(ApiStream):
    """An Orb list endpoint read in full: Orb's pagination, auth, errors and budget, and nothing else."""

    api_name = "Orb"
    schema_package = "source_billing.orb"
    primary_key = "id"
    error_detail = staticmethod(orb_error_detail)
    paginator = OrbCursor()
    _api: OrbApi

    def __init__(
        self,
        *,
        api: OrbApi,
        name: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._name = name
        self._path = path
        self._params = dict(params or {})
        kwargs.setdefault("lookback_window_days", api.config.lookback_window_days)
        super().__init__(api=api, error_mapping=orb_error_mapping(), **kwargs)

    @property
    def name(self) -> str:
        return self._name

    def path(self, **_: Any) -> str:
        return self._path

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        return {"limit": PAGE_SIZE, **self._params}


class OrbWindowedStream(OrbStream, WindowedStream):
    """An Orb list endpoint read in windows of its creation-time filter (`created_at`, or `invoice_date`).

    Orb lists newest first by creation, so a `created_at` stream is one window from its start, and a window
    whose first page shows many more pages to come hands what that page did not reach to other workers
    (`WindowedStream.split_window`). Orb's cursor keeps the filters of the list's first request, so the
    split window reads on with them and stops at the first object older than the second its first page
    reached, where the split-off windows begin. `invoice_date` is not the invoices' order: their windows
    are a year each and never split.
    """

    epoch: ClassVar[pendulum.DateTime] = pendulum.datetime(2020, 1, 1)  # before Orb's first customer

    def __init__(
        self,
        *,
        api: OrbApi,
        name: str,
        path: str,
        cursor_field: str = "created_at",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        # The cursor field is also the filter: `created_at[gte]`, or `invoice_date[gte]` for invoices.
        self._cursor_field = cursor_field
        self._splits = cursor_field == "created_at"
        super().__init__(
            api=api,
            name=name,
            path=path,
            params=params,
            start_date=api.config.start_date,
            slice_range_days=WHOLE_RANGE_DAYS if self._splits else YEAR_DAYS,
        )

    @property
    def cursor_field(self) -> str:
        return self._cursor_field

    def format_cursor(self, moment: pendulum.DateTime) -> str:
        return orb_timestamp(moment)

    def parse_cursor(self, value: Any) -> pendulum.DateTime:
        return parse_iso_timestamp(value)

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        return super().params(stream_slice) | window_params(self._cursor_field, stream_slice)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """A window's pages; after the first, a dense window hands its older part to another worker and this
        read stops at the first object older than the split (Orb's cursor keeps the first request's
        filters, so the read cannot narrow them)."""
        floor: pendulum.DateTime | None = None
        pages = self.read_pages(self.first_request(stream_slice), self.paginator)
        for number, page in enumerate(pages):
            records = page.records
            if floor is not None:
                for cut, record in enumerate(records):
                    value = record.get(self._cursor_field)
                    if value is not None and self.parse_cursor(value) < floor:
                        # Newest first: the rest is older still.
                        yield from self.page_records(records[:cut], stream_slice)
                        return
                yield from self.page_records(records, stream_slice)
                continue
            more = (response_json(page.response).get("pagination_metadata") or {}).get("has_more")
            if number == 0 and more and self._splits and stream_slice.get("start") and records:
                floor = self._split(stream_slice, records)
            # A first page: all of it at or after the second a split keeps.
            yield from self.page_records(records, stream_slice)

    def _split(
        self, stream_slice: Mapping[str, Any], first_page: list[MutableMapping[str, Any]]
    ) -> pendulum.DateTime | None:
        """Split the window after its first page if it is dense: the lower bound of its own read, if split."""
        reached, newest = first_page[-1].get(self._cursor_field), first_page[0].get(self._cursor_field)
        if reached is None or newest is None:
            return None
        bound = self.split_window(stream_slice, reached, newest)
        # The split-off window ends at this bound (a whole second: Orb filters to the second).
        return None if bound is None else self.parse_cursor(bound)
