"""The run's transcript: every exchange in full, tokens redacted, one JSON object a line, gzip-compressed.

Each process of a run writes its own (`transcript.jsonl.gz`, `transcript-gw0.jsonl.gz` … under xdist),
flushed after every exchange, so that a run killed in the middle leaves a readable transcript up to
its last exchange (`zcat` reads it). Reports refer to its records by their `id`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PATTERN = "transcript*.jsonl.gz"


def open_for(reports_dir: Path, suffix: str) -> IO[str]:
    """A text stream into this process's transcript; flush() after each line makes it readable up to there."""
    return gzip.open(reports_dir / f"transcript{suffix}.jsonl.gz", "wt", encoding="utf-8", compresslevel=6)


def text(path: Path) -> str:
    """A transcript's text, up to where it was cut (a killed run's last flush)."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)  # gzip framing; tolerates a missing end
    return decompressor.decompress(path.read_bytes()).decode("utf-8", errors="replace")


def records(reports_dir: Path) -> Iterator[dict]:
    """Every exchange of the run, from each process's transcript."""
    for path in sorted(reports_dir.glob(PATTERN)):
        for line in text(path).splitlines():
            try:
                yield json.loads(line)
            except ValueError:  # a line cut in the middle by a killed run
                continue
