"""Ledger event enrichment: the properties of the usage event behind a credit ledger entry, added to it.

A decrement caused by usage names its event (`event_id`). With `numeric_event_properties_keys` or
`string_event_properties_keys` configured, the entries are looked up with `POST /v1/events/search`
(https://docs.withorb.com/api-reference/event/search-events), which takes at most 500 ids and a timeframe of
at most 30 days, and each such entry gets `event: {"id", "properties": {key: value}}`, numeric keys as
numbers and string keys as strings. An entry whose event Orb does not return keeps its row with null
properties (one warning per search); entries without an `event_id` pass unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pendulum
from airbyte_cdk.sources.streams.core import StreamData

from source_billing.config import OrbConfig, config_error
from source_billing.incremental.cursors import parse_iso_timestamp
from source_billing.orb.base import orb_timestamp, warning

MAX_EVENT_IDS = 500  # Orb's limit per search
MAX_TIMEFRAME = timedelta(days=30)  # Orb's limit on a search's timeframe
# An event is timestamped when the usage happened, its ledger entry created when Orb deducted credits:
# up to Orb's grace period for late events later. The search window reaches this far before the entries.
EVENT_LEAD = timedelta(days=1)
EVENT_LAG = timedelta(hours=1)  # clock skew the other way
# Entries whose creation times lie within this span share one search.
ENTRY_SPAN = MAX_TIMEFRAME - EVENT_LEAD - EVENT_LAG
EVENT = "event"

SearchEvents = Callable[[list[str], pendulum.DateTime, pendulum.DateTime], list[Mapping[str, Any]]]


@dataclass(frozen=True)
class EventProperties:
    """The event properties to copy into ledger entries, with the JSON type of each."""

    numeric: tuple[str, ...] = ()
    string: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: OrbConfig) -> EventProperties:
        """The configured keys.

        Raises:
            AirbyteTracedException: a `config_error` when a key is listed as both numeric and string.
        """
        both = sorted(set(config.numeric_event_properties_keys) & set(config.string_event_properties_keys))
        if both:
            raise config_error(
                f"`orb.numeric_event_properties_keys` and `orb.string_event_properties_keys` both list "
                f"{', '.join(both)}: give each event property one type."
            )
        return cls(config.numeric_event_properties_keys, config.string_event_properties_keys)

    def __bool__(self) -> bool:
        return bool(self.numeric or self.string)

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the `event` field added to enriched entries."""
        typed = {key: {"type": ["null", "number"]} for key in self.numeric} | {
            key: {"type": ["null", "string"]} for key in self.string
        }
        return {
            "type": ["null", "object"],
            "additionalProperties": True,
            "properties": {
                "id": {"type": ["null", "string"]},
                "properties": {"type": ["null", "object"], "additionalProperties": True, "properties": typed},
            },
        }

    def pick(self, properties: Mapping[str, Any] | None) -> dict[str, Any]:
        """The configured keys of an event's properties, typed; all null when there is no event."""
        found = properties or {}
        picked: dict[str, Any] = {key: as_number(found.get(key)) for key in self.numeric}
        picked.update((key, as_string(found.get(key))) for key in self.string)
        return picked


def as_number(value: Any) -> int | float | None:
    """A property as a JSON number: numbers as they are, numeric strings parsed, anything else null."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_string(value: Any) -> str | None:
    """A property as a string; numbers and booleans as JSON writes them."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


@dataclass
class _Search:
    """Entries whose events one `POST /events/search` looks up."""

    first: pendulum.DateTime
    last: pendulum.DateTime
    entries: list[MutableMapping[str, Any]] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        return list(dict.fromkeys(str(entry["event_id"]) for entry in self.entries))


class LedgerEnricher:
    """Adds event properties to ledger entries, looking events up in batches.

    Args:
        properties: the keys to copy.
        search: sends one search (ids, timeframe start inclusive, end exclusive) and returns the events,
            through the stream's HTTP client, so retries, backoff and the rate budget apply.
    """

    def __init__(self, properties: EventProperties, search: SearchEvents) -> None:
        self._properties = properties
        self._search = search

    def enrich(self, entries: Iterable[StreamData], owner: str) -> Iterator[StreamData]:
        """The same entries, those with an event id enriched (in batches, so possibly later), and a warning
        per search that missed events. `owner` names whose ledger it is, in warnings."""
        batch: list[MutableMapping[str, Any]] = []
        event_ids: set[str] = set()
        for entry in entries:
            if not isinstance(entry, MutableMapping) or not entry.get("event_id"):
                yield entry
                continue
            batch.append(entry)
            event_ids.add(str(entry["event_id"]))
            if len(event_ids) == MAX_EVENT_IDS:
                yield from self._enrich_batch(batch, owner)
                batch, event_ids = [], set()
        if batch:
            yield from self._enrich_batch(batch, owner)

    def _enrich_batch(self, batch: Sequence[MutableMapping[str, Any]], owner: str) -> Iterator[StreamData]:
        for search in plan_searches(batch):
            event_ids = search.event_ids
            start, end = search.first - EVENT_LEAD, search.last + EVENT_LAG
            events = {str(event["id"]): event for event in self._search(event_ids, start, end)}
            for entry in search.entries:
                event = events.get(str(entry["event_id"]))
                entry[EVENT] = {
                    "id": entry["event_id"],
                    "properties": self._properties.pick(event.get("properties") if event else None),
                }
                yield entry
            missing = len(set(event_ids) - set(events))
            if missing:
                yield warning(
                    f"Orb returned no event for {missing} of {len(event_ids)} event ids of {owner}'s credit "
                    f"ledger entries (searched {orb_timestamp(start)} to {orb_timestamp(end)}); those "
                    "entries are kept with null event properties. Orb's search skips amended events, and "
                    "events far older than their ledger entry."
                )


def plan_searches(batch: Sequence[MutableMapping[str, Any]]) -> list[_Search]:
    """Group entries by creation time so that each search's timeframe stays within Orb's 30 days; the
    entries of one event go together, so no id is searched twice."""
    by_event: dict[str, _Search] = {}
    for entry in batch:
        moment = parse_iso_timestamp(entry["created_at"])
        found = by_event.get(str(entry["event_id"]))
        if found is None:
            found = by_event[str(entry["event_id"])] = _Search(first=moment, last=moment)
        found.first, found.last = min(found.first, moment), max(found.last, moment)
        found.entries.append(entry)
    searches: list[_Search] = []
    for event in sorted(by_event.values(), key=lambda event: event.first):
        # One event's entries are a day's deductions at most; should they span more, the window keeps to
        # Orb's limit and the event may come back missing.
        last = min(event.last, event.first + ENTRY_SPAN)
        if not searches or last - searches[-1].first > ENTRY_SPAN:
            searches.append(_Search(first=event.first, last=last))
        else:
            searches[-1].last = max(searches[-1].last, last)
        searches[-1].entries.extend(event.entries)
    return searches
