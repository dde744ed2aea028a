"""How the current object of a record is found, and how many objects exist (for the expire/cancel guard).

Each lookup is a small declaration (a path, a query, a parent list) that `Reads` carries out with the
destination's clients; lists under a parent are read with the source's own streams (pagination, error
mapping and budget included), once per parent per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from airbyte_cdk.models import SyncMode

from source_billing.integrator_io.base import IntegratorIoApi, IntegratorIoStream
from source_billing.integrator_io.streams import ConnectorChildStream
from source_billing.orb.base import OrbApi, OrbStream

if TYPE_CHECKING:
    from destination_billing.plan import ApiReads as Reads

Record = Mapping[str, Any]


def fill(template: str, values: Mapping[str, Any]) -> str:
    """A path template with `{field}` replaced by the URL-quoted value."""
    return template.format_map({key: quote(str(value), safe="") for key, value in values.items()})


def fields_of(template: str) -> tuple[str, ...]:
    """The `{field}` names a template needs."""
    return tuple(part.split("}")[0] for part in template.split("{")[1:])


def complete(record: Record, fields: Iterable[str]) -> bool:
    """Whether the record has a non-empty value for every field."""
    return all(record.get(name) not in (None, "") for name in fields)


class Lookup(Protocol):
    """Finds the object a record stands for: the API object as returned, or None when there is none."""

    def applies(self, record: Record, reads: Reads) -> bool:
        """Whether the record carries what this lookup needs."""

    def find(self, record: Record, reads: Reads) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class ById:
    """`GET /v1/{path}` with the record's fields filled in; a 404 means there is no such object."""

    path: str

    def applies(self, record: Record, reads: Reads) -> bool:
        return complete(record, fields_of(self.path))

    def find(self, record: Record, reads: Reads) -> Mapping[str, Any] | None:
        found: Mapping[str, Any] | None = reads.get(fill(self.path, record))
        return found


@dataclass(frozen=True)
class FirstListed:
    """`GET /v1/{path}` filtered to the record by `params` (templates); the first object listed."""

    path: str
    params: tuple[tuple[str, str], ...]

    def applies(self, record: Record, reads: Reads) -> bool:
        return complete(record, [name for _, value in self.params for name in fields_of(value)])

    def find(self, record: Record, reads: Reads) -> Mapping[str, Any] | None:
        params = {key: value.format_map(record) for key, value in self.params}
        body = reads.get(self.path, params)
        data = (body or {}).get("data") or []
        return data[0] if data else None


@dataclass(frozen=True)
class ByMetadata:
    """Stripe Search on the configured metadata key (`stripe_customer_match_key`): the first match.

    Search is eventually consistent (an object can take a minute to appear): a create that a rerun cannot
    find yet is still sent once, since its `Idempotency-Key` makes Stripe replay the first creation."""

    path: str

    def applies(self, record: Record, reads: Reads) -> bool:
        key = reads.config.stripe_customer_match_key
        return key is not None and complete(record, (key,))

    def find(self, record: Record, reads: Reads) -> Mapping[str, Any] | None:
        key = reads.config.stripe_customer_match_key
        assert key is not None
        value = str(record[key]).replace("\\", "\\\\").replace("'", "\\'")
        body = reads.get(self.path, {"query": f"metadata['{key}']:'{value}'"})
        data = (body or {}).get("data") or []
        return data[0] if data else None


@dataclass(frozen=True)
class FirstOf:
    """The first of several lookups that the record carries the fields for (by id, else by a key)."""

    lookups: tuple[Lookup, ...]

    def applies(self, record: Record, reads: Reads) -> bool:
        return any(lookup.applies(record, reads) for lookup in self.lookups)

    def find(self, record: Record, reads: Reads) -> Mapping[str, Any] | None:
        for lookup in self.lookups:
            if lookup.applies(record, reads):
                return lookup.find(record, reads)
        return None


@dataclass(frozen=True)
class InParentList:
    """The object in the list under the record's parent (read in full once per parent) whose `match`
    fields, as `view` shows them, equal the record's (e-mails compared without case)."""

    parent_field: str
    read_list: Callable[[Any, str], Iterable[Mapping[str, Any]]]
    view: Callable[[Mapping[str, Any]], dict[str, Any]]
    match: tuple[str, ...]

    def applies(self, record: Record, reads: Reads) -> bool:
        return complete(record, (self.parent_field, *self.match))

    def find(self, record: Record, reads: Reads) -> Mapping[str, Any] | None:
        wanted = tuple(matching_value(name, record[name]) for name in self.match)
        for listed in reads.listed(self, str(record[self.parent_field])):
            shown = self.view(listed)
            if tuple(matching_value(name, shown.get(name)) for name in self.match) == wanted:
                return listed
        return None


def matching_value(name: str, value: Any) -> str:
    """A key value as compared: e-mail addresses without case differences (integrator.io stores them
    lower-cased); ids exactly, since APIs tell `cus_AbC` from `cus_abc`."""
    text = str(value).strip() if value is not None else ""
    return text.casefold() if "email" in name else text


@dataclass(frozen=True)
class ActiveInLists:
    """The guard's count of existing objects: the active ones in every parent list read this run."""

    lookup: InParentList
    is_retired: Callable[[Mapping[str, Any]], bool]

    def count(self, reads: Reads) -> int:
        return sum(not self.is_retired(self.lookup.view(listed)) for listed in reads.all_listed(self.lookup))


@dataclass(frozen=True)
class SearchTotal:
    """The guard's count of existing objects: Stripe Search's `total_count` for a query."""

    path: str
    query: str

    def count(self, reads: Reads) -> int:
        body = reads.get(self.path, {"query": self.query, "limit": 1, "expand[]": "total_count"})
        return int((body or {}).get("total_count") or 0)


class Census(Protocol):
    def count(self, reads: Reads) -> int: ...


# --- lists under a parent, read with the source's streams ---------------------------------------------


def integrator_io_licenses(context: IntegratorIoApi, connector_id: str) -> Iterable[Mapping[str, Any]]:
    """`GET /v1/connectors/{id}/licenses`, every page (`Link` header), as the source reads it; a deleted
    connector lists nothing (its records are then rejected by the API when written)."""
    stream = ConnectorChildStream(
        connectors=IntegratorIoStream(api=context, name="integrator_io_connectors", path="connectors"),
        api=context,
        name="integrator_io_licenses",
        child_path="licenses",
    )
    for record in stream.read_records(SyncMode.full_refresh, stream_slice={"parent": {"_id": connector_id}}):
        if isinstance(record, Mapping):
            yield record


def orb_licenses(context: OrbApi, subscription_id: str) -> Iterable[Mapping[str, Any]]:
    """`GET /v1/licenses?subscription_id=...`, every page (`cursor`), as the source's Orb streams read."""
    stream = OrbStream(
        api=context, name="orb_licenses", path="licenses", params={"subscription_id": subscription_id}
    )
    for record in stream.read_records(SyncMode.full_refresh):
        if isinstance(record, Mapping):
            yield record
