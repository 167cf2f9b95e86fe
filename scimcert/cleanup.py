"""Cleanup: every user the run created is deleted at the end, also after failures and on Ctrl-C.

The client reports every successful POST /Users (including negative checks the target wrongly
accepted) and every successful DELETE, so each id is tracked exactly once and deleted once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .client import Exchange, ScimClient

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Tracker:
    created: dict[str, str] = field(default_factory=dict)  # id → userName, in creation order
    leftovers: list[dict] = field(default_factory=list)
    deleted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, exchange: Exchange) -> None:
        """Called by the client for every exchange: learns created and deleted users."""
        if exchange.status is None or not 200 <= exchange.status < 300:
            if exchange.method == "DELETE" and exchange.status == 404:
                self._forget(exchange.url)
            return
        body = exchange.json
        if exchange.method == "POST" and exchange.url.rstrip("/").endswith("/Users") and isinstance(body, dict):
            if isinstance(body.get("id"), (str, int)):
                with self._lock:
                    self.created.setdefault(str(body["id"]), str(body.get("userName", "")))
        elif exchange.method == "DELETE":
            self._forget(exchange.url)

    def _forget(self, url: str) -> None:
        user_id = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            if self.created.pop(user_id, None) is not None:
                self.deleted += 1

    def clean(self, client: ScimClient) -> None:
        """Delete every tracked user; where DELETE is unsupported, deactivate; record what is left."""
        for user_id, user_name in list(self.created.items()):
            gone = client.raw("DELETE", f"/Users/{user_id}", label="cleanup")
            if gone.status in (200, 204, 404):
                continue  # observe() has forgotten it
            if gone.status in (405, 501):
                patched = client.raw("PATCH", f"/Users/{user_id}", label="cleanup (deactivate)",
                                     body={"schemas": [PATCH_OP],
                                           "Operations": [{"op": "replace", "value": {"active": False}}]})
                state = "deactivated (DELETE unsupported)" if patched.status in (200, 204) else "left active"
            else:
                state = f"DELETE answered {gone.status or gone.error}"
            with self._lock:
                self.created.pop(user_id, None)
                self.leftovers.append({"id": user_id, "userName": user_name, "state": state})
