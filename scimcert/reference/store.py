"""In-memory user store, safe under concurrent requests.

One lock guards every read-modify-write, so a check-then-write (uniqueness, If-Match, PATCH)
is atomic. Users are kept in insertion order for stable paging; an index on the userName as PRECIS
compares it (precis.username_key: width-mapped, case-folded, NFC; RFC 7644 §5) makes lookups and
uniqueness checks O(1), and the filter index (filter.Index) answers every other filter without a
scan. Guests live apart and are never returned.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from .errors import ScimError, not_found, uniqueness
from .filter import Filter, Index, Scope, username_equality
from .precis import username_key
from .tenant import Guest


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Users(dict):
    """The stored users by id, with their filter index kept in step with every `users[id] = user`, `del users[id]`
    and `users.pop(id)`: the store's writes and those of faults that edit the table directly (faults.py) alike.

    The index keeps the values a user had when stored. The store replaces a user rather than change it; the one
    fault that edits a stored user in place (null-stored-as-empty-string) writes "", which filters read as
    unassigned, as the index has it."""

    def __init__(self) -> None:
        super().__init__()
        self.index = Index()

    def __setitem__(self, user_id: str, user: dict) -> None:
        if user_id in self:
            self.index.remove(user_id)
        self.index.add(user_id, user)
        super().__setitem__(user_id, user)

    def __delitem__(self, user_id: str) -> None:
        super().__delitem__(user_id)
        self.index.remove(user_id)

    def pop(self, user_id: str, *default: dict) -> dict:
        self.index.remove(user_id)
        return super().pop(user_id, *default)

    def matching(self, flt: Filter) -> set[str]:
        """The ids of the users `flt` matches: the index answers for the users it holds, `Filter.matches` for
        the irregular rest (a value of the wrong type, which only faults store)."""
        found = flt.select(Scope(self.index))
        return found | {i for i in self.index.irregular if flt.matches(self[i])} if self.index.irregular else found


class UserStore:
    def __init__(self, guests: Iterable[Guest] = ()):
        self._lock = threading.Lock()
        self._users = _Users()
        self._order: list[str] = []
        self._by_user_name: dict[str, str] = {}
        self._versions = itertools.count(1)
        self.guests = {g.id: g for g in guests}
        self.key = username_key  # userName index key: uniqueness and lookups compare as PRECIS does

    def __len__(self) -> int:
        return len(self._users)

    def _stamp(self, user: dict, created: str | None = None) -> None:
        stamp = now()
        user["meta"] = {
            "resourceType": "User",
            "created": created or stamp,
            "lastModified": stamp,
            "version": f'W/"{next(self._versions)}"',
        }

    @staticmethod
    def _unchanged(updated: dict, current: dict) -> bool:
        """Whether an update leaves every attribute as it was (what the store assigns, id and meta, aside)."""
        def attributes(user: dict) -> dict:
            return {k: v for k, v in user.items() if k not in ("id", "meta")}
        return attributes(updated) == attributes(current)

    def _claim(self, user_name: str, owner: str | None) -> None:
        holder = self._by_user_name.get(self.key(user_name))
        if holder is not None and holder != owner:
            raise uniqueness(f"userName '{user_name}' is already taken")

    def new_id(self, user: dict) -> str:
        """The id of a user being created: random, never derived from its values, so never one a deleted
        user had (RFC 7643 §3.1: «a stable, non-reassignable identifier»)."""
        return str(uuid.uuid4())

    def create(self, user: dict) -> dict:
        """Store a new user under a fresh id; 409 uniqueness when the userName is taken."""
        with self._lock:
            self._claim(user["userName"], None)
            stored = copy.deepcopy(user)
            stored["id"] = self.new_id(stored)
            self._stamp(stored)
            self._users[stored["id"]] = stored
            self._order.append(stored["id"])
            self._by_user_name[self.key(stored["userName"])] = stored["id"]
            return copy.deepcopy(stored)

    def get(self, user_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._require(user_id))

    def _require(self, user_id: str) -> dict:
        user = self._users.get(user_id)
        if user is None:
            raise not_found(user_id)
        return user

    @staticmethod
    def _check_version(user: dict, if_match: str | None) -> None:
        if if_match is None:
            return
        wanted = {tag.strip() for tag in if_match.split(",")}
        if "*" not in wanted and user["meta"]["version"] not in wanted:
            raise ScimError(412, f"Version mismatch: the resource is at {user['meta']['version']}")

    def update(self, user_id: str, change: Callable[[dict], dict], if_match: str | None = None) -> dict:
        """Atomically replace a user by `change(current copy)`; id, created and index follow. A change that
        leaves every attribute as it was keeps meta (lastModified, version): RFC 7644 §3.5.2.1, an add of a
        value already there «SHALL NOT change the modify timestamp of the resource»."""
        with self._lock:
            current = self._require(user_id)
            self._check_version(current, if_match)
            updated = change(copy.deepcopy(current))
            self._claim(updated["userName"], user_id)
            updated["id"] = user_id
            if self._unchanged(updated, current):
                updated["meta"] = copy.deepcopy(current["meta"])
            else:
                self._stamp(updated, created=current["meta"]["created"])
            del self._by_user_name[self.key(current["userName"])]
            self._by_user_name[self.key(updated["userName"])] = user_id
            self._users[user_id] = updated
            return copy.deepcopy(updated)

    def delete(self, user_id: str, if_match: str | None = None) -> None:
        with self._lock:
            current = self._require(user_id)
            self._check_version(current, if_match)
            del self._users[user_id]
            del self._by_user_name[self.key(current["userName"])]
            self._order.remove(user_id)

    def query(self, flt: Filter | None, start_index: int, count: int) -> tuple[int, list[dict]]:
        """(totalResults, the page) for a 1-based start index; stable insertion order.

        Every match is counted (totalResults is exact, RFC 7644 §3.4.2), but only the page is copied: the ids
        matched come from the userName index or the filter index as a set, and the page is the first ones of
        them in insertion order.
        """
        first = start_index - 1
        with self._lock:
            if flt is None:
                ids = self._order[first : first + count]
                return len(self._order), [copy.deepcopy(self._users[i]) for i in ids]
            wanted = username_equality(flt)
            if wanted is not None:  # at most one user, and the filter still applies to it
                user_id = self._by_user_name.get(self.key(wanted))
                found = [user_id] if user_id and flt.matches(self._users[user_id]) else []
                return len(found), [copy.deepcopy(self._users[i]) for i in found[first : first + count]]
            matched = self._users.matching(flt)
            page = itertools.islice(filter(matched.__contains__, self._order), first, first + count)
            return len(matched), [copy.deepcopy(self._users[i]) for i in page]
