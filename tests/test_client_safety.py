"""The client's own safety rules, one at a time: 429 waits, read-only refusal, the shared request caps."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from helpers import unique_user_name
from suite_runs import external, run_suite, suite_users

from scimcert.client import MAX_RETRY_AFTER, RETRIES, ScimClient, WriteRefused
from scimcert.redact import Redactor
from scimcert.reference import ReferenceServer
from scimcert.reference.chaos import Chaos, ConnectionDropped
from scimcert.reference.layers import Answer, Rewrite
from scimcert.suites import CORE_USER
from scimcert.throttle import Throttle


def _client(server: ReferenceServer, **options) -> ScimClient:
    return ScimClient(server.base_url, server.token, redactor=Redactor([server.token]), timeout=10, **options)


def _burst(client: ScimClient, count: int):
    return [client.raw("GET", "/Users", query="count=1") for _ in range(count)]


def test_a_429_with_a_short_retry_after_is_waited_out():
    with ReferenceServer(layers=[Chaos(rate_limit=2, retry_after=1)]) as server:
        answers = _burst(_client(server), 4)
    assert [a.status for a in answers] == [200] * 4
    assert any(a.throttled == [1] for a in answers)


def test_a_retry_after_beyond_the_bound_is_not_waited_for():
    with ReferenceServer(layers=[Chaos(rate_limit=1, retry_after=MAX_RETRY_AFTER + 1)]) as server:
        started = time.monotonic()
        answers = _burst(_client(server), 3)
    assert time.monotonic() - started < 5
    assert answers[-1].status == 429 and answers[-1].throttled == []
    assert answers[-1].header("retry-after") == str(MAX_RETRY_AFTER + 1)


def _always_429() -> Rewrite:
    return Rewrite(on_request=lambda ex: Answer.json(429, {"detail": "slow down"}, **{"retry-after": "1"}))


def test_waits_stop_after_the_retries_and_before_the_run_bound():
    with ReferenceServer(layers=[_always_429()]) as server:
        client = _client(server)
        persistent = _burst(client, 1)[0]
        client.deadline = time.monotonic() + 0.5  # the run bound is near: no wait fits
        bounded = _burst(client, 1)[0]
        sent = server.state.requests_by_method["GET"]
    assert sent == RETRIES + 1 + 1
    assert persistent.status == 429 and persistent.throttled == [1] * RETRIES
    assert bounded.status == 429 and bounded.throttled == []


def test_read_only_refuses_a_write_before_sending_it():
    with ReferenceServer() as server:
        client = _client(server, read_only=True)
        assert client.raw("GET", "/Users").status == 200
        with pytest.raises(WriteRefused, match="POST /Users"):
            client.raw("POST", "/Users", body={"userName": "x@example.com"})
        assert set(server.state.requests_by_method) == {"GET"}


@pytest.mark.parametrize("cap", [1, 2])
def test_throttle_caps_turns_held_at_once(tmp_path, cap):
    """Six holders (threads, each with its own Throttle on the same directory, as xdist workers have) never
    hold more than `cap` turns at once."""
    holding, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal holding, peak
        throttle = Throttle(tmp_path, max_in_flight=cap)
        for _ in range(5):
            with throttle.turn():
                with lock:
                    holding += 1
                    peak = max(peak, holding)
                time.sleep(0.01)
                with lock:
                    holding -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == cap


def test_throttle_paces_turns(tmp_path):
    throttle = Throttle(tmp_path, max_rps=20)
    started = time.monotonic()
    for _ in range(11):
        with throttle.turn():
            pass
    assert time.monotonic() - started >= 0.45  # 10 intervals of 1/20 s after the first turn


def test_ctrl_c_during_a_request_waits_for_its_answer():
    """SIGINT arrives while a create is on the wire: the answer is still read and reported to the listeners
    (the cleanup tracker learns the id), then KeyboardInterrupt is raised."""
    reported = []
    with ReferenceServer(layers=[Chaos(latency_ms=1500)]) as server:  # the signal lands well inside the request,
        client = _client(server, listeners=[reported.append])       # also on a machine loaded by a parallel run
        threading.Timer(0.15, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            client.raw("POST", "/Users", body={"schemas": [CORE_USER], "userName": unique_user_name()})
    assert [e.status for e in reported] == [201]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _CreateThenDrop:
    """A target that creates the user, then drops the connection before the 201 is complete."""

    def adjust(self, state) -> None:
        """Changes no server rule."""

    def wrap(self, app, state):
        async def layer(scope, receive, send):
            if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/Users"):
                return await app(scope, receive, send)

            async def swallow(message) -> None:
                """The real answer never leaves the server."""

            await app(scope, receive, swallow)
            await send({"type": "http.response.start", "status": 201,
                        "headers": [(b"content-type", b"application/scim+json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})
            raise ConnectionDropped("created, then dropped")
        return layer


def test_a_create_without_an_answer_is_looked_up_and_cleaned(tmp_path):
    """The suite's creates all lose their answer, yet the target made the users: cleanup finds them by
    userName and removes every one."""
    with ReferenceServer(layers=[_CreateThenDrop()]) as server:
        run = run_suite(tmp_path, "--idp", "okta", suites="suites/test_create.py", env=external(server))
        left = suite_users(server)
    assert run.returncode == 1
    assert left == []
    assert json.loads((tmp_path / "cleanup.json").read_text())["deleted"] >= 3
