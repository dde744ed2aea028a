"""In-memory collections with list order, cursor pagination and cached JSON bytes.

Speed matters here (the benchmark wants 1,000+ pages of 100 records a second), so:

- each object's JSON is serialised once and cached; the cache entry remembers which dict it was made
  from, so replacing the dict on update invalidates it without extra bookkeeping;
- list order is a sorted list of ``(primary, id)`` keys; a page is two bisects and a slice;
- mutations build new lists (copy-on-write), so readers never need a lock.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.wire import dumps

SortKey = tuple[int, str]
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Page:
    """One page of ids, in list order.

    Attributes:
        ids: The ids on this page.
        has_more: Whether more items exist beyond this page in the direction of travel.
    """

    ids: list[str]
    has_more: bool


class Collection:
    """All objects of one resource of one account.

    The sort key's primary part decides list order (ascending); seeders use ``-created`` for newest
    first, or a sequence number for child lists that keep insertion order (invoice lines).

    Args:
        name: Resource name, for error messages.
        id_field: The field holding each object's id (``_id`` for integrator.io).
    """

    def __init__(self, name: str, id_field: str = "id") -> None:
        self.name = name
        self.id_field = id_field
        self._objects: dict[str, JsonObject] = {}
        self._keys: dict[str, SortKey] = {}
        self._parents: dict[str, str] = {}
        self._order: list[SortKey] = []
        self._json: dict[str, tuple[JsonObject, bytes]] = {}
        self._rendered: dict[str, dict[str, tuple[JsonObject, bytes]]] = {}
        self._tombstones: dict[str, SortKey] = {}
        self._views: dict[Hashable, tuple[int, list[SortKey]]] = {}
        self._lock = threading.Lock()
        self.version = 0

    def __len__(self) -> int:
        return len(self._order)

    def load(self, items: Iterable[tuple[int, JsonObject, str | None]]) -> None:
        """Bulk-insert seed objects and sort once.

        Args:
            items: ``(primary, object, parent_id)`` triples; each object must have an id.
        """
        with self._lock:
            order = list(self._order)
            for primary, obj, parent in items:
                object_id = obj[self.id_field]
                key = (primary, object_id)
                self._objects[object_id] = obj
                self._keys[object_id] = key
                if parent is not None:
                    self._parents[object_id] = parent
                order.append(key)
            order.sort()
            self._order = order
            self.version += 1

    def insert(self, primary: int, obj: JsonObject, parent: str | None = None) -> None:
        """Insert one object at its place in list order.

        Args:
            primary: Primary sort value.
            obj: The object (with ``id``).
            parent: Parent id for child resources.
        """
        self.load([(primary, obj, parent)])

    def replace(self, obj: JsonObject) -> JsonObject:
        """Replace a stored object by a new dict with the same id (list position is kept).

        Args:
            obj: The new object.

        Returns:
            The previous object.

        Raises:
            KeyError: If no object has that id.
        """
        with self._lock:
            previous = self._objects[obj[self.id_field]]
            self._objects[obj[self.id_field]] = obj
            self.version += 1
            return previous

    def remove(self, object_id: str) -> JsonObject:
        """Delete an object; its sort key is remembered so cursors pointing at it keep working.

        Args:
            object_id: The id to delete.

        Returns:
            The deleted object.

        Raises:
            KeyError: If no object has that id.
        """
        with self._lock:
            obj = self._objects.pop(object_id)
            key = self._keys.pop(object_id)
            self._tombstones[object_id] = key
            self._parents.pop(object_id, None)
            self._json.pop(object_id, None)
            for rendered in self._rendered.values():
                rendered.pop(object_id, None)
            order = list(self._order)
            del order[bisect.bisect_left(order, key)]
            self._order = order
            self.version += 1
            return obj

    def get(self, object_id: str) -> JsonObject | None:
        """Return the object with that id, or None."""
        return self._objects.get(object_id)

    def parent_of(self, object_id: str) -> str | None:
        """Return the parent id of a child object, or None."""
        return self._parents.get(object_id)

    def key_of(self, object_id: str) -> SortKey | None:
        """Return the sort key of a live or deleted object, or None if it never existed."""
        return self._keys.get(object_id) or self._tombstones.get(object_id)

    def was_deleted(self, object_id: str) -> bool:
        """Whether the id belonged to an object that has been deleted."""
        return object_id in self._tombstones

    def json_of(self, object_id: str) -> bytes:
        """Return the object's JSON bytes, serialising at most once per version of the object."""
        obj = self._objects[object_id]
        cached = self._json.get(object_id)
        if cached is not None and cached[0] is obj:
            return cached[1]
        data = dumps(obj)
        self._json[object_id] = (obj, data)
        return data

    def rendered_json_of(
        self, object_id: str, variant: str, render: Callable[[JsonObject], JsonObject]
    ) -> bytes:
        """Like ``json_of`` for one rendering of the object (an API version's shape), cached per variant."""
        obj = self._objects[object_id]
        rendered = self._rendered.setdefault(variant, {})
        cached = rendered.get(object_id)
        if cached is not None and cached[0] is obj:
            return cached[1]
        data = dumps(render(obj))
        rendered[object_id] = (obj, data)
        return data

    def order(self) -> list[SortKey]:
        """All sort keys in list order (a snapshot: never mutated in place)."""
        return self._order

    def objects(self) -> Iterator[JsonObject]:
        """Iterate over all objects in list order."""
        objects = self._objects
        for _, object_id in self._order:
            obj = objects.get(object_id)
            if obj is not None:
                yield obj

    def view(
        self, spec: Hashable, predicate: Callable[[str, JsonObject], bool], parent: str | None = None
    ) -> list[SortKey]:
        """Return the keys of the objects that match a predicate, cached until the next mutation.

        Args:
            spec: A hashable description of the filter (the cache key; it must name ``parent``).
            predicate: Called with ``(id, object)``.
            parent: Only this parent's children are candidates (only they are scanned).

        Returns:
            Matching keys in list order.
        """
        cached = self._views.get(spec)
        version = self.version
        if cached is not None and cached[0] == version:
            return cached[1]
        objects = self._objects
        candidates = self._order if parent is None else self.children(parent)
        keys = [key for key in candidates if predicate(key[1], objects[key[1]])]
        if len(self._views) > 20000:
            # Bound memory when clients filter by many distinct values (e.g. every customer id).
            self._views.clear()
        self._views[spec] = (version, keys)
        return keys

    def children(self, parent_id: str) -> list[SortKey]:
        """Keys of the children of one parent, in list order."""
        parents = self._parents
        return self.view(
            ("__parent__", parent_id), lambda object_id, _obj: parents.get(object_id) == parent_id
        )


def path_value(obj: JsonObject, path: str) -> Any:
    """The value at a dotted path (``customer.id``); None where a step is missing or not an object."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def encode_token(value: Any) -> str:
    """A cursor or page token: ``value`` as JSON in URL-safe base64 without padding (opaque to clients)."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_token(token: str) -> Any:
    """The value of an ``encode_token`` token; ``ValueError`` (``binascii.Error`` is one) when the text is
    not base64 JSON. Callers check the value's shape."""
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def paginate(
    order: list[SortKey],
    limit: int,
    *,
    primary_min: int | None = None,
    primary_max: int | None = None,
    after: SortKey | None = None,
    before: SortKey | None = None,
) -> Page:
    """Cut one page out of a sorted key list.

    Cursors are sort keys rather than positions, so inserts and deletes between two requests never make
    a client skip or repeat an item (the way real cursor pagination behaves).

    Args:
        order: Keys in list order.
        limit: Page size.
        primary_min: Smallest primary value to include (inclusive).
        primary_max: Largest primary value to include (inclusive).
        after: Return items strictly after this key (``starting_after``).
        before: Return the items just before this key (``ending_before``), still in list order.

    Returns:
        The page; ``has_more`` looks forward for ``after``/no cursor and backward for ``before``.
    """
    start = 0 if primary_min is None else bisect.bisect_left(order, (primary_min, ""))
    end = len(order) if primary_max is None else bisect.bisect_left(order, (primary_max + 1, ""))
    if after is not None:
        start = max(start, bisect.bisect_right(order, after))
    if before is not None:
        end = min(end, bisect.bisect_left(order, before))
        first = max(start, end - limit)
        return Page(ids=[key[1] for key in order[first:end]], has_more=first > start)
    stop = min(end, start + limit)
    return Page(ids=[key[1] for key in order[start:stop]], has_more=stop < end)
