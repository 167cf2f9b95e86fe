"""Cleanup: every user the run created is deleted at the end, also after failures and on Ctrl-C.

The client reports every successful POST /Users (including negative checks the target wrongly
accepted) and every successful DELETE, so each id is tracked exactly once and deleted once.
`remove_user` is how one user goes (DELETE, else deactivation): the tracker uses it at the end of a
run, `scimcert sweep` (scimcert/sweep.py) for the users of runs that never reached their end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from .client import Exchange, ScimClient
from .ledger import user_name_of

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ATTEMPTS, PAUSE = 5, 0.3  # a DELETE met by a 5xx or a dropped connection is tried again
DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}


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


def remove_user(client: ScimClient, user_id: str, *, label: str = "cleanup") -> Removal:
    """DELETE /Users/{id}; where DELETE is unsupported (405, 501), deactivate the user with a path-less
    PATCH replace of active false (as Okta deactivates). A DELETE that gets no
    answer or a 5xx is tried again (ATTEMPTS in all, PAUSE apart). Never raises."""
    for attempt in range(ATTEMPTS):
        gone = client.raw("DELETE", f"/Users/{user_id}", label=label)
        if gone.status is not None and gone.status < 500 or unreachable(gone):
            break
        if attempt + 1 < ATTEMPTS:
            time.sleep(PAUSE)
    if gone.status in (200, 204):
        return Removal("deleted", "deleted")
    if gone.status == 404:
        return Removal("gone", "already gone (DELETE answered 404)")
    if gone.status in (405, 501):
        patched = client.raw("PATCH", f"/Users/{user_id}", label=f"{label} (deactivate)", body=DEACTIVATE)
        if patched.status in (200, 204):
            return Removal("deactivated", "deactivated (DELETE unsupported)")
        return Removal("left", "left active")
    return Removal("left", f"DELETE answered {gone.status or gone.error}", refused=unreachable(gone))


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


@dataclass
class Tracker:
    created: dict[str, str] = field(default_factory=dict)  # id → userName, in creation order
    unanswered: list[str] = field(default_factory=list)  # userNames of creates sent that got no answer
    leftovers: list[dict] = field(default_factory=list)
    deleted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, exchange: Exchange) -> None:
        """Called by the client for every exchange: learns created and deleted users, and the userNames
        of creates that got no answer (a timeout or a reset may hide a user the target did create; a
        refused connection cannot)."""
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
            name = exchange.json.get("userName") if isinstance(exchange.json, dict) else None
            with self._lock:
                self.created.setdefault(exchange.created_id, str(name or user_name_of(exchange.request_body) or ""))
        elif exchange.method == "DELETE":
            self._forget(exchange.url)

    def _leave(self, user_id: str | None, user_name: str, state: str) -> None:
        with self._lock:
            if user_id is not None:
                self.created.pop(user_id, None)
            self.leftovers.append({"id": user_id, "userName": user_name, "state": state})

    def _look_up(self, client: ScimClient, user_name: str) -> bool:
        """Track the user named `user_name` if the target has it (`look_up`). When no lookup answers, the
        user's fate is unknown: it is reported as a possible leftover. False when the target refused the
        connection (no later request would fare better)."""
        answer = look_up(client, user_name, label="cleanup (unanswered create)")
        if answer.status is None or answer.status >= 500:
            self._leave(None, user_name, "possibly created: the create got no answer and the lookup answered "
                                         f"{answer.status or answer.error}")
            return not unreachable(answer)
        for user in named(answer, user_name):
            with self._lock:
                self.created.setdefault(str(user["id"]), user["userName"])
        return True

    def _forget(self, url: str) -> None:
        user_id = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            if self.created.pop(user_id, None) is not None:
                self.deleted += 1

    def clean(self, client: ScimClient, until: float | None = None,
              say: Callable[[str], None] = lambda line: None) -> None:
        """Remove every tracked user (`remove_user`: delete, or deactivate where DELETE is unsupported);
        record each one not deleted (deactivated or left) as a leftover with its state. Creates that got
        no answer are looked up by userName first. Once the target refuses a connection, or past `until`
        (time.monotonic()), the rest are recorded as leftovers without another request. `say` gets a
        line when cleanup starts, every PROGRESS_EVERY seconds, and when it ends."""
        started = time.monotonic()
        if not self.created and not self.unanswered:
            return
        say(f"cleanup: removing {len(self.created)} user(s) the run created"
            + (f", after looking up {len(self.unanswered)} create(s) that got no answer" if self.unanswered else "")
            + (f" (bound {until - started:.3g} s)" if until is not None else ""))
        refused, shown, deleted_before = False, started, self.deleted
        for user_name in self.unanswered:
            if refused:
                self._leave(None, user_name, "possibly created: the create got no answer, and the target "
                                             "refused connections before it could be looked up")
            else:
                refused = not self._look_up(client, user_name)
        tracked = list(self.created.items())
        for done, (user_id, user_name) in enumerate(tracked):
            if until is not None and time.monotonic() > until:
                self._leave(user_id, user_name, "not deleted: cleanup ran out of time")
            elif refused:
                self._leave(user_id, user_name, "not deleted: the target refused connections")
            else:
                removal = remove_user(client, user_id, label="cleanup")
                refused = removal.refused
                if not removal.removed:  # a removed one: observe() has seen the DELETE (or its 404) and forgot it
                    self._leave(user_id, user_name, removal.state)
            if time.monotonic() - shown > PROGRESS_EVERY:
                shown = time.monotonic()
                say(f"cleanup: {done + 1}/{len(tracked)} handled, {len(self.leftovers)} left so far")
        say(f"cleanup: done in {time.monotonic() - started:.1f} s: {self.deleted - deleted_before} removed, "
            f"{len(self.leftovers)} left on the target" + (" (the target refused connections)" if refused else ""))
