"""A pytest plugin of bench/suite_runtime.py (`-p timeline`, with bench/ on PYTHONPATH): the timeline of a run.

In the folder BENCH_TIMELINE names, each process of the run (serial, or each xdist worker) writes JSON
lines: one per check (`check`: node id, process, when it started and ended, whether it is a quiet_tenant
check, and when each of its requests left and was answered, by exchange id), and one at its end (`waited`:
the seconds it waited for the quiet tenant, writes and walks, scimcert/quiet.py). Times are time.time().
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

FOLDER = os.environ.get("BENCH_TIMELINE")
PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "main")
_sent: list[tuple[object, float]] = []  # (exchange, when it left) of the check under way
_hooked: set[int] = set()


def _write(record: dict) -> None:
    if FOLDER:
        with open(Path(FOLDER) / f"{PROCESS}.jsonl", "a") as out:
            out.write(json.dumps(record) + "\n")


def _leaves(exchange) -> None:
    _sent.append((exchange, time.time()))


def _run(config):
    from scimcert.plugin import RUN

    return config.stash.get(RUN, None)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    started = time.time()
    _sent.clear()
    try:
        return (yield)
    finally:
        requests = {str(e.id): [left, left + e.elapsed_ms / 1000] for e, left in _sent}
        _write({"kind": "check", "nodeid": item.nodeid, "process": PROCESS, "started": started, "ended": time.time(),
                "quiet": item.get_closest_marker("quiet_tenant") is not None, "requests": requests})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """The run's client exists once a check's fixtures are set up; its hooks before a request are shared by
    the check twins, so hooking it once sees every request (the last hook: after any quiet-tenant wait)."""
    run = _run(item.config)
    if run is not None and run.client is not None and id(run.client) not in _hooked:
        _hooked.add(id(run.client))
        run.client.before_send.append(_leaves)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = _run(session.config)
    waited = getattr(getattr(run, "quiet", None), "waited", None)
    if waited is not None and (run.is_worker or session.config.pluginmanager.get_plugin("dsession") is None):
        _write({"kind": "waited", "process": PROCESS, **waited})
