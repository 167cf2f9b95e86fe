"""A pytest plugin of bench/suite_runtime.py (`-p timeline`, with bench/ on PYTHONPATH): the timeline of a run.

In the folder BENCH_TIMELINE names, each process of the run (serial, or each xdist worker) writes JSON
lines: one per check (`check`: node id, process, when it started and ended, whether it is a quiet_tenant
check, and when each of its requests left and was answered, by exchange id), and two at its end (`waited`:
the seconds it waited for the quiet tenant, writes and walks, scimcert/quiet.py; `writing`: the CPU seconds its
threads spent writing report files while its checks ran, in Allure's file hooks and in the transcript's writes,
and how many Allure files, time.thread_time, so a thread waiting for the GIL counts nothing). Other times are
time.time().
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import allure_commons
import pytest

from scimcert import transcript

FOLDER = os.environ.get("BENCH_TIMELINE")
PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "main")
_sent: list[tuple[object, float]] = []  # (exchange, when it left) of the check under way
_hooked: set[int] = set()
_writing = {"allure": 0.0, "allureFiles": 0, "transcript": 0.0}  # this process's report writing during the checks


class AllureWriting:
    """A wrapper of Allure's file hooks (every registered logger, scimcert.allure_files' among them): their time."""

    @staticmethod
    def _timed(files: int):
        started = time.thread_time()
        yield
        _writing["allure"] += time.thread_time() - started
        _writing["allureFiles"] += files

    @allure_commons.hookimpl(hookwrapper=True)
    def report_result(self, result):
        yield from self._timed(1)

    @allure_commons.hookimpl(hookwrapper=True)
    def report_container(self, container):
        yield from self._timed(0)  # not every container is written (scimcert.allure_files)

    @allure_commons.hookimpl(hookwrapper=True)
    def report_attached_data(self, body, file_name):
        yield from self._timed(1)

    @allure_commons.hookimpl(hookwrapper=True)
    def report_attached_file(self, source, file_name):
        yield from self._timed(1)


def _timed(write):
    def timed(self, record: dict) -> None:
        started = time.thread_time()
        try:
            write(self, record)
        finally:
            _writing["transcript"] += time.thread_time() - started
    return timed


allure_commons.plugin_manager.register(AllureWriting())
transcript.Writer.write = _timed(transcript.Writer.write)


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
    _write({"kind": "writing", "process": PROCESS, **_writing})
