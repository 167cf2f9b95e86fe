"""Politeness towards the endpoint: at most N requests in flight and R requests per second, for the
whole run, also when pytest-xdist spreads it over several processes.

The limits live in lock files in one directory the controller creates and hands to its workers, so
every process of the run shares them (filelock: portable, well kept):
- in flight: `slot-<i>.lock` for i < N; a request holds one of them while it is on the wire;
- pace: `pace.lock` guards `pace`, the earliest time the next request may start; each request takes
  the next free instant and moves it on by 1/R.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

POLL = 0.005  # seconds between attempts to take a free in-flight slot


class Throttle:
    """Shared request limits of one run; `with throttle.turn():` around every request."""

    def __init__(self, directory: Path, *, max_in_flight: int | None = None, max_rps: float | None = None):
        self.directory = Path(directory)
        self.max_in_flight = max_in_flight
        self.max_rps = max_rps
        self._slots = [FileLock(self.directory / f"slot-{i}.lock") for i in range(max_in_flight or 0)]
        self._pace_lock = FileLock(self.directory / "pace.lock")
        self._pace = self.directory / "pace"

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for a free slot and for the pace, then hold the slot for the request."""
        slot = self._take_slot()
        try:
            self._wait_for_pace()
            yield
        finally:
            if slot is not None:
                slot.release()

    def _take_slot(self) -> FileLock | None:
        if not self._slots:
            return None
        while True:
            for slot in self._slots:
                try:
                    slot.acquire(timeout=0)
                    return slot
                except Timeout:
                    continue
            time.sleep(POLL)

    def _wait_for_pace(self) -> None:
        if not self.max_rps:
            return
        with self._pace_lock:
            now = time.time()
            text = self._pace.read_text() if self._pace.exists() else ""
            start = max(now, float(text) if text else now)
            self._pace.write_text(repr(start + 1 / self.max_rps))
        if start > now:
            time.sleep(start - now)
