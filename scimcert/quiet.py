"""A quiet tenant for the checks that read the whole user list, also under pytest-xdist.

An import walk compares what its pages say (totalResults, startIndex) with what they hold, page after
page; the guest check compares a count with the users walked. Other checks of the same run creating or
deleting users meanwhile (in other xdist workers) would move the list under them, and a verdict must not
depend on `-n`. So a check marked `quiet_tenant` holds the tenant alone, and every other check holds it
shared, for the whole of its setup, call and teardown:

- `quiet.lock`, taken with `fcntl.flock`: shared by ordinary checks, exclusive for a quiet one;
- `quiet-gate.lock` (filelock), held by a quiet check while it waits and runs, and taken for a moment
  by an ordinary check before it takes its shared lock, so a waiting quiet check is not starved.

The lock files live in the run's shared directory (the same as the request limits of scimcert/throttle.py).
A serial run needs none of this; on a platform without `fcntl` (Windows) the checks are not held, and a
parallel run there may find the tenant moving (the import checks then say so in their findings).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from filelock import FileLock

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class QuietTenant:
    """The run's tenant-wide lock: `with quiet.hold(alone=...):` around one check."""

    def __init__(self, directory: Path):
        self._gate = FileLock(Path(directory) / "quiet-gate.lock")
        self._path = Path(directory) / "quiet.lock"

    def hold(self, alone: bool):
        if fcntl is None:
            return nullcontext()
        return self._alone() if alone else self._shared()

    @contextmanager
    def _alone(self) -> Iterator[None]:
        with self._gate, open(self._path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def _shared(self) -> Iterator[None]:
        with open(self._path, "a") as lock:
            with self._gate:
                fcntl.flock(lock, fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
