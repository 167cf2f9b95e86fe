"""In-memory stores of resources (users, and groups in groups.py), safe under concurrent requests.

One lock per store guards every read-modify-write, so a check-then-write (uniqueness, If-Match, PATCH)
is atomic. Resources are kept in insertion order for stable paging; an index on the name that must be unique
(a user's userName as PRECIS compares it, precis.username_key: width-mapped, case-folded, NFC; RFC 7644 §5,
https://www.rfc-editor.org/rfc/rfc7644#section-5) makes lookups and uniqueness checks O(1), and the filter index
(filter.Index) answers every other filter without a scan. Guests live apart and are never returned.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, Protocol

from .attributes import USER, ResourceType
from .errors import ScimError, not_found, uniqueness
from .filter import Filter, Index, Scope, equality
from .precis import username_key
from .tenant import Guest


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class TableIndex(Protocol):
    """What a table keeps in step with its writes: `filter.Index`, and a group's memberships (groups.Memberships)."""

    def add(self, resource_id: str, resource: dict) -> None: ...

    def remove(self, resource_id: str) -> None: ...


class _Table(dict):
    """The stored resources by id, with their filter index (and any other `indexes`) kept in step with every
    `table[id] = resource`, `del table[id]` and `table.pop(id)`: the store's writes and those of faults that edit
    the users' table directly (faults.py) alike.

    The index keeps the values a resource had when stored. The store replaces a resource rather than change it; the
    one fault that edits a stored user in place (null-stored-as-empty-string) writes "", which filters read as
    unassigned, as the index has it."""

    def __init__(self, resource_type: ResourceType, indexes: Iterable[TableIndex] = ()) -> None:
        super().__init__()
        self.index = Index(resource_type)
        self._indexes = (self.index, *indexes)

    def __setitem__(self, resource_id: str, resource: dict) -> None:
        if resource_id in self:
            for index in self._indexes:
                index.remove(resource_id)
        for index in self._indexes:
            index.add(resource_id, resource)
        super().__setitem__(resource_id, resource)

    def __delitem__(self, resource_id: str) -> None:
        super().__delitem__(resource_id)
        for index in self._indexes:
            index.remove(resource_id)

    def pop(self, resource_id: str, *default: dict) -> dict:
        for index in self._indexes:
            index.remove(resource_id)
        return super().pop(resource_id, *default)

    def matching(self, flt: Filter) -> set[str]:
        """The ids of the resources `flt` matches: the index answers for the ones it holds, `Filter.matches` for
        the irregular rest (a value of the wrong type, which only faults store)."""
        found = flt.select(Scope(self.index))
        return found | {i for i in self.index.irregular if flt.matches(self[i])} if self.index.irregular else found


class ResourceStore:
    """The resources of one type, in insertion order, their `unique` attribute unique as `key` compares it.

    Subclasses refine `_prepare` (a resource about to be stored, checked and made canonical under the lock) and
    `_outgoing` (the copy a caller gets)."""

    def __init__(self, resource_type: ResourceType, unique: str, key: Callable[[str], Any],
                 indexes: Iterable[TableIndex] = ()):
        self.resource_type = resource_type
        self.unique = unique
        self.key = key  # the unique-name index key: uniqueness and lookups compare as it does
        self._lock = threading.RLock()
        self._resources = _Table(resource_type, indexes)
        self._order: list[str] = []
        self._by_name: dict[Any, str] = {}
        self._versions = itertools.count(1)

    def __len__(self) -> int:
        return len(self._resources)

    def _stamp(self, resource: dict, created: str | None = None) -> None:
        stamp = now()
        resource["meta"] = {
            "resourceType": self.resource_type.name,
            "created": created or stamp,
            "lastModified": stamp,
            "version": f'W/"{next(self._versions)}"',
        }

    @staticmethod
    def _unchanged(updated: dict, current: dict) -> bool:
        """Whether an update leaves every attribute as it was (what the store assigns, id and meta, aside)."""
        def attributes(resource: dict) -> dict:
            return {k: v for k, v in resource.items() if k not in ("id", "meta")}
        return attributes(updated) == attributes(current)

    def _claim(self, name: str, owner: str | None) -> None:
        holder = self._by_name.get(self.key(name))
        if holder is not None and holder != owner:
            raise uniqueness(f"{self.unique} '{name}' is already taken")

    def _prepare(self, resource: dict, current: dict | None) -> dict:
        """A resource about to be created (`current` None) or to replace `current`, as it is to be stored."""
        return resource

    def _outgoing(self, resource: dict) -> dict:
        """What a caller gets of a stored resource: a copy it may change."""
        return copy.deepcopy(resource)

    def new_id(self, resource: dict) -> str:
        """The id of a resource being created: random, never derived from its values, so never one a deleted
        resource had (RFC 7643 §3.1: «a stable, non-reassignable identifier»)."""
        return str(uuid.uuid4())

    def create(self, resource: dict) -> dict:
        """Store a new resource under a fresh id; 409 uniqueness when its unique name is taken."""
        with self._lock:
            stored = self._prepare(copy.deepcopy(resource), None)
            self._claim(stored[self.unique], None)
            stored["id"] = self.new_id(stored)
            self._stamp(stored)
            self._resources[stored["id"]] = stored
            self._order.append(stored["id"])
            self._by_name[self.key(stored[self.unique])] = stored["id"]
            return self._outgoing(stored)

    def get(self, resource_id: str) -> dict:
        with self._lock:
            return self._outgoing(self._require(resource_id))

    def _require(self, resource_id: str) -> dict:
        resource = self._resources.get(resource_id)
        if resource is None:
            raise not_found(resource_id)
        return resource

    @staticmethod
    def _check_version(resource: dict, if_match: str | None) -> None:
        if if_match is None:
            return
        wanted = {tag.strip() for tag in if_match.split(",")}
        if "*" not in wanted and resource["meta"]["version"] not in wanted:
            raise ScimError(412, f"Version mismatch: the resource is at {resource['meta']['version']}")

    def update(self, resource_id: str, change: Callable[[dict], dict], if_match: str | None = None) -> dict:
        """Atomically replace a resource by `change(current copy)`; id, created and index follow. A change that
        leaves every attribute as it was keeps meta (lastModified, version): RFC 7644 §3.5.2.1, an add of a
        value already there «SHALL NOT change the modify timestamp of the resource»."""
        with self._lock:
            current = self._require(resource_id)
            self._check_version(current, if_match)
            updated = self._prepare(change(copy.deepcopy(current)), current)
            self._claim(updated[self.unique], resource_id)
            updated["id"] = resource_id
            if self._unchanged(updated, current):
                updated["meta"] = copy.deepcopy(current["meta"])
            else:
                self._stamp(updated, created=current["meta"]["created"])
            del self._by_name[self.key(current[self.unique])]
            self._by_name[self.key(updated[self.unique])] = resource_id
            self._resources[resource_id] = updated
            return self._outgoing(updated)

    def delete(self, resource_id: str, if_match: str | None = None) -> None:
        with self._lock:
            current = self._require(resource_id)
            self._check_version(current, if_match)
            del self._resources[resource_id]
            del self._by_name[self.key(current[self.unique])]
            self._order.remove(resource_id)

    def query(self, flt: Filter | None, start_index: int, count: int) -> tuple[int, list[dict]]:
        """(totalResults, the page) for a 1-based start index; stable insertion order.

        Every match is counted (totalResults is exact, RFC 7644 §3.4.2), but only the page is copied: the ids
        matched come from the unique-name index (`userName eq`, `displayName eq`) or the filter index as a set, and
        the page is the first ones of them in insertion order.
        """
        first = start_index - 1
        with self._lock:
            if flt is None:
                ids = self._order[first : first + count]
                return len(self._order), [self._outgoing(self._resources[i]) for i in ids]
            wanted = equality(flt, self.resource_type.schema, self.unique)
            if wanted is not None:  # at most one resource, and the filter still applies to it
                resource_id = self._by_name.get(self.key(wanted))
                found = [resource_id] if resource_id and flt.matches(self._resources[resource_id]) else []
                return len(found), [self._outgoing(self._resources[i]) for i in found[first : first + count]]
            matched = self._resources.matching(flt)
            page = itertools.islice(filter(matched.__contains__, self._order), first, first + count)
            return len(matched), [self._outgoing(self._resources[i]) for i in page]


class UserStore(ResourceStore):
    """The users: userName unique as PRECIS compares it; the tenant's guests apart, never stored."""

    def __init__(self, guests: Iterable[Guest] = ()):
        super().__init__(USER, "userName", username_key)
        self.guests = {g.id: g for g in guests}

    # The names faults.py and the tests edit the users' table and userName index by.
    @property
    def _users(self) -> _Table:
        return self._resources

    @property
    def _by_user_name(self) -> dict[Any, str]:
        return self._by_name

    @_by_user_name.setter
    def _by_user_name(self, names: dict[Any, str]) -> None:
        self._by_name = names
