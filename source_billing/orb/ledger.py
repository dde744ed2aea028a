"""`orb_credits_ledger_entries`: every customer's credit ledgers, one per currency or custom pricing unit it
holds credits in, with a cursor per customer and currency and optional event enrichment
(https://docs.withorb.com/api-reference/credit/fetch-customer-credits-ledger)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

import pendulum
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_billing.http.errors import REQUEST_TIMEOUT, response_json
from source_billing.incremental.cursors import PartitionedCursor, parse_iso_timestamp, window_params
from source_billing.orb.base import OrbApi, OrbStream, orb_error_mapping, orb_timestamp
from source_billing.orb.currencies import (
    CREDITS,
    AccountCurrencies,
    candidate_currencies,
    currency_param,
)
from source_billing.orb.enrichment import EVENT, EventProperties, LedgerEnricher

NAME = "orb_credits_ledger_entries"
CUSTOMER_ID = "customer_id"
CURSOR = "created_at"
# The state's partitions are `customer|currency`; Orb ids never contain `|` (a currency name might).
SEPARATOR = "|"


def ledger_partition(customer_id: str, currency: str) -> str:
    """The state partition of one customer's ledger in one currency."""
    return f"{customer_id}{SEPARATOR}{currency}"


def migrate_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A saved state in the current form: a partition that names a customer only (the form written before
    ledgers were read per currency) is that customer's credits ledger, the only one read then."""
    return {
        partition if SEPARATOR in partition else ledger_partition(partition, CREDITS): value
        for partition, value in state.items()
    }


class CreditsLedgerEntriesStream(OrbStream):
    """One slice per customer: every customer, whenever created (`start_date` filters entries, never the
    customers whose ledgers are read), each of its ledgers (see `currencies.py`), all entry types and
    statuses, each ledger from its own cursor (state partition `customer|currency`).

    A pending entry may still change until Orb commits it, so a ledger's cursor never passes its oldest
    pending entry: the next sync reads it again, committed.
    """

    _cursor: PartitionedCursor

    def __init__(self, *, api: OrbApi) -> None:
        self._start_date = api.config.start_date
        self._properties = EventProperties.from_config(api.config)
        self._cursor = PartitionedCursor(NAME, CURSOR, parse_iso_timestamp)
        # What each customer's read found per currency (its oldest pending entry, or None), until it closes.
        self._read: dict[str, dict[str, str | None]] = {}
        self._read_lock = threading.Lock()
        super().__init__(api=api, name=NAME, path="customers/{customer_id}/credits/ledger")
        # Every customer, never filtered: its own instance, since the catalog's customers stream has state.
        self._customers = OrbStream(api=api, name="orb_customers", path="customers")
        self._account_currencies = AccountCurrencies(api)
        self._blocks = self.side_client(f"{NAME} credit blocks", orb_error_mapping())
        self._enricher = LedgerEnricher(self._properties, self._search_events) if self._properties else None

    @property
    def cursor_field(self) -> str:
        return CURSOR

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._cursor.state

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor.set_state(migrate_state(value or {}))

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        now = orb_timestamp(pendulum.now("UTC"))
        incremental = sync_mode == SyncMode.incremental
        for customer in self._customers.read_records(SyncMode.full_refresh):
            if not isinstance(customer, Mapping):
                continue
            yield {
                "partition": str(customer["id"]),
                "candidates": candidate_currencies(customer, self._account_currencies()),
                "incremental": incremental,
                # A full refresh has no next sync to read what is created during this one.
                "end": now if incremental else None,
                "checkpoint": now,
            }

    def _start(self, partition: str, incremental: bool) -> str | None:
        start = self._start_date
        saved = self._cursor.value(partition) if incremental else None
        if saved is not None:
            resume = self.resume_from(parse_iso_timestamp(saved))
            start = resume if start is None else max(start, resume)
        return None if start is None else orb_timestamp(start)

    def path(self, *, stream_slice: Mapping[str, Any] | None = None, **_: Any) -> str:
        return f"customers/{quote((stream_slice or {})['partition'], safe='')}/credits/ledger"

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        params = super().params(stream_slice)
        return (
            params
            | currency_param(stream_slice.get("currency", CREDITS))
            | window_params(CURSOR, stream_slice)
        )

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        customer_id = stream_slice["partition"]
        currencies = [CREDITS, *(c for c in stream_slice["candidates"] if self._has_blocks(customer_id, c))]
        found: dict[str, str | None] = {}
        for currency in currencies:
            partition = ledger_partition(customer_id, currency)
            part = {
                **stream_slice,
                "currency": currency,
                "start": self._start(partition, stream_slice["incremental"]),
            }
            pending: list[str] = []
            entries = self._entries(super().read_slice(part), customer_id, pending)
            if self._enricher is None:
                yield from entries
            else:
                yield from self._enricher.enrich(entries, f"customer {customer_id} ({currency})")
            found[currency] = min(pending, default=None)
        # Committed by close_slice once every record is out; a read that breaks off commits nothing.
        with self._read_lock:
            self._read[customer_id] = found

    def _has_blocks(self, customer_id: str, currency: str) -> bool:
        """Whether the customer has, or had, a credit block in a currency (expired and depleted included)."""
        blocks = self.fetch(
            f"{self.url_base}customers/{quote(customer_id, safe='')}/credits",
            self._blocks,
            params={**currency_param(currency), "include_all_blocks": "true", "limit": "1"},
        )
        return bool((blocks or {}).get("data"))

    @staticmethod
    def _entries(records: Iterable[StreamData], customer_id: str, pending: list[str]) -> Iterator[StreamData]:
        oldest_pending: str | None = None
        for record in records:
            if isinstance(record, MutableMapping):
                record[CUSTOMER_ID] = customer_id
                if record.get("entry_status") == "pending":
                    created = orb_timestamp(parse_iso_timestamp(record["created_at"]))
                    if oldest_pending is None or created < oldest_pending:
                        oldest_pending = created
            yield record
        if oldest_pending is not None:
            pending.append(oldest_pending)

    def close_slice(self, stream_slice: Mapping[str, Any]) -> None:
        customer_id = stream_slice["partition"]
        with self._read_lock:
            found = self._read.pop(customer_id, None)
        # The end of the read, or a ledger's oldest pending entry if any: the next sync reads it again.
        checkpoint: str = stream_slice["checkpoint"]
        for currency, oldest_pending in (found or {}).items():
            value = checkpoint if oldest_pending is None else min(checkpoint, oldest_pending)
            self._cursor.set(ledger_partition(customer_id, currency), value)

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
