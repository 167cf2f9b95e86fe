"""Cleanup: every user and group the run created is deleted at the end, also after failures and on Ctrl-C.

The client reports every successful POST /Users or /Groups (including negative checks the target wrongly
accepted) and every successful DELETE, so each (resource type, id) is tracked exactly once and deleted once.
Groups go first (resources.REMOVAL_ORDER), so no user is held by a group it belongs to. `remove_user` is
how one user goes (DELETE, else deactivation), `remove_group` how one group goes (DELETE, else its members
are taken out and it is reported left): the tracker uses them at the end of a run, `scimcert sweep`
(scimcert/sweep.py) for the users of runs that never reached their end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import quote

from .client import Exchange, ScimClient
from .ledger import sent, user_name_of
from .resources import GROUP, REMOVAL_ORDER, USER, ResourceType, at

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ATTEMPTS, PAUSE = 5, 0.3  # a DELETE met by a 5xx or a dropped connection is tried again
DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
NO_MEMBERS = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}


@dataclass(frozen=True)
class Removal:
    """What became of one user: `outcome` is "deleted" (DELETE answered 200 or 204), "gone" (404: it
    was already gone), "deactivated" (DELETE answered 405 or 501 and the PATCH active false was
    accepted) or "left" (still there, still active as far as we know); `state` says it for people;
    `refused`: the target refused the connection, so no later request would fare better."""

    outcome: str
    state: str
    refused: bool = False

    @property
    def removed(self) -> bool:
        """Deleted, or already gone."""
        return self.outcome in ("deleted", "gone")


def _delete(client: ScimClient, path: str, label: str) -> Exchange:
    """DELETE `path`, tried again after a 5xx or no answer (ATTEMPTS in all, PAUSE apart) unless the target
    refused the connection."""
    for attempt in range(ATTEMPTS):
        gone = client.raw("DELETE", path, label=label)
        if gone.status is not None and gone.status < 500 or unreachable(gone):
            break
        if attempt + 1 < ATTEMPTS:
            time.sleep(PAUSE)
    return gone


def remove_user(client: ScimClient, user_id: str, *, label: str = "cleanup") -> Removal:
    """DELETE /Users/{id}; where DELETE is unsupported (405, 501), deactivate the user with a path-less
    PATCH replace of active false (as Okta deactivates). A DELETE that gets no
    answer or a 5xx is tried again (ATTEMPTS in all, PAUSE apart). Never raises."""
    gone = _delete(client, USER.path(user_id), label)
    if gone.status in (405, 501):
        patched = client.raw("PATCH", USER.path(user_id), label=f"{label} (deactivate)", body=DEACTIVATE)
        if patched.status in (200, 204):
            return Removal("deactivated", "deactivated (DELETE unsupported)")
        return Removal("left", "left active")
    return _after_delete(gone)


def remove_group(client: ScimClient, group_id: str, *, label: str = "cleanup") -> Removal:
    """DELETE /Groups/{id}; where the target does not delete groups (405, 501: Asana cannot delete a team,
    https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM),
    its members are removed (PATCH remove of members) and the group is reported left. Never raises."""
    gone = _delete(client, GROUP.path(group_id), label)
    if gone.status in (405, 501):
        emptied = client.raw("PATCH", GROUP.path(group_id), label=f"{label} (remove members)", body=NO_MEMBERS)
        return Removal("left", f"left: the target does not delete groups (DELETE answered {gone.status}); "
                               + ("its members were removed" if emptied.status in (200, 204)
                                  else f"removing its members answered {emptied.status or emptied.error}"))
    return _after_delete(gone)


def _after_delete(gone: Exchange) -> Removal:
    """What a DELETE's answer says of the resource: deleted (200, 204), already gone (404), or left."""
    if gone.status in (200, 204):
        return Removal("deleted", "deleted")
    if gone.status == 404:
        return Removal("gone", "already gone (DELETE answered 404)")
    return Removal("left", f"DELETE answered {gone.status or gone.error}", refused=unreachable(gone))


REMOVERS = {USER: remove_user, GROUP: remove_group}


def look_up(client: ScimClient, user_name: str, *, label: str) -> Exchange:
    """GET /Users?filter=userName eq "…", tried again after a 5xx (ATTEMPTS in all); a target that gives
    no answer is not asked again."""
    query = "filter=" + quote(f'userName eq "{user_name}"', safe="")
    answer = client.raw("GET", "/Users", query=query, label=label)
    for _ in range(ATTEMPTS - 1):
        if answer.status is None or answer.status < 500:
            break
        time.sleep(PAUSE)
        answer = client.raw("GET", "/Users", query=query, label=label)
    return answer


def named(answer: Exchange, user_name: str) -> list[dict]:
    """The users of a ListResponse whose userName is `user_name` (case-insensitively, as RFC 7643 §4.1.1
    compares it) and that have an id: whatever the filter returned is checked here."""
    found = answer.json.get("Resources") if answer.status == 200 and isinstance(answer.json, dict) else None
    return [user for user in found if isinstance(user, dict) and isinstance(user.get("userName"), str)
            and user["userName"].casefold() == user_name.casefold()
            and isinstance(user.get("id"), (str, int)) and not isinstance(user.get("id"), bool)] \
        if isinstance(found, list) else []


def unreachable(exchange: Exchange) -> bool:
    """The target refused the connection: nobody listens there, so no later request would fare better."""
    return exchange.status is None and "ConnectError" in (exchange.error or "")


def never_sent(exchange: Exchange) -> bool:
    """No connection was made (refused, or not made in time): the target cannot have seen the request."""
    return exchange.status is None and (exchange.error or "").startswith(("ConnectError", "ConnectTimeout"))


PROGRESS_EVERY = 5.0  # seconds between cleanup's progress lines
AT_ONCE = 8  # removals on the wire together (the run's --max-in-flight still holds: the client takes its turns)


@dataclass
class Tracker:
    created: dict[tuple[ResourceType, str], str] = field(default_factory=dict)  # (type, id) → name, in creation order
    unanswered: list[str] = field(default_factory=list)  # userNames of user creates sent that got no answer
    leftovers: list[dict] = field(default_factory=list)
    deleted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, exchange: Exchange) -> None:
        """Called by the client for every exchange: learns created and deleted users and groups, and the
        userNames of user creates that got no answer (a timeout or a reset may hide a user the target did
        create; a refused connection cannot). A group create without an answer is not looked up: no user
        waits on it, and its displayName carries the run's tag for `scimcert sweep`."""
        if exchange.status is None and exchange.is_users_create:
            user_name = user_name_of(exchange.request_body)
            if user_name and not never_sent(exchange):
                with self._lock:
                    self.unanswered.append(user_name)
            return
        if exchange.status is None or not 200 <= exchange.status < 300:
            if exchange.method == "DELETE" and exchange.status == 404:
                self._forget(exchange.url)
            return
        if exchange.created_id is not None:
            key = exchange.creates.key
            name = exchange.json.get(key) if isinstance(exchange.json, dict) else None
            with self._lock:
                self.created.setdefault((exchange.creates, exchange.created_id),
                                        str(name or sent(exchange.request_body, key) or ""))
        elif exchange.method == "DELETE":
            self._forget(exchange.url)

    def _leave(self, resource_type: ResourceType, resource_id: str | None, name: str, state: str) -> None:
        with self._lock:
            if resource_id is not None:
                self.created.pop((resource_type, resource_id), None)
            self.leftovers.append({"resourceType": resource_type.name, "id": resource_id, resource_type.key: name,
                                   "state": state})

    def _look_up(self, client: ScimClient, user_name: str) -> bool:
        """Track the user named `user_name` if the target has it (`look_up`). When no lookup answers, the
        user's fate is unknown: it is reported as a possible leftover. False when the target refused the
        connection (no later request would fare better)."""
        answer = look_up(client, user_name, label="cleanup (unanswered create)")
        if answer.status is None or answer.status >= 500:
            self._leave(USER, None, user_name, "possibly created: the create got no answer and the lookup answered "
                                               f"{answer.status or answer.error}")
            return not unreachable(answer)
        for user in named(answer, user_name):
            with self._lock:
                self.created.setdefault((USER, str(user["id"])), user["userName"])
        return True

    def _forget(self, url: str) -> None:
        addressed = at(url)
        if addressed is None or addressed[1] is None:
            return
        with self._lock:
            if self.created.pop(addressed, None) is not None:
                self.deleted += 1

    def clean(self, client: ScimClient, until: float | None = None,
              say: Callable[[str], None] = lambda line: None) -> None:
        """Remove every tracked group, then every tracked user (`remove_group`, `remove_user`), AT_ONCE of them
        on the wire together; record each one not deleted (deactivated or left) as a leftover with its state.
        User creates that got no answer are looked up by userName first. Once the target refuses a connection,
        or past `until` (time.monotonic()), the rest are recorded as leftovers without another request (those
        already on the wire finish). `say` gets a line when cleanup starts, every PROGRESS_EVERY seconds, and
        when it ends."""
        started = time.monotonic()
        if not self.created and not self.unanswered:
            return
        say(f"cleanup: removing {_counted(self.created)} the run created"
            + (f", after looking up {len(self.unanswered)} create(s) that got no answer" if self.unanswered else "")
            + (f" (bound {until - started:.3g} s)" if until is not None else ""))
        refused, deleted_before = False, self.deleted
        for user_name in self.unanswered:
            if refused:
                self._leave(USER, None, user_name, "possibly created: the create got no answer, and the target "
                                                   "refused connections before it could be looked up")
            else:
                refused = not self._look_up(client, user_name)
        tracked = list(self.created.items())
        progress = _Progress(len(tracked), say)
        for resource_type in REMOVAL_ORDER:  # every group is gone before the first user goes
            refused = self._remove(client, resource_type, [(key[1], name) for key, name in tracked
                                                           if key[0] is resource_type], until, refused, progress)
        say(f"cleanup: done in {time.monotonic() - started:.1f} s: {self.deleted - deleted_before} removed, "
            f"{len(self.leftovers)} left on the target" + (" (the target refused connections)" if refused else ""))

    def _remove(self, client: ScimClient, resource_type: ResourceType, batch: list[tuple[str, str]],
                until: float | None, refused: bool, progress: _Progress) -> bool:
        """Remove `batch` ((id, name) of one resource type), AT_ONCE at a time; whether the target refused a
        connection (then, as past `until`, what is not yet sent is left with why, without a request)."""
        waiting = iter(batch)
        with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            running: dict = {}
            while True:
                while len(running) < AT_ONCE and (item := next(waiting, None)) is not None:
                    resource_id, name = item
                    if until is not None and time.monotonic() > until:
                        self._leave(resource_type, resource_id, name, "not deleted: cleanup ran out of time")
                    elif refused:
                        self._leave(resource_type, resource_id, name, "not deleted: the target refused connections")
                    else:
                        running[pool.submit(REMOVERS[resource_type], client, resource_id, label="cleanup")] = item
                        continue
                    progress.step(len(self.leftovers))
                if not running:
                    return refused
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    resource_id, name = running.pop(future)
                    removal = future.result()
                    refused = refused or removal.refused
                    if not removal.removed:  # a removed one: observe() has seen the DELETE (or its 404) and forgot it
                        self._leave(resource_type, resource_id, name, removal.state)
                    progress.step(len(self.leftovers))


class _Progress:
    """Cleanup's progress line, at most every PROGRESS_EVERY seconds."""

    def __init__(self, total: int, say: Callable[[str], None]):
        self.total, self.say, self.done, self.shown = total, say, 0, time.monotonic()

    def step(self, left: int) -> None:
        self.done += 1
        if time.monotonic() - self.shown > PROGRESS_EVERY:
            self.shown = time.monotonic()
            self.say(f"cleanup: {self.done}/{self.total} handled, {left} left so far")


def _counted(created: dict[tuple[ResourceType, str], str]) -> str:
    """"3 user(s) and 1 group(s)": what is tracked, by resource type."""
    counts = {t: sum(1 for (kind, _) in created if kind is t) for t in REMOVAL_ORDER[::-1]}
    return " and ".join(f"{n} {t.name.lower()}(s)" for t, n in counts.items() if n) or "0 user(s)"
