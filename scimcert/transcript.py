"""The run's transcript: every exchange in full, tokens redacted, one JSON object a line, gzip-compressed.

Each process of a run writes its own (`transcript.jsonl.gz`, `transcript-gw0.jsonl.gz` … under xdist),
flushed after every exchange, so that a run killed in the middle leaves a readable transcript up to
its last exchange (`zcat` reads it). Reports refer to its records by their `id`.

A response body identical to one written earlier in the same file (the same page of the user list, read again
by another check), and a request shape's `source` (the documentation it cites) once written, are not written
again: the later record has `"responseBodyOf": "<id>"` (`"sourceOf"`) in place of its `responseBody` (`source`),
the id of the record that holds it. gzip sees only 32 kB back, so each copy of a 60 kB page would otherwise cost
its compressed size again. `records` gives every record whole.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

PATTERN = "transcript*.jsonl.gz"
BY_REFERENCE = {"responseBody": 512, "source": 1}  # field → its shortest value written once (shorter repeats cost
                                                   # gzip next to nothing: they stay in the line)


class Writer:
    """This process's transcript: one line per exchange record, flushed after each, repeated long bodies by
    reference (module docstring)."""

    def __init__(self, reports_dir: Path, suffix: str):
        self._stream = gzip.open(reports_dir / f"transcript{suffix}.jsonl.gz", "wt", encoding="utf-8", compresslevel=6)
        self._written: dict[tuple[str, bytes], str] = {}  # (field, SHA-256 of its value) → the id of the record with it

    def write(self, record: dict) -> None:
        referred = {}
        for name, shortest in BY_REFERENCE.items():
            value = record.get(name)
            if isinstance(value, str) and len(value) >= shortest:
                digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
                first = self._written.setdefault((name, digest), record["id"])
                if first != record["id"]:
                    referred[name] = first
        if referred:
            record = dict(_renamed(record, {name: (f"{name}Of", first) for name, first in referred.items()}))
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def text(path: Path) -> str:
    """A transcript's text, up to where it was cut (a killed run's last flush)."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)  # gzip framing; tolerates a missing end
    return decompressor.decompress(path.read_bytes()).decode("utf-8", errors="replace")


def records(reports_dir: Path) -> Iterator[dict]:
    """Every exchange of the run, from each process's transcript, each whole (a value written by reference is
    read from the line that holds it)."""
    for path in sorted(reports_dir.glob(PATTERN)):
        lines = text(path).splitlines()
        holder: dict[tuple[str, str], int] = {}  # (field, id) → the line holding that record's value of the field
        read: dict[int, dict] = {}  # the holding lines read so far
        for number, line in enumerate(lines):
            try:
                record = json.loads(line)
            except ValueError:  # a line cut in the middle by a killed run
                continue
            restored = {}
            for name, shortest in BY_REFERENCE.items():
                value = record.get(name)
                if isinstance(value, str) and len(value) >= shortest:
                    holder[(name, record["id"])] = number
                elif f"{name}Of" in record:
                    held = holder.get((name, record[f"{name}Of"]))
                    if held is not None and held not in read:
                        read[held] = json.loads(lines[held])
                    restored[f"{name}Of"] = (name, read[held][name] if held is not None else None)
            yield dict(_renamed(record, restored)) if restored else record


def _renamed(record: dict, renames: dict[str, tuple[str, object]]):
    """The record's items, those named in `renames` as (new name, new value), in their place."""
    for key, value in record.items():
        yield renames.get(key, (key, value))
