"""A quiet tenant for the checks that read the whole user list, also under pytest-xdist; and the run's
xdist scheduler, which starts those checks together.

An import walk compares what its pages say (totalResults, startIndex) with what they hold, page after
page; the guest check compares a count with the users walked. A write of another check of the same run
meanwhile (in another xdist worker) would move the list under them, and a verdict must not depend on
`-n`. So, request by request (`QuietTenant.watch` hooks the run's client):

- a write (POST, PUT, PATCH, DELETE; a POST .search only reads) holds the tenant "writing" while it is on
  the wire; writes share it with each other;
- a check marked `quiet_tenant` holds the tenant "walking" from its first read of a list (GET /Users or
  /Groups, with or without a query; a POST .search) to the end of its call; quiet checks share it;
- the two exclude each other: no write leaves while a quiet check walks, and a quiet check starts to walk
  once every write on the wire has its answer.

A quiet check writes first (its own users), then reads: a write after its first read of the list would
move the list under its own walk and the other quiet checks', so it is refused (QuietOrderError, a
harness error), in a serial run too, so that the outcome does not depend on `-n`.

A check marked `holds_writes(key)` writes what no other check may meet: it holds the tenant "writing" from
its first write to the end of its call (not only while each write is on the wire), so no quiet check reads
the list between, say, a create and the delete that undoes it; and the checks of one key run one at a time
(each holds `quiet-holds-<key>.lock` for its call), so they do not meet each other's. The guest-create
check is one: a target that wrongly creates a member with a guest's userName must not turn the guest
filter and listing checks, nor another IdP's create of that userName, red under `-n` alone.

Why the walks still see a tenant that holds still: from the moment a quiet check starts to walk to the end
of its call, no write of the run is on the wire or leaves (its own writes all came before; other quiet
checks walk, and only read; the cleanup runs in a teardown, after the call). The earlier design, a quiet
check holding the tenant alone for its whole setup, call and teardown, guaranteed the walk no more than
that; but it held every other worker back for the quiet check's creates and for their own reads, and the
quiet checks back for each other.

The locks (`fcntl.flock`: the system lets go of them when a process dies) are files in the run's shared
directory (the same as the request limits of scimcert/throttle.py):
- `quiet-gate.lock`, the turnstile: a quiet check holds it while it waits for the writes on the wire
  (so a stream of writes cannot starve it), a write passes it on its way in;
- `quiet-writes.lock`, held shared by the processes with a write on the wire;
- `quiet-walks.lock`, held shared by the processes whose quiet check walks. A write that finds it held
  waits, outside the gate, until no quiet check walks; other quiet checks may join the walk meanwhile;
- `quiet-creating-<process>.lock`, held by a quiet check from its start until it walks: a quiet check
  about to start a walk first waits for the quiet checks still creating their users, so that the walks
  start together after their creates rather than one after the other, each create held back by a walk
  (while a walk is under way, a quiet check joins it at once: the creates wait for it anyway).
A serial run needs no lock; on a platform without `fcntl` (Windows) the checks are not held, and a
parallel run there may find the tenant moving (the import checks then say so in their findings).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from .resources import at

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class QuietOrderError(RuntimeError):
    """A quiet_tenant check wrote after its first read of the user list (a harness error: a quiet check
    creates what it needs first, then reads)."""


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def is_write(method: str, url: str) -> bool:
    """Whether a request may change the tenant's users (a POST .search only reads)."""
    return method.upper() in WRITES and not _path(url).endswith("/.search")


def reads_the_list(method: str, url: str) -> bool:
    """Whether a request reads a list of resources: GET /Users or /Groups with or without a query, or a POST
    .search."""
    path = _path(url)
    if method.upper() != "GET":
        return method.upper() == "POST" and path.endswith("/.search")
    addressed = at(path)
    return addressed is not None and addressed[1] is None


class QuietTenant:
    """The run's tenant-wide locks, in one process: `share(...)` and `watch(client)` once, `with check(quiet):`
    around each check, `settle()` once its call is over."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.shared = False  # other processes of the run share the tenant (pytest-xdist): take the locks
        self.waited = {"write": 0.0, "walk": 0.0}  # seconds this process waited for the tenant, per side
        self._state = threading.Condition()  # a check may send from several threads
        self._writes = 0       # this process's writes on the wire (it holds the tenant writing while > 0)
        self._holding: set[int] = set()  # id() of those exchanges
        self._quiet = False    # the check in progress is a quiet_tenant check
        self._walking = False  # ... and has read the user list: it holds the tenant walking
        self._holds: str | None = None  # the check in progress holds_writes (this key) ...
        self._held = False  # ... and has written: it holds the tenant writing until settle()
        self._me = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._files: dict[str, int] = {}
        self._watched: set[int] = set()

    # ---- wiring ----------------------------------------------------------------------------

    def share(self, shared: bool) -> None:
        """Whether other processes of the run (xdist workers) share the tenant: then take the locks."""
        self.shared = shared and fcntl is not None

    def watch(self, client) -> None:
        """Hook the run's client (the check twins of `ScimClient.for_check` share its hooks)."""
        if id(client) not in self._watched:
            self._watched.add(id(client))
            client.before_send.append(self.before_send)
            client.listeners.append(self.answered)

    @contextmanager
    def check(self, quiet: bool, holds_writes: str | None = None) -> Iterator[None]:
        """Around one check (setup, call and teardown); a quiet check is creating until it walks; a check that
        `holds_writes` (a key) runs alone among the checks of its key, and holds the tenant writing from its
        first write to the end of its call."""
        if quiet and holds_writes:
            raise ValueError("a quiet_tenant check reads after it writes: it cannot hold the tenant writing")
        with self._state:
            self._quiet, self._walking, self._holds = quiet, False, holds_writes
            if self.shared and (quiet or holds_writes):
                fcntl.flock(self._fd("creating" if quiet else f"holds-{holds_writes}"), fcntl.LOCK_EX)
        try:
            yield
        finally:
            self.settle()

    def settle(self) -> None:
        """The check's call is over: it lets go of the tenant, and what its teardown sends (the cleanup,
        after the last check) is an ordinary request. A write left on the wire is let go too."""
        with self._state:
            if self.shared:
                if self._quiet:
                    self._unlock("creating")
                if self._holds:
                    self._unlock(f"holds-{self._holds}")
                if self._walking:
                    self._unlock("walks")
                if self._writes:
                    self._unlock("writes")
            self._quiet = self._walking = self._held = False
            self._holds = None
            self._writes = 0
            self._holding.clear()

    # ---- the client's hooks ------------------------------------------------------------------

    def before_send(self, exchange) -> None:
        if is_write(exchange.method, exchange.url):
            self._write(exchange)
        elif self._quiet and reads_the_list(exchange.method, exchange.url):
            self._walk(exchange)

    def answered(self, exchange) -> None:
        with self._state:
            if id(exchange) not in self._holding:
                return
            self._holding.discard(id(exchange))
            self._writes -= 1
            if not self._writes and self.shared:
                self._unlock("writes")

    def _write(self, exchange) -> None:
        with self._state:
            if self._walking:
                raise QuietOrderError(f"this quiet_tenant check sends {exchange.method} {_path(exchange.url)} after "
                                      "reading the user list: a quiet check creates what it needs first, then "
                                      "reads (scimcert/quiet.py)")
            if not self._writes and self.shared:
                started = time.perf_counter()
                self._take_write()
                self.waited["write"] += time.perf_counter() - started
            self._writes += 1
            self._holding.add(id(exchange))
            if self._holds and not self._held:  # a write that no answer lets go of: until settle()
                self._writes += 1
                self._held = True

    def _walk(self, exchange) -> None:
        with self._state:
            if self._walking:
                return
            if self._writes:
                raise QuietOrderError(f"this quiet_tenant check reads the user list ({_path(exchange.url)}) while a "
                                      "write of its own is on the wire: it creates first, then reads "
                                      "(scimcert/quiet.py)")
            if self.shared:
                started = time.perf_counter()
                self._take_walk()
                self.waited["walk"] += time.perf_counter() - started
            self._walking = True

    # ---- the locks ---------------------------------------------------------------------------

    def _fd(self, role: str) -> int:
        """An open file per role (flock holds per open file): gate, writes, writes-probe, walks, walks-probe,
        holds-<key>, and this QuietTenant's creating."""
        if role not in self._files:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"creating-{self._me}" if role == "creating" else role.removesuffix("-probe")
            self._files[role] = os.open(self.directory / f"quiet-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        return self._files[role]

    def _unlock(self, role: str) -> None:
        fcntl.flock(self._fd(role), fcntl.LOCK_UN)

    def _take_write(self) -> None:
        """Hold the tenant writing: through the gate, when no quiet check walks; else wait, outside the gate,
        until none does (quiet checks may join a walk meanwhile), and try again."""
        gate, walks, writes = self._fd("gate"), self._fd("walks-probe"), self._fd("writes")
        while True:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                try:
                    fcntl.flock(walks, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass
                else:
                    fcntl.flock(writes, fcntl.LOCK_SH)
                    fcntl.flock(walks, fcntl.LOCK_UN)
                    return
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
            fcntl.flock(walks, fcntl.LOCK_EX)
            fcntl.flock(walks, fcntl.LOCK_UN)

    def _take_walk(self) -> None:
        """Hold the tenant walking: join a walk under way (the quiet checks still creating are held back by it
        anyway), or else start one once no other quiet check is creating; either way take the gate (no
        write comes in) and wait for the writes on the wire to have their answers."""
        self._unlock("creating")
        if not self._walk_under_way():
            self._creators_done()
        gate, writes, walks = self._fd("gate"), self._fd("writes-probe"), self._fd("walks")
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(writes, fcntl.LOCK_EX)
            fcntl.flock(walks, fcntl.LOCK_SH)
            fcntl.flock(writes, fcntl.LOCK_UN)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)

    def _walk_under_way(self) -> bool:
        probe = self._fd("walks-probe")
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False

    def _creators_done(self) -> None:
        """Wait until no other quiet check is creating its users (each holds its quiet-creating-*.lock until
        it walks or ends; a process that died holds none). It holds nothing of the tenant meanwhile."""
        own = self.directory / f"quiet-creating-{self._me}.lock"
        for path in sorted(self.directory.glob("quiet-creating-*.lock")):
            if path == own:
                continue
            try:
                other = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(other, fcntl.LOCK_SH)
            finally:
                os.close(other)  # and with it the lock


# ---- scheduling (the pytest-xdist controller) ---------------------------------------------------

def run_order(items: list) -> None:
    """Sort `items` (a collection of checks) into the run's order, the same serially and under xdist (each
    worker sorts its collection so, and QuietFirstScheduling sends the checks in it): the quiet_tenant checks
    first, those that create users before those that only read (these can join a walk at any time); then the
    rest; then the readers, the checks that ask for no `users` fixture (a hint: they create no user of their
    own, and are short: they even out the end of a parallel run). Each group keeps collection order.

    The walks so read the tenant before the run's other checks have added their users (they are removed at
    the end): a walk's pages cost the target what the tenant holds, not that and the run's users too."""
    def group(item) -> int:
        reader = "users" not in getattr(item, "fixturenames", ())
        if item.get_closest_marker("quiet_tenant") is not None:
            return 1 if reader else 0
        return 3 if reader else 2
    items.sort(key=group)


class QuietFirstScheduling:
    """The run's pytest-xdist scheduler (scimcert/plugin.py installs it for `--dist load` and `worksteal`).

    The checks go out in collection order, which is the run's order (`run_order`: the quiet_tenant checks
    first, then the rest, then the readers). Scheduling starts once every worker has collected
    (the same checks, as xdist requires), and a worker holds two checks: the one it runs, and the next,
    which it must know to start the first. So the quiet checks start together, one on every worker: their
    creates happen together, then their walks (QuietTenant lets a walk wait for the quiet checks still
    creating); the quiet check each worker starts next is held back by those walks, and creates and walks
    with the others when they end. The other checks' writes wait for two short eras of walks at the start
    of the run, not again and again; the last checks go to whichever worker is free."""

    def __init__(self, config, log):
        from xdist.workermanage import parse_tx_spec_config

        self.numnodes = len(parse_tx_spec_config(config))
        self.config = config
        self.log = log.quietsched if log is not None else (lambda *args: None)
        self.node2collection: dict = {}
        self.node2pending: dict = {}
        self.collection: list[str] | None = None
        self.waiting: deque[int] = deque()  # indices into the collection not sent yet

    @property
    def pending(self) -> list[int]:
        """The checks not sent to any worker yet, in the order they go out."""
        return list(self.waiting)

    @property
    def nodes(self) -> list:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return self.collection is not None

    @property
    def tests_finished(self) -> bool:
        if self.collection is None or self.pending:
            return False
        return all(len(pending) < 2 for pending in self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.pending) or any(self.node2pending.values())

    def add_node(self, node) -> None:
        assert node not in self.node2pending
        self.node2pending[node] = []

    def add_node_collection(self, node, collection: Sequence[str]) -> None:
        assert node in self.node2pending
        first = next(iter(self.node2collection.values()), None)
        if first is not None and list(collection) != first:
            self._refuse(node, collection, first)
            return
        self.node2collection[node] = list(collection)
        self._complete(node)

    def _complete(self, node) -> None:
        """Once every worker expected has collected: the checks, in collection order (the run's order)."""
        if self.collection is not None or not self.node2collection or len(self.node2collection) < self.numnodes:
            return
        self.collection = list(self.node2collection[node])
        self.waiting = deque(range(len(self.collection)))

    def _refuse(self, node, collection: Sequence[str], first: list[str]) -> None:
        """A worker that collected other checks than the first one gets none (xdist's own report)."""
        import pytest
        from xdist.report import report_collection_diff

        other = next(iter(self.node2collection))
        message = report_collection_diff(first, collection, other.gateway.id, node.gateway.id)
        self.log(message)
        self.config.hook.pytest_collectreport(report=pytest.CollectReport(
            nodeid=node.gateway.id, outcome="failed", longrepr=message, result=[]))
        node.shutdown()

    def schedule(self) -> None:
        """Give every worker whose collection is in a check each in turn, then a second each."""
        for holding in (1, 2):
            for node in self.nodes:
                self._fill(node, holding)
        self._finish_idle()

    def mark_test_complete(self, node, item_index: int, duration: float = 0) -> None:
        self.node2pending[node].remove(item_index)
        self._fill(node, 2)
        self._finish_idle()

    def mark_test_pending(self, item: str) -> None:
        assert self.collection is not None
        self._requeue([self.collection.index(item)])
        self.schedule()

    def remove_pending_tests_from_node(self, node, indices: Sequence[int]) -> None:
        raise NotImplementedError()

    def remove_node(self, node) -> str | None:
        """A worker that is gone: the checks it held go to the others (the first one, it was running)."""
        pending = self.node2pending.pop(node)
        self.node2collection.pop(node, None)
        if self.collection is None:  # gone before the others collected: they need not wait for it
            self.numnodes -= 1
            if self.node2collection:
                self._complete(next(iter(self.node2collection)))
                self.schedule()
        if not pending:
            return None
        assert self.collection is not None
        crashed = self.collection[pending.pop(0)]
        self._requeue(pending)
        self.schedule()
        return crashed

    def _requeue(self, indices: list[int]) -> None:
        self.waiting.extendleft(reversed(indices))  # first again, in their order

    def _fill(self, node, holding: int) -> None:
        if node.shutting_down or node not in self.node2collection:
            return
        pending = self.node2pending[node]
        while len(pending) < holding and self.waiting:
            index = self.waiting.popleft()
            pending.append(index)
            node.send_runtest_some([index])

    def _finish_idle(self) -> None:
        """Once every check is out, each worker is told to finish: it runs what it holds (the last one with
        no next, so its session teardown, the cleanup, follows)."""
        if self.pending:
            return
        for node in self.nodes:
            if node in self.node2collection and not node.shutting_down:
                node.shutdown()
