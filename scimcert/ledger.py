"""The ledger: the userName (displayName) of every user (group) create, written to disk before the create is sent.

A run killed with SIGKILL (or a machine that died) never reaches its cleanup, and never writes its
reports. Its ledger, `reports/ledger-<run tag>.jsonl`, still names every user it may have created:
`scimcert sweep --ledger FILE` removes exactly those. One JSON object per line,
`{"run": "<tag>", "userName": "…"}` (a group: `"displayName"`); every process of a run appends to the same file, one write per
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


def sent(request_body: str | None, key: str) -> str | None:
    """The value of `key` (userName, displayName) a create's JSON body sends, if it is a non-empty string."""
    try:
        body = json.loads(request_body or "")
    except ValueError:
        return None
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def user_name_of(request_body: str | None) -> str | None:
    """The userName a create's JSON body sends, if it is a non-empty string."""
    return sent(request_body, "userName")


@dataclass
class Ledger:
    path: Path
    tag: str
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def before_send(self, exchange: Exchange) -> None:
        """Called by the client before each request leaves: a create's userName (displayName) goes to disk first."""
        created = exchange.creates
        name = sent(exchange.request_body, created.key) if created is not None else None
        if name is None:
            return
        line = (json.dumps({"run": self.tag, created.key: name}, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


@dataclass(frozen=True)
class Entries:
    """What a ledger file names: the run tags, and the userNames and group displayNames in the order they were
    written."""

    tags: tuple[str, ...]
    user_names: tuple[str, ...]
    unreadable: int  # lines that are not a ledger entry (a line cut by a crash in mid-write)
    display_names: tuple[str, ...] = ()


def read(path: Path) -> Entries:
    """The entries of a ledger file. OSError when it cannot be read."""
    tags: dict[str, None] = {}
    names: dict[str, dict[str, None]] = {"userName": {}, "displayName": {}}
    unreadable = 0
    for line in path.read_text("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            unreadable += bool(line.strip())
            continue
        tag = entry.get("run") if isinstance(entry, dict) else None
        key = next((k for k in names if isinstance(entry, dict) and k in entry), None)
        name = entry.get(key) if key is not None else None
        if isinstance(tag, str) and isinstance(name, str) and name:
            tags.setdefault(tag)
            names[key].setdefault(name)
        else:
            unreadable += 1
    return Entries(tuple(tags), tuple(names["userName"]), unreadable, tuple(names["displayName"]))
