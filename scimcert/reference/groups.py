"""Groups (Asana teams) and their members, kept consistent with the users.

A group (RFC 7643 §4.2, https://www.rfc-editor.org/rfc/rfc7643#section-4.2) has a displayName, unique in the
organization compared without case (casefold), and members: users only, stored by id. A member must be a user of
the user store: not a guest (guests are outside SCIM, https://developers.asana.com/docs/scim) and not a group (no
nested teams); a request naming anything else changes nothing (400 invalidValue). Duplicates collapse to one. The
members' `display` is each user's displayName, else its userName, as of now; a user's `groups` lists the groups it is
a direct member of, in the order they were created.

The group store's lock is the membership lock. Whatever reads or writes users and groups together holds it: a group
write checking its members against the users, a user read with its groups, a user write whose name its groups show,
a user deletion that takes the user out of every group. It is always taken before the user store's own lock, never
after, so the two cannot deadlock. The users are reached through a function (the user store the server state holds
now: a fault may swap it after the groups are built), by `get` and `guests` only.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from .attributes import GROUP
from .errors import ScimError, invalid_value
from .store import ResourceStore


def member_ids(group: dict) -> list[str]:
    """The ids of a stored (canonical) group's members, in order."""
    return [member["value"] for member in group.get("members", ())]


def display_name(user: dict) -> str | None:
    """What a group shows for its member: the user's displayName, else its userName."""
    return user.get("displayName") or user.get("userName") or None


class Memberships:
    """Which groups each user is a member of (user id → group ids): an index the groups' table keeps in step with
    every write, as it does the filter index (store.TableIndex)."""

    def __init__(self) -> None:
        self.groups_of: dict[str, set[str]] = {}
        self._members: dict[str, list[str]] = {}  # group id → its member ids as indexed, to remove them

    def add(self, group_id: str, group: dict) -> None:
        members = self._members[group_id] = member_ids(group)
        for user_id in members:
            self.groups_of.setdefault(user_id, set()).add(group_id)

    def remove(self, group_id: str) -> None:
        for user_id in self._members.pop(group_id, ()):
            groups = self.groups_of[user_id]
            groups.discard(group_id)
            if not groups:
                del self.groups_of[user_id]


class GroupStore(ResourceStore):
    """The groups, in insertion order; `users()` gives the user store their members belong to. Members are exempt
    from the tenant's maxValues (a team may have thousands) and capped at `max_members` instead."""

    def __init__(self, users: Callable[[], Any], max_members: int):
        self.memberships = Memberships()
        super().__init__(GROUP, "displayName", str.casefold, (self.memberships,))
        self.users = users
        self.max_members = max_members
        self._names: dict[str, str | None] = {}  # user id → what its groups show for it (display_name), for members

    @property
    def lock(self) -> threading.RLock:
        """The membership lock (see the module docstring); re-entrant, so the store's own methods take it too."""
        return self._lock

    def _prepare(self, group: dict, current: dict | None) -> dict:
        """A group about to be stored: displayName present; members each a user, named once, at most max_members;
        stored as {"value": id} (whatever else a client sent for a member is the server's to say)."""
        name = group.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise invalid_value("displayName is required: every group (team) needs a name")
        values = []
        for member in group.get("members", ()):
            value = member.get("value") if isinstance(member, dict) else None
            if not isinstance(value, str):
                raise invalid_value("Each member needs a value: the id of a user")
            values.append(value)
        values = list(dict.fromkeys(values))
        if len(values) > self.max_members:
            raise invalid_value(f"A group may have at most {self.max_members} members; this one would have {len(values)}")
        self._admit(values)
        if values:
            group["members"] = [{"value": value} for value in values]
        else:
            group.pop("members", None)
        return group

    def _admit(self, values: list[str]) -> None:
        """400 invalidValue unless every id is a user's; a member of some group already is one (a deleted user leaves
        its groups). Notes the display of each user newly a member."""
        users, names = self.users(), {}
        for value in values:
            if value in self.memberships.groups_of:
                continue
            shown = value[:80]
            if value in users.guests:
                raise invalid_value(f"Member '{shown}' is a guest: guests are outside SCIM and cannot be members")
            if value in self._resources:
                raise invalid_value(f"Member '{shown}' is a group: the members of a group are users")
            try:
                names[value] = display_name(users.get(value))
            except ScimError:
                raise invalid_value(f"Member '{shown}' is not the id of a user") from None
        self._names.update(names)

    def _outgoing(self, group: dict) -> dict:
        """A copy of a stored group whose members show their user's name; the member dicts are new, so the rest
        is what needs copying."""
        return {key: [self._member(m["value"]) for m in value] if key == "members" else copy.deepcopy(value)
                for key, value in group.items()}

    def _member(self, user_id: str) -> dict:
        name = self._names.get(user_id)
        return {"value": user_id, "display": name} if name else {"value": user_id}

    def with_groups(self, users: list[dict]) -> list[dict]:
        """Each user, as just read or written from the user store under this lock, given its readOnly `groups`
        (RFC 7643 §4.1.2): {"value", "display"} of the groups it is a member of, in the groups' insertion order;
        none, no key. Being the user's latest version, it also renews the name its groups show for it."""
        with self._lock:
            order: dict[str, int] = {}
            for user in users:
                group_ids = self.memberships.groups_of.get(user["id"])
                if not group_ids:
                    continue
                self._names[user["id"]] = display_name(user)
                order = order or {group_id: n for n, group_id in enumerate(self._order)}
                user["groups"] = [{"value": group_id, "display": self._resources[group_id]["displayName"]}
                                  for group_id in sorted(group_ids, key=order.__getitem__)]
            return users

    def remove_member(self, user_id: str) -> None:
        """Take a deleted user out of every group it was in; each of them changes (meta.version, lastModified)."""
        with self._lock:
            for group_id in list(self.memberships.groups_of.get(user_id, ())):
                self.update(group_id, lambda group: {**group, "members": [
                    member for member in group["members"] if member["value"] != user_id]})
            self._names.pop(user_id, None)
