"""`orb_credits_ledger_entries`: every customer's credit ledger, with a cursor per customer and optional
event enrichment (https://docs.withorb.com/api-reference/credit/fetch-customer-credits-ledger)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import pendulum
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_billing.errors import REQUEST_TIMEOUT, response_json
from source_billing.orb.base import OrbApi, OrbStream, orb_timestamp, parse_orb_timestamp
from source_billing.orb.cursors import PartitionedOrbStream
from source_billing.orb.enrichment import EVENT, EventProperties, LedgerEnricher

NAME = "orb_credits_ledger_entries"
CUSTOMER_ID = "customer_id"


class CreditsLedgerEntriesStream(PartitionedOrbStream):
    """One slice per customer: every customer, whenever created (`start_date` filters entries, never the
    customers whose ledgers are read), all entry types and statuses, from that customer's cursor.

    A pending entry may still change until Orb commits it, so a customer's cursor never passes its oldest
    pending entry: the next sync reads it again, committed.
    """

    def __init__(self, *, api: OrbApi) -> None:
        self._start_date = api.config.start_date
        self._lookback = pendulum.duration(days=api.config.lookback_window_days)
        self._properties = EventProperties.from_config(api.config)
        super().__init__(
            api=api, name=NAME, path="customers/{customer_id}/credits/ledger", cursor_field="created_at"
        )
        # Every customer, never filtered: its own instance, since the catalog's customers stream has state.
        self._customers = OrbStream(api=api, name="orb_customers", path="customers")
        self._enricher = LedgerEnricher(self._properties, self._search_events) if self._properties else None

    # Cached per stream instance like ApiStream's (whose type it must keep); assigned rather than decorated
    # because the project waives ruff's B019 for base_stream.py only.
    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        now = orb_timestamp(pendulum.now("UTC"))
        for customer in self._customers.read_records(SyncMode.full_refresh):
            if not isinstance(customer, Mapping):
                continue
            customer_id = str(customer["id"])
            start = self._start_date
            saved = self._cursor.value(customer_id) if sync_mode == SyncMode.incremental else None
            if saved is not None:
                resume = parse_orb_timestamp(saved) - self._lookback
                start = resume if start is None else max(start, resume)
            yield {
                "partition": customer_id,
                "start": None if start is None else orb_timestamp(start),
                # A full refresh has no next sync to read what is created during this one.
                "end": now if sync_mode == SyncMode.incremental else None,
                "checkpoint": now,
            }

    def path(self, *, stream_slice: Mapping[str, Any] | None = None, **_: Any) -> str:
        return f"customers/{(stream_slice or {})['partition']}/credits/ledger"

    def request_params(
        self,
        stream_state: Mapping[str, Any] | None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> MutableMapping[str, Any]:
        params = super().request_params(stream_state, stream_slice, next_page_token)
        if stream_slice and stream_slice["start"] is not None:
            params["created_at[gte]"] = stream_slice["start"]
        if stream_slice and stream_slice["end"] is not None:
            params["created_at[lt]"] = stream_slice["end"]
        return params

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[StreamData]:
        customer_id = (stream_slice or {})["partition"]
        entries = self._entries(super().read_records(sync_mode, cursor_field, stream_slice), customer_id)
        if self._enricher is None:
            yield from entries
        else:
            yield from self._enricher.enrich(entries, f"customer {customer_id}")

    def _entries(self, records: Iterable[StreamData], customer_id: str) -> Iterator[StreamData]:
        oldest_pending: str | None = None
        for record in records:
            if isinstance(record, MutableMapping):
                record[CUSTOMER_ID] = customer_id
                if record.get("entry_status") == "pending":
                    created = orb_timestamp(parse_orb_timestamp(record["created_at"]))
                    if oldest_pending is None or created < oldest_pending:
                        oldest_pending = created
            yield record
        if oldest_pending is not None:
            self.observe(customer_id, oldest_pending)

    def cursor_after(self, stream_slice: Mapping[str, Any], observed: Any) -> Any:
        # The end of the read, or the oldest pending entry if any: the next sync reads it again, committed.
        checkpoint: str = stream_slice["checkpoint"]
        return checkpoint if observed is None else min(checkpoint, observed)

    def build_schema(self) -> dict[str, Any]:
        """The schema file's, plus the configured event properties (they depend on the configuration)."""
        schema = super().build_schema()
        if self._properties:
            schema["properties"][EVENT] = self._properties.schema()
        return schema

    def _search_events(
        self, event_ids: list[str], start: pendulum.DateTime, end: pendulum.DateTime
    ) -> list[Mapping[str, Any]]:
        # The stream's own HTTP client: the same error mapping, retries, backoff and rate budget.
        _, response = self._http_client.send_request(
            "POST",
            f"{self.url_base}events/search",
            request_kwargs={"timeout": REQUEST_TIMEOUT},
            json={
                "event_ids": event_ids,
                "timeframe_start": orb_timestamp(start),
                "timeframe_end": orb_timestamp(end),
            },
        )
        events: list[Mapping[str, Any]] = response_json(response)["data"]
        return events
