"""Orb lists read per parent object, since Orb has no list across parents: a customer's credit blocks and
balance transactions, a subscription's licenses and plan-change schedule.

Each parent (every customer, or every subscription, whatever its status or age) is one slice, so parents
are read on concurrent workers. Each record names its parent (`customer_id`, `subscription_id`); a credit
block also its ledger `currency`, and a schedule entry, which Orb gives no id, gets one built from its
subscription and start date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_billing.http.pages import Records
from source_billing.orb.base import OrbApi, OrbStream
from source_billing.orb.currencies import (
    CREDITS,
    CURRENCY,
    AccountCurrencies,
    candidate_currencies,
    currency_param,
)

PARENT = "parent"
# The field each record gets naming its parent, by the parent's list.
PARENT_FIELDS = {"customers": "customer_id", "subscriptions": "subscription_id"}


@dataclass(frozen=True)
class OrbChildObject:
    """One Orb list endpoint under a parent object, read as a stream.

    Attributes:
        name: the stream name.
        parent: the parents' list path below `/v1/` (`customers` or `subscriptions`).
        path: the list path below `/v1/`; `{parent_id}` stands for the parent's id.
        reference: the endpoint's documentation.
        parent_param: the query parameter naming the parent, for a list whose path does not.
        params: query parameters sent with every request.
        per_currency: whether the list is one per ledger currency (`currency`), read in each one the
            customer may hold credits in (see `currencies.py`).
        id_fields: for objects without an id, the fields that, after the parent's id, make one.
        open_parent_statuses: for an incremental stream, the parent statuses in which the objects still
            change (see `parent_tracking.py`); empty for a list read in full every sync.
    """

    name: str
    parent: str
    path: str
    reference: str
    parent_param: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    per_currency: bool = False
    id_fields: tuple[str, ...] = ()
    open_parent_statuses: tuple[str, ...] = ()

    @property
    def parent_field(self) -> str:
        return PARENT_FIELDS[self.parent]


class OrbChildStream(OrbStream):
    """Every object of an Orb list under each parent, read in full every sync."""

    def __init__(self, *, api: OrbApi, row: OrbChildObject) -> None:
        self._row = row
        super().__init__(api=api, name=row.name, path=row.path, params=dict(row.params))
        # Every parent, never filtered: its own instance, since the catalog's parent stream may have state.
        self._parents = OrbStream(api=api, name=f"orb_{row.parent}", path=row.parent)
        self._account_currencies = AccountCurrencies(api) if row.per_currency else None

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        for parent in self.parents(sync_mode):
            yield from self.parent_slices(parent)

    def parents(self, sync_mode: SyncMode) -> Iterable[Mapping[str, Any]]:
        """The parent objects whose lists this sync reads: all of them."""
        for parent in self._parents.read_records(SyncMode.full_refresh):
            if isinstance(parent, Mapping):
                yield parent

    def parent_slices(self, parent: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The slices of one parent: one, or one per ledger currency."""
        if self._account_currencies is None:
            yield {PARENT: str(parent["id"])}
            return
        for currency in (CREDITS, *candidate_currencies(parent, self._account_currencies())):
            yield {PARENT: str(parent["id"]), CURRENCY: currency}

    def path(self, *, stream_slice: Mapping[str, Any] | None = None, **_: Any) -> str:
        return self._row.path.format(parent_id=quote((stream_slice or {})[PARENT], safe=""))

    def params(self, stream_slice: Mapping[str, Any]) -> dict[str, Any]:
        params = super().params(stream_slice)
        if self._row.parent_param:
            params[self._row.parent_param] = stream_slice[PARENT]
        if CURRENCY in stream_slice:
            params.update(currency_param(stream_slice[CURRENCY]))
        return params

    def page_records(self, records: Records, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        parent_id = stream_slice[PARENT]
        parent_field, id_fields = self._row.parent_field, self._row.id_fields
        for record in records:
            record[parent_field] = parent_id
            if CURRENCY in stream_slice:
                record[CURRENCY] = stream_slice[CURRENCY]
            if id_fields:
                record["id"] = "|".join([parent_id, *(str(record.get(field) or "") for field in id_fields)])
            yield record
