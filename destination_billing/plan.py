"""Planning a write: each record's current object is read first, and the record becomes one step (create,
update with the fields that change, expire / cancel / deactivate / delete, unchanged, or rejected with a
reason). Nothing here writes; the guard checks the whole plan before the first write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pendulum
from airbyte_cdk.models import DestinationSyncMode
from jsonschema import Draft7Validator

from destination_billing.clients import ApiClient, WriteRequest
from destination_billing.config import DestinationConfig
from destination_billing.lookups import InParentList, complete, fill, matching_value
from destination_billing.operations import RETIRING, Action, Call, Operation

Record = Mapping[str, Any]
IDEMPOTENCY_PREFIX = "destination-billing-"


class ApiReads:
    """The GETs of one run to one API, each sent once: objects by path and lists under a parent."""

    def __init__(self, client: ApiClient, config: DestinationConfig) -> None:
        self.client = client
        self.config = config
        self._got: dict[str, Any] = {}
        self._lists: dict[tuple[InParentList, str], list[Mapping[str, Any]]] = {}

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any | None:
        """`GET /v1/{path}`'s body (None for a 404), read once per run."""
        cache_key = json.dumps([path, sorted((params or {}).items())])
        if cache_key not in self._got:
            self._got[cache_key] = self.client.get(path, params)
        return self._got[cache_key]

    def listed(self, lookup: InParentList, parent: str) -> list[Mapping[str, Any]]:
        """Every object of the list under `parent`, read once per run."""
        if (lookup, parent) not in self._lists:
            self._lists[(lookup, parent)] = list(lookup.read_list(self.client.api.context, parent))
        return self._lists[(lookup, parent)]

    def all_listed(self, lookup: InParentList) -> Iterator[Mapping[str, Any]]:
        """Every object of every list read so far for `lookup`."""
        for (listed_by, _), objects in self._lists.items():
            if listed_by == lookup:
                yield from objects


@dataclass(frozen=True)
class Step:
    """What one record does."""

    operation: Operation
    key: Mapping[str, Any]
    action: Action
    changes: tuple[str, ...] = ()
    request: WriteRequest | None = None
    reason: str | None = None

    @property
    def writes(self) -> bool:
        return self.request is not None

    def describe(self) -> str:
        """`integrator_io_licenses connector_id=c1 email=a@b.c: update (expires, opts)`."""
        key = " ".join(f"{name}={value}" for name, value in self.key.items()) or "(no matching key)"
        what = self.action.value
        if self.changes:
            what += f" ({', '.join(self.changes)})"
        if self.reason:
            what += f": {self.reason}"
        return f"{self.operation.object_name} {key}: {what}"


@dataclass
class Planner:
    """Turns records into steps. A record planned earlier in the run is remembered as it will be once
    applied, so a repeated key plans against that (two identical records create once)."""

    config: DestinationConfig
    reads: Mapping[str, ApiReads]
    _expected: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    _validators: dict[tuple[str, str], Draft7Validator] = field(default_factory=dict)

    def plan(self, operation: Operation, record: Record) -> Step:
        reads = self.reads[operation.api]
        problem = self._invalid(operation, record)
        key_fields = next((key for key in operation.keys(self.config) if complete(record, key)), ())
        key = {name: record[name] for name in key_fields}
        if problem is None and not key_fields:
            keys = " or ".join("+".join(key) for key in operation.keys(self.config))
            problem = f"the record has no matching key: it needs {keys}"
        if problem is not None:
            return Step(operation, key, Action.REJECTED, reason=problem)
        written = self._with_extra_key(operation, record)
        remembered = (
            operation.object_name,
            json.dumps([(name, matching_value(name, value)) for name, value in sorted(key.items())]),
        )
        if remembered in self._expected:
            view = self._expected[remembered]
        else:
            found = operation.lookup.find(record, reads)
            view = operation.view(found) if found is not None else None
        record = written
        try:
            if operation.sync_mode == DestinationSyncMode.soft_delete:
                step = self._retire(operation, key, view, record)
                expected = {**(view or {}), "_retired": True}
            else:
                step = self._upsert(operation, key, view, record)
                expected = {**(view or {}), **record}
        except KeyError:  # the object is created earlier in this run: its id is not known yet
            return Step(
                operation,
                key,
                Action.REJECTED,
                reason="an earlier record of this run creates this object; write this change in the next run",
            )
        if step.writes:
            self._expected[remembered] = expected
        return step

    def _invalid(self, operation: Operation, record: Record) -> str | None:
        cache_key = (operation.object_name, operation.sync_mode.value)
        if cache_key not in self._validators:
            self._validators[cache_key] = Draft7Validator(operation.schema(self.config))
        errors = sorted(self._validators[cache_key].iter_errors(record), key=lambda error: list(error.path))
        if not errors:
            return None
        where = ".".join(str(part) for part in errors[0].absolute_path) or "the record"
        return f"{where}: {errors[0].message}"

    def _with_extra_key(self, operation: Operation, record: Record) -> Record:
        extra = operation.extra_key(self.config)
        if not extra or record.get(extra) in (None, ""):
            return record
        metadata = {**(record.get("metadata") or {}), extra: str(record[extra])}
        return {**{name: value for name, value in record.items() if name != extra}, "metadata": metadata}

    def _retire(
        self, operation: Operation, key: Mapping[str, Any], view: Mapping[str, Any] | None, record: Record
    ) -> Step:
        if view is None:
            return Step(operation, key, Action.UNCHANGED, reason="not found, nothing to retire")
        if view.get("_retired") or operation.is_retired(view):
            return Step(operation, key, Action.UNCHANGED, reason=f"already {operation.retire_action.past}")
        call, action = operation.retire, operation.retire_action
        if operation.delete is not None and operation.deletes(self.config):
            call, action = operation.delete, Action.DELETE
        assert call is not None, f"{operation.object_name} soft_delete declares no retire call"
        return Step(
            operation, key, action, request=self._request(operation, call, action, key, record, view, ())
        )

    def _upsert(
        self, operation: Operation, key: Mapping[str, Any], view: Mapping[str, Any] | None, record: Record
    ) -> Step:
        if view is None:
            forbidden = [name for name in operation.create_forbids if name in key]
            if forbidden or operation.create is None:
                return Step(
                    operation,
                    key,
                    Action.REJECTED,
                    reason="no such object, and this operation cannot create one with this key",
                )
            missing = [name for name in operation.create_requires if record.get(name) in (None, "")]
            if missing:
                return Step(operation, key, Action.REJECTED, reason=f"creating needs {', '.join(missing)}")
            request = self._request(operation, operation.create, Action.CREATE, key, record, None, ())
            return Step(operation, key, Action.CREATE, request=request)
        refusal = operation.refuse(view, record)
        if refusal is not None:
            return Step(operation, key, Action.REJECTED, reason=refusal)
        properties = operation.properties
        changes = tuple(
            name
            for name in properties
            if name in record and name not in key and differs(properties[name], view.get(name), record[name])
        )
        fixed = [name for name in changes if name not in operation.updatable]
        if fixed:
            return Step(
                operation,
                key,
                Action.REJECTED,
                changes=tuple(fixed),
                reason=f"{', '.join(fixed)} cannot be changed once the object exists",
            )
        if not changes:
            return Step(operation, key, Action.UNCHANGED)
        assert operation.update is not None
        request = self._request(operation, operation.update, Action.UPDATE, key, record, view, changes)
        return Step(operation, key, Action.UPDATE, changes=changes, request=request)

    def _request(
        self,
        operation: Operation,
        call: Call,
        action: Action,
        key: Mapping[str, Any],
        record: Record,
        view: Mapping[str, Any] | None,
        changes: tuple[str, ...],
    ) -> WriteRequest:
        body = call.body(record, view, changes) if call.body is not None else None
        path = fill(call.path, {**record, **(view or {})})
        idempotency_key = None
        if call.method == "POST":
            # The same record, against the same current values, always gets the same key: a repeated
            # create or update (a retry, or a rerun within the API's 24 hours) is replayed, never applied
            # twice. The values it changes from are part of it, so a later change back is a new request.
            before = {name: (view or {}).get(name) for name in changes}
            material = [operation.object_name, action.value, dict(key), body, before]
            digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
            idempotency_key = IDEMPOTENCY_PREFIX + digest
        return WriteRequest(call.method, path, body, idempotency_key)


def differs(schema: Mapping[str, Any], current: Any, wanted: Any) -> bool:
    """Whether a record's value differs from the object's: instants compared as instants, dates by their
    day, metadata key by key (keys the record leaves out are left alone), everything else as JSON values."""
    if schema.get("format") == "date-time" and current and wanted:
        return bool(_instant(current) != _instant(wanted))
    if schema.get("format") == "date" and current and wanted:
        return str(current)[:10] != str(wanted)[:10]  # Orb shows a license's dates as instants
    if isinstance(wanted, Mapping) and "additionalProperties" in schema:
        current = current or {}
        return any(
            (str(value) if value is not None else None) != current.get(name) for name, value in wanted.items()
        )
    return bool(current != wanted)


def _instant(value: Any) -> Any:
    try:
        parsed = pendulum.parse(str(value))
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        return value
    return parsed.in_tz("UTC") if isinstance(parsed, pendulum.DateTime) else value


def guard_problems(steps: list[Step], reads: Mapping[str, ApiReads], config: DestinationConfig) -> list[str]:
    """Per object, the expiries or cancellations above `max_retire_share` of the objects that exist."""
    problems = []
    retiring: dict[str, tuple[Operation, int]] = {}
    for step in steps:
        if step.action in RETIRING:
            operation, count = retiring.get(step.operation.object_name, (step.operation, 0))
            retiring[step.operation.object_name] = (operation, count + 1)
    for name, (operation, count) in retiring.items():
        census = operation.census
        existing = census.count(reads[operation.api]) if census is not None else count
        if count > config.max_retire_share * existing:
            share = count / existing if existing else 1.0
            problems.append(
                f"{name}: this run would {operation.retire_action.value} {count} of {existing} existing "
                f"({share:.0%}), more than `max_retire_share` allows ({config.max_retire_share:.0%})"
            )
    return problems
