"""The quiet tenant (scimcert/quiet.py): writes and walks of quiet_tenant checks exclude each other across
processes, quiet checks walk together, a quiet check writes before it reads; and the run's xdist scheduler.

Two QuietTenant objects on one shared directory stand for two xdist workers: each opens its own lock files,
and flock holds per open file, so they exclude each other as two processes do."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from suite_runs import ROOT, external, run_suite

from scimcert import quiet
from scimcert.quiet import (
    QuietFirstScheduling,
    QuietOrderError,
    QuietTenant,
    is_write,
    reads_the_list,
    run_order,
)
from scimcert.reference import ReferenceServer
from scimcert.reference.faults import layers_for

BASE = "https://scim.example.com/scim/v2"
pytestmark = pytest.mark.skipif(quiet.fcntl is None, reason="flock (POSIX) only")


@dataclass
class FakeClient:
    before_send: list = field(default_factory=list)
    listeners: list = field(default_factory=list)


def exchange(method: str, path: str) -> SimpleNamespace:
    return SimpleNamespace(method=method, url=BASE + path)


def worker(tmp_path, shared: bool = True) -> QuietTenant:
    tenant = QuietTenant(tmp_path)
    tenant.share(shared)
    tenant.watch(FakeClient())
    return tenant


def started(action) -> tuple[threading.Thread, threading.Event]:
    """`action` in a thread; the event is set once it has returned."""
    done = threading.Event()

    def run():
        action()
        done.set()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def send(tenant: QuietTenant, method: str, path: str):
    """A request through the hooks: before_send, (on the wire), the answer."""
    sent = exchange(method, path)
    tenant.before_send(sent)
    return sent


def test_what_writes_and_what_reads_the_list():
    assert is_write("POST", BASE + "/Users") and is_write("patch", BASE + "/Users/1")
    assert is_write("DELETE", BASE + "/Users/1") and is_write("PUT", BASE + "/Users/1?x=1")
    assert not is_write("POST", BASE + "/Users/.search") and not is_write("GET", BASE + "/Users")
    assert reads_the_list("GET", BASE + "/Users?startIndex=1&count=100")
    assert reads_the_list("GET", BASE + "/Users/") and reads_the_list("POST", BASE + "/Users/.search")
    assert not reads_the_list("GET", BASE + "/Users/abc") and not reads_the_list("GET", BASE + "/ResourceTypes")


def test_watch_hooks_the_client_once():
    client, tenant = FakeClient(), QuietTenant("/nonexistent")
    tenant.watch(client)
    tenant.watch(client)
    assert client.before_send == [tenant.before_send] and client.listeners == [tenant.answered]


@pytest.mark.parametrize("shared", [False, True])
def test_a_quiet_check_writes_first_then_reads(tmp_path, shared):
    """The rule holds in a serial run too, so that the outcome does not depend on -n."""
    tenant = worker(tmp_path, shared)
    with tenant.check(quiet=True):
        created = send(tenant, "POST", "/Users")
        tenant.answered(created)
        send(tenant, "GET", "/Users/abc")  # its own user, by id: not the list
        send(tenant, "GET", "/Users?startIndex=1&count=2")
        with pytest.raises(QuietOrderError, match="POST /scim/v2/Users after reading the user list"):
            send(tenant, "POST", "/Users")
        tenant.settle()
        send(tenant, "DELETE", "/Users/abc")  # its teardown (the cleanup of the last check) is ordinary


def test_a_quiet_check_does_not_read_the_list_with_its_own_write_on_the_wire(tmp_path):
    tenant = worker(tmp_path, shared=False)
    with tenant.check(quiet=True):
        send(tenant, "POST", "/Users")
        with pytest.raises(QuietOrderError, match="while a write of its own is on the wire"):
            send(tenant, "GET", "/Users")


def test_an_ordinary_check_reads_and_writes_in_any_order(tmp_path):
    tenant = worker(tmp_path)
    with tenant.check(quiet=False):
        for method, path in [("GET", "/Users"), ("POST", "/Users"), ("GET", "/Users?filter=x"), ("DELETE", "/Users/1")]:
            tenant.answered(send(tenant, method, path))


def test_no_write_leaves_while_a_quiet_check_walks(tmp_path):
    walker, writer = worker(tmp_path), worker(tmp_path)
    with walker.check(quiet=True):
        send(walker, "GET", "/Users?startIndex=1&count=100")
        with writer.check(quiet=False):
            _, written = started(lambda: send(writer, "POST", "/Users"))
            assert not written.wait(0.3)
            send(walker, "GET", "/Users?startIndex=101&count=100")  # the walk goes on
            walker.settle()
            assert written.wait(5)
            assert writer.waited["write"] >= 0.25


def test_a_walk_waits_for_the_writes_on_the_wire(tmp_path):
    writer, walker = worker(tmp_path), worker(tmp_path)
    with writer.check(quiet=False):
        on_the_wire = send(writer, "PATCH", "/Users/1")
        with walker.check(quiet=True):
            _, walking = started(lambda: send(walker, "GET", "/Users"))
            assert not walking.wait(0.3)
            writer.answered(on_the_wire)
            assert walking.wait(5)


def test_a_check_holding_writes_keeps_walks_out_until_its_call_ends(tmp_path):
    """holds_writes: the tenant stays writing after its first write's answer (what it creates and deletes in
    one call is never in a walk), and is let go when its call ends."""
    holder, walker = worker(tmp_path), worker(tmp_path)
    with holder.check(quiet=False, holds_writes="guest-usernames"):
        holder.answered(send(holder, "POST", "/Users"))
        with walker.check(quiet=True):
            _, walking = started(lambda: send(walker, "GET", "/Users"))
            assert not walking.wait(0.3)
            holder.answered(send(holder, "DELETE", "/Users/1"))
            assert not walking.wait(0.2)
            holder.settle()
            assert walking.wait(5)


def test_checks_holding_writes_of_one_key_run_one_at_a_time(tmp_path):
    first, second, other = worker(tmp_path), worker(tmp_path), worker(tmp_path)
    with first.check(quiet=False, holds_writes="guest-usernames"):
        _, same_key = started(lambda: second.check(quiet=False, holds_writes="guest-usernames").__enter__())
        _, other_key = started(lambda: other.check(quiet=False, holds_writes="another").__enter__())
        assert other_key.wait(5) and not same_key.wait(0.3)
        first.answered(send(first, "POST", "/Users"))
        other.answered(send(other, "POST", "/Users"))  # writes share the tenant
    assert same_key.wait(5)
    second.settle()
    other.settle()


def test_a_serial_check_holding_writes_takes_no_lock(tmp_path):
    tenant = worker(tmp_path, shared=False)
    with tenant.check(quiet=False, holds_writes="guest-usernames"):
        tenant.answered(send(tenant, "POST", "/Users"))
        tenant.answered(send(tenant, "GET", "/Users?filter=x"))
    assert list(tmp_path.iterdir()) == []


def test_a_quiet_check_cannot_hold_writes(tmp_path):
    with pytest.raises(ValueError, match="cannot hold the tenant writing"):
        with worker(tmp_path).check(quiet=True, holds_writes="guest-usernames"):
            pass


def test_quiet_checks_walk_together_and_writes_share_the_tenant(tmp_path):
    first, second, third, fourth = (worker(tmp_path) for _ in range(4))
    with first.check(quiet=True), second.check(quiet=True):
        _, walking = started(lambda: send(first, "GET", "/Users"))
        _, joined = started(lambda: send(second, "GET", "/Users"))
        assert walking.wait(5) and joined.wait(5), "quiet checks walk together"
    with first.check(quiet=True), second.check(quiet=True):
        first.settle()  # first: a quiet check that ended (or never reads): nothing to wait for
        send(second, "GET", "/Users")
        with third.check(quiet=True):
            send(third, "GET", "/Users")  # not creating, it joins the walk under way
    second.settle()
    with third.check(quiet=False), fourth.check(quiet=False):
        send(third, "POST", "/Users")
        _, also = started(lambda: send(fourth, "DELETE", "/Users/1"))
        assert also.wait(5), "writes share the tenant"


def test_a_walk_waits_for_the_quiet_checks_still_creating(tmp_path):
    """So that walks start together after the creates, rather than each create waiting for a walk."""
    creating, walker = worker(tmp_path), worker(tmp_path)
    with creating.check(quiet=True), walker.check(quiet=True):
        _, walking = started(lambda: send(walker, "GET", "/Users"))
        creating.answered(send(creating, "POST", "/Users"))  # its creates are not held back
        assert not walking.wait(0.3)
        send(creating, "GET", "/Users")  # it walks: both do
        assert walking.wait(5)


def test_a_walk_under_way_is_joined_at_once(tmp_path):
    """The quiet checks still creating are held back by the walk anyway."""
    walker, creating, joining = worker(tmp_path), worker(tmp_path), worker(tmp_path)
    with walker.check(quiet=True):
        send(walker, "GET", "/Users")
        with creating.check(quiet=True), joining.check(quiet=True):
            _, created = started(lambda: send(creating, "POST", "/Users"))
            _, joined = started(lambda: send(joining, "GET", "/Users"))
            assert joined.wait(5) and not created.wait(0.2)
            walker.settle()
            joining.settle()
            assert created.wait(5)


def test_a_stream_of_writes_does_not_starve_a_walk(tmp_path):
    writers, walker = [worker(tmp_path) for _ in range(3)], worker(tmp_path)
    stop = threading.Event()

    def keep_writing(tenant):
        with tenant.check(quiet=False):
            while not stop.is_set():
                sent = send(tenant, "PUT", "/Users/1")
                time.sleep(0.02)
                tenant.answered(sent)
    for tenant in writers:
        started(lambda tenant=tenant: keep_writing(tenant))
    time.sleep(0.1)
    with walker.check(quiet=True):
        _, walking = started(lambda: send(walker, "GET", "/Users"))
        assert walking.wait(5)
    stop.set()


def test_a_process_that_dies_lets_go(tmp_path):
    """flock locks go with the open files: a worker that dies walking or writing holds nothing."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    dying = context.Process(target=_walk_and_die, args=(tmp_path,))
    dying.start()
    dying.join(10)
    writer = worker(tmp_path)
    with writer.check(quiet=False):
        _, written = started(lambda: send(writer, "POST", "/Users"))
        assert written.wait(5)


def _walk_and_die(directory):
    import os

    tenant = worker(directory)
    with tenant.check(quiet=True):
        send(tenant, "GET", "/Users")
        os._exit(0)


# ---- the scheduler -------------------------------------------------------------------------------

class Node:
    def __init__(self, name: str):
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices):
        self.sent += list(indices)

    def shutdown(self):
        self.shutting_down = True


COLLECTION = ["t.py::q1", "t.py::q2", "t.py::q3", "t.py::a", "t.py::b", "t.py::c", "t.py::r1", "t.py::r2"]  # run order


def scheduler(nodes: int) -> tuple[QuietFirstScheduling, list[Node]]:
    config = SimpleNamespace(getvalue=lambda name: [f"{nodes}*popen"] if name == "tx" else None, hook=None)
    sched = QuietFirstScheduling(config, None)
    workers = [Node(f"gw{i}") for i in range(nodes)]
    for node in workers:
        sched.add_node(node)
    return sched, workers


def names(node: Node) -> list[str]:
    return [COLLECTION[i].split("::")[1] for i in node.sent]


def test_scheduling_waits_for_every_worker_then_sends_the_checks_in_run_order_one_each():
    sched, (gw0, gw1) = scheduler(2)
    sched.add_node_collection(gw0, COLLECTION)
    assert not sched.collection_is_completed  # the quiet checks start together, on every worker
    sched.add_node_collection(gw1, COLLECTION)
    assert sched.collection_is_completed
    sched.schedule()
    assert names(gw0) == ["q1", "q3"] and names(gw1) == ["q2", "a"]  # one each in turn, then a second
    sched.mark_test_complete(gw1, COLLECTION.index("t.py::q2"))
    assert names(gw1) == ["q2", "a", "b"]  # two at most: the one it runs, the next
    for name in ("q1", "q3"):
        sched.mark_test_complete(gw0, COLLECTION.index(f"t.py::{name}"))
    assert names(gw0) == ["q1", "q3", "c", "r1"]  # the rest, then the readers (short: they even out the end)
    assert not gw0.shutting_down
    sched.mark_test_complete(gw1, COLLECTION.index("t.py::a"))
    assert names(gw1)[-1] == "r2" and not sched.pending
    assert gw0.shutting_down and gw1.shutting_down  # every check is out: each finishes what it holds
    assert not sched.tests_finished
    for node, name in ((gw0, "c"), (gw1, "b")):
        sched.mark_test_complete(node, COLLECTION.index(f"t.py::{name}"))
    assert sched.tests_finished


def test_a_worker_that_collected_other_checks_gets_none():
    reported = []
    sched, (gw0, gw1) = scheduler(2)
    sched.config.hook = SimpleNamespace(pytest_collectreport=lambda report: reported.append(report))
    sched.add_node_collection(gw0, COLLECTION)
    sched.add_node_collection(gw1, COLLECTION[:-1])
    assert gw1.shutting_down and reported and reported[0].outcome == "failed"


def test_the_checks_of_a_worker_that_died_go_to_the_others():
    sched, (gw0, gw1) = scheduler(2)
    for node in (gw0, gw1):
        sched.add_node_collection(node, COLLECTION)
    sched.schedule()
    assert sched.remove_node(gw0) == "t.py::q1"  # the one it was running
    assert sched.pending[0] == COLLECTION.index("t.py::q3")  # first again: the quiet check it held next


def check(name: str, *fixtures: str, quiet: bool = False) -> SimpleNamespace:
    return SimpleNamespace(name=name, fixturenames=["client", *fixtures],
                           get_closest_marker=lambda marker: marker if quiet and marker == "quiet_tenant" else None)


def test_run_order_puts_quiet_checks_first_then_the_rest_then_the_readers():
    items = [check("r1"), check("w1", "users"), check("qr", quiet=True), check("q1", "users", quiet=True),
             check("w2", "users"), check("r2"), check("q2", "users", quiet=True)]
    run_order(items)
    # quiet checks that create users, then quiet readers (they join a walk at any time), the rest, the readers;
    # each group in collection order
    assert [item.name for item in items] == ["q1", "q2", "qr", "w1", "w2", "r1", "r2"]


def test_a_serial_run_walks_before_the_other_checks_create(tmp_path):
    """The collection itself is in the run's order: a serial run's import walks come before the creates of
    the other capabilities, as under xdist."""
    run = run_suite(tmp_path / "reports", "--collect-only", "--idp", "okta")
    assert run.returncode == 0, run.stdout[-2000:]
    order = [line.split("::")[0] for line in run.stdout.splitlines() if "::" in line]
    assert order.index("suites/test_create.py") > max(i for i, path in enumerate(order) if path == "suites/test_import.py")


def test_a_worker_gone_before_the_others_collected_is_not_waited_for():
    sched, (gw0, gw1) = scheduler(2)
    sched.add_node_collection(gw0, COLLECTION)
    assert sched.remove_node(gw1) is None
    assert sched.collection_is_completed and names(gw0) == ["q1", "q2"]


def test_an_xdist_run_starts_with_the_quiet_checks(tmp_path):
    """Each worker's collection is in the run's order, which the controller's scheduler follows: each worker
    starts with a quiet_tenant check
    (bench/timeline.py records when each check of each worker started)."""
    timeline = tmp_path / "timeline"
    timeline.mkdir()
    run = run_suite(tmp_path / "reports", "-n", "2", "--idp", "okta", "-p", "timeline",
                    "-k", "test_import_walk or test_count_zero or test_create_user",
                    env={"BENCH_TIMELINE": str(timeline), "PYTHONPATH": str(ROOT / "bench")})
    assert run.returncode == 0, run.stdout[-2000:]
    checks = [json.loads(line) for path in timeline.glob("gw*.jsonl") for line in path.read_text().splitlines()
              if json.loads(line)["kind"] == "check"]
    first = {}
    for check in sorted(checks, key=lambda c: c["started"]):
        first.setdefault(check["process"], check)
    assert len(first) == 2 and all(check["quiet"] for check in first.values()), first


@dataclass
class SlowDeletes:
    """A layer answering every DELETE a second late: what a check creates and deletes in one call stays on
    the target that long."""

    seconds: float = 1.0

    def adjust(self, state) -> None:
        """It changes no server rule."""

    def wrap(self, app, state):
        async def layer(scope, receive, send):
            if scope["type"] == "http" and scope["method"] == "DELETE":
                await asyncio.sleep(self.seconds)
            await app(scope, receive, send)
        return layer


def test_a_member_made_with_a_guests_username_is_never_met_by_the_guest_checks_of_other_workers(tmp_path):
    """Under the fault guests-creatable, the guest-create check creates a member bearing a guest's userName
    and deletes it in the same call. With that DELETE answered a second late and 4 workers, the guest
    filter and listing checks give the outcomes of a serial run: the create check holds the tenant writing
    until its call ends, and they, quiet_tenant checks, never look meanwhile."""
    with ReferenceServer(layers=[*layers_for(["guests-creatable"]), SlowDeletes()]) as server:
        serial = run_suite(tmp_path / "serial", "-k", "guest", env=external(server))
        parallel = run_suite(tmp_path / "parallel", "-k", "guest", "-n", "4", env=external(server))
    assert serial.failed_requirements() == {"guests.create-rejected"}, serial.stdout[-2000:]
    alone, beside = serial.outcomes(), parallel.outcomes()
    assert {key: (alone.get(key), beside.get(key)) for key in alone.keys() | beside.keys()
            if alone.get(key) != beside.get(key)} == {}
