"""Cleanup: every user the run created is deleted at the end, also after failures and on Ctrl-C.

The client reports every successful POST /Users (including negative checks the target wrongly
accepted) and every successful DELETE, so each id is tracked exactly once and deleted once.
`remove_user` is how one user goes (DELETE, else deactivation): the tracker uses it at the end of a
run, `scimcert sweep` (scimcert/sweep.py) for the users of runs that never reached their end.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from .client import Exchange, ScimClient

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


def unreachable(exchange: Exchange) -> bool:
    """The target refused the connection: nobody listens there, so no later request would fare better."""
    return exchange.status is None and "ConnectError" in (exchange.error or "")


def _is_users(url: str) -> bool:
    return url.split("?")[0].rstrip("/").endswith("/Users")


def _user_name(request_body: str | None) -> str | None:
    try:
        body = json.loads(request_body or "")
    except ValueError:
        return None
    name = body.get("userName") if isinstance(body, dict) else None
    return name if isinstance(name, str) and name else None


@dataclass
class Tracker:
    created: dict[str, str] = field(default_factory=dict)  # id → userName, in creation order
    unanswered: list[str] = field(default_factory=list)  # userNames of creates that got no answer
    leftovers: list[dict] = field(default_factory=list)
    deleted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, exchange: Exchange) -> None:
        """Called by the client for every exchange: learns created and deleted users, and the userNames
        of creates that got no answer (a timeout or a reset may hide a user the target did create)."""
        if exchange.status is None and exchange.method == "POST" and _is_users(exchange.url):
            user_name = _user_name(exchange.request_body)
            if user_name:
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
                self.created.setdefault(exchange.created_id, str(name or _user_name(exchange.request_body) or ""))
        elif exchange.method == "DELETE":
            self._forget(exchange.url)

    def _look_up(self, client: ScimClient, user_name: str) -> None:
        """Track the user named `user_name` if the target has it (filter userName eq, tried again after a 5xx;
        a target that gives no answer is not asked again). When no lookup answers, the user's fate is unknown: it is reported as a possible leftover."""
        expression = quote(f'userName eq "{user_name}"', safe="")
        for attempt in range(ATTEMPTS):
            answer = client.raw("GET", "/Users", query=f"filter={expression}", label="cleanup (unanswered create)")
            if answer.status is None or answer.status < 500 or attempt + 1 == ATTEMPTS:
                break  # an answer, or none at all (a target that does not answer is not asked again)
            time.sleep(PAUSE)
        if answer.status is None or answer.status >= 500:
            with self._lock:
                self.leftovers.append({"id": None, "userName": user_name, "state": "possibly created: the create got "
                                       f"no answer and the lookup answered {answer.status or answer.error}"})
            return
        found = answer.json.get("Resources") if isinstance(answer.json, dict) else None
        for user in [u for u in found if isinstance(u, dict)] if isinstance(found, list) else []:
            name, user_id = user.get("userName"), user.get("id")
            if isinstance(name, str) and name.casefold() == user_name.casefold() and isinstance(user_id, (str, int)):
                with self._lock:
                    self.created.setdefault(str(user_id), name)

    def _forget(self, url: str) -> None:
        user_id = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            if self.created.pop(user_id, None) is not None:
                self.deleted += 1

    def clean(self, client: ScimClient, until: float | None = None) -> None:
        """Remove every tracked user (`remove_user`: delete, or deactivate where DELETE is unsupported);
        record each one not deleted (deactivated or left) as a leftover with its state. Past `until`
        (time.monotonic()) the rest are recorded as leftovers without another request. Creates that got
        no answer are looked up by userName first."""
        for user_name in self.unanswered:
            self._look_up(client, user_name)
        refused = False
        for user_id, user_name in list(self.created.items()):
            if until is not None and time.monotonic() > until:
                state = "not deleted: cleanup ran out of time"
            elif refused:
                state = "not deleted: the target refused connections"
            else:
                removal = remove_user(client, user_id, label="cleanup")
                if removal.removed:
                    continue  # observe() has seen the DELETE (or its 404) and forgotten the id
                state = removal.state
                refused = removal.refused
            with self._lock:
                self.created.pop(user_id, None)
                self.leftovers.append({"id": user_id, "userName": user_name, "state": state})
