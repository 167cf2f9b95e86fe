"""The ledger: the userName of every create, written to disk before the create is sent.

A run killed with SIGKILL (or a machine that died) never reaches its cleanup, and never writes its
reports. Its ledger, `reports/ledger-<run tag>.jsonl`, still names every user it may have created:
`scimcert sweep --ledger FILE` removes exactly those. One JSON object per line,
`{"run": "<tag>", "userName": "…"}`; every process of a run appends to the same file, one write per
line (O_APPEND), flushed and fsynced before the request leaves. A run whose cleanup left nothing
removes its ledger at the end, so a ledger that remains is a run that may have left users behind.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .client import Exchange


def ledger_path(reports_dir: Path, tag: str) -> Path:
    return reports_dir / f"ledger-{tag}.jsonl"


def user_name_of(request_body: str | None) -> str | None:
    """The userName a create's JSON body sends, if it is a non-empty string."""
    try:
        body = json.loads(request_body or "")
    except ValueError:
        return None
    name = body.get("userName") if isinstance(body, dict) else None
    return name if isinstance(name, str) and name else None


@dataclass
class Ledger:
    path: Path
    tag: str
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def before_send(self, exchange: Exchange) -> None:
        """Called by the client before each request leaves: a create's userName goes to disk first."""
        if not exchange.is_users_create:
            return
        user_name = user_name_of(exchange.request_body)
        if user_name is None:
            return
        line = (json.dumps({"run": self.tag, "userName": user_name}, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


@dataclass(frozen=True)
class Entries:
    """What a ledger file names: the run tags, and the userNames in the order they were written."""

    tags: tuple[str, ...]
    user_names: tuple[str, ...]
    unreadable: int  # lines that are not a ledger entry (a line cut by a crash in mid-write)


def read(path: Path) -> Entries:
    """The entries of a ledger file. OSError when it cannot be read."""
    tags: dict[str, None] = {}
    names: dict[str, None] = {}
    unreadable = 0
    for line in path.read_text("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            unreadable += bool(line.strip())
            continue
        tag = entry.get("run") if isinstance(entry, dict) else None
        name = entry.get("userName") if isinstance(entry, dict) else None
        if isinstance(tag, str) and isinstance(name, str) and name:
            tags.setdefault(tag)
            names.setdefault(name)
        else:
            unreadable += 1
    return Entries(tuple(tags), tuple(names), unreadable)
