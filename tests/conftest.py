"""Shared fixtures of the project's own tests: reference servers on free loopback ports, and clients."""

from __future__ import annotations

import re
import signal
import threading
import time

import pytest
from helpers import MUTATION_TABLE, scim_client
from suite_runs import run_suite

from scimcert.reference import ReferenceServer, Tenant

STARTED = time.time()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The mutation table and its time, when this run produced one (also under xdist: a shared file)."""
    if MUTATION_TABLE.exists() and MUTATION_TABLE.stat().st_mtime >= STARTED:
        terminalreporter.write_sep("=", "mutation score (tests/test_mutation.py)")
        terminalreporter.write(MUTATION_TABLE.read_text("utf-8"))


PYTHONS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}  # Python's own handling


@pytest.fixture(autouse=True)
def interrupts_as_python_has_them():
    """Every test starts and ends with Python's own SIGINT and SIGTERM handling: a test that leaves a signal
    ignored or held would make later tests of its process ignore Ctrl-C, and so would every suite run they
    start (a child inherits an ignored signal). A test that leaves one changed fails, naming what it left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    for number, handler in PYTHONS.items():
        signal.signal(number, handler)
    yield
    changed = {number.name: signal.getsignal(number) for number, handler in PYTHONS.items()
               if signal.getsignal(number) is not handler}
    for number, handler in PYTHONS.items():
        signal.signal(number, handler)
    if changed:
        pytest.fail(f"the test left signal handling changed: {changed}")


@pytest.fixture(scope="session")
def declared(tmp_path_factory) -> dict[str, set[str]]:
    """requirement ID → the checks (node ids) that declare it, from `pytest suites --collect-only`."""
    run = run_suite(tmp_path_factory.mktemp("collect"), "--collect-only")
    assert run.returncode == 0, run.stdout[-2000:]
    found: dict[str, set[str]] = {}
    for line in run.stdout.splitlines():
        match = re.match(r"\s+(\S+)\s+→\s+(.+)$", line)
        if match:
            for requirement in match.group(2).split(", "):
                found.setdefault(requirement, set()).add(match.group(1))
    assert found, "no requirement listed by --collect-only"
    return found


@pytest.fixture(scope="session")
def tenant() -> Tenant:
    return Tenant.load()


@pytest.fixture(scope="module")
def server(tenant):
    """One correct reference server per test module."""
    with ReferenceServer(tenant) as running:
        yield running


@pytest.fixture
def fresh_server(tenant):
    """A correct reference server of its own, for tests that count or list every user."""
    with ReferenceServer(tenant) as running:
        yield running


@pytest.fixture
def client(server):
    with scim_client(server) as c:
        yield c


@pytest.fixture
def fresh_client(fresh_server):
    with scim_client(fresh_server) as c:
        yield c
