"""The conformance suite against a deliberately hostile server (tests/hostile_server.py).

A server that answers HTML, garbage, invalid UTF-8, half a body, 64 MiB, the wrong Content-Type, an RST,
a redirect, nothing in time, or the caller's own token must not crash the suite: each such answer is a
failed check with evidence, the run exits 1 (failed checks, never 2/3/4: usage error, internal error,
interrupted), its reports are written and valid, it ends within its bound, and no output holds the token.

Each behaviour is run alone against a few quick suites (token, create, import: GETs, POSTs, and PUT/PATCH
where a create seems to succeed); the "mixed" server, which rotates through every behaviour, against all.
Every run is a `pytest suites ...` subprocess, as a user runs it, and belongs to one test (what is
particular to a behaviour is asserted by that behaviour's entry of PARTICULAR), so that no run is repeated
whatever xdist worker a test lands on.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hostile_server import BEHAVIOURS, FAKE_USER_ID, HUGE_SIZE, REDIRECT_PREFIX, HostileServer
from suite_runs import SuiteRun, run_suite

from scimcert import transcript
from scimcert.schemas import describe, errors

CANARY = "canary-tok-4f9e2c71d0b84a6f9e13"  # unreserved characters only: its percent-encoded form is itself
CANARY_FORMS = (CANARY, base64.b64encode(CANARY.encode()).decode(),
                base64.b64encode(f"Bearer {CANARY}".encode()).decode())
SUBSET = ("suites/test_token.py", "suites/test_create.py", "suites/test_import.py")
# Against `slow` every request waits out SCIM_TIMEOUT=1: the subset's 22 requests took 25 s alone and over 30 s
# beside other runs (2 CPUs), so `slow` gets token and create only (16 requests, GETs and POSTs; import's
# GETs meet every other behaviour). The others take ~3-5 s alone, the mixed server against every suite ~10 s.
# The suite's own bound (SCIM_MAX_RUN_SECONDS) comes before WALL_BOUND.
SLOW_SUBSET = SUBSET[:2]
RUN_BOUND = 45      # seconds: SCIM_MAX_RUN_SECONDS of every run
WALL_BOUND = 60     # seconds: a run's wall time, interpreter start and cleanup included
EVIDENCE_CAP = 1024 * 1024  # characters of one response body kept as evidence: far below HUGE_SIZE
REDACTED = "[REDACTED]"


@dataclass
class HostileRun:
    behaviour: str
    run: SuiteRun
    server: HostileServer
    seconds: float

    @property
    def exchanges(self) -> list[dict]:
        """Every exchange of the run, from its transcript(s), cleanup included."""
        return list(transcript.records(self.run.reports))

    def evidence(self) -> list[dict]:
        """The exchanges attached to failed findings of failed requirements."""
        return [finding["exchange"] for _, result in self.run.results() if result["outcome"] == "failed"
                for finding in result["findings"] if not finding["ok"] and finding["exchange"]]


def hostile_run(behaviour: str, reports: Path) -> HostileRun:
    """`pytest suites ...` against a fresh server with `behaviour` (stopped after): SUBSET (SLOW_SUBSET for
    `slow`), or every suite against the mixed server; without the preflight, which would stop a run against
    such a server before the checks these tests judge (tests/test_preflight.py)."""
    suites = {"mixed": ("suites",), "slow": SLOW_SUBSET}.get(behaviour, SUBSET)
    with HostileServer(behaviour=behaviour) as server:
        started = time.monotonic()
        run = run_suite(reports, "--no-preflight", *suites[1:], suites=suites[0], timeout=3 * WALL_BOUND, env={
            "SCIM_BASE_URL": f"{server.url}/scim/v2", "SCIM_TOKEN": CANARY, "SCIM_TIMEOUT": "1",
            "SCIM_IDPS": "okta", "SCIM_MAX_RUN_SECONDS": str(RUN_BOUND)})
        return HostileRun(behaviour, run, server, time.monotonic() - started)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _content_type(exchange: dict) -> str:
    return (exchange["responseHeaders"] or {}).get("content-type", "")


# What an exchange with each behaviour looks like in the evidence (a transcript or conformance.json record).
SIGNATURES = {
    "html": lambda e: e["status"] == 500 and "<html" in e["responseBody"] and _content_type(e).startswith("text/html"),
    "not-json": lambda e: e["status"] == 200 and e["responseBody"] == "OK" and _content_type(e) == "text/plain",
    "invalid-utf8": lambda e: e["status"] == 200 and "\ufffd" in e["responseBody"],
    "truncated": lambda e: e["status"] == 200 and e["responseBody"].startswith('{"schemas"')
    and len(e["responseBody"]) < 1000 and not _is_json(e["responseBody"]),
    "huge": lambda e: e["status"] == 200 and '"userName":"' + "x" * 1000 in e["responseBody"]
    and len(e["responseBody"]) <= EVIDENCE_CAP,
    "wrong-content-type": lambda e: e["status"] == 204 or (_content_type(e).startswith("text/html")
                                                           and _is_json(e["responseBody"])),
    "reset": lambda e: e["status"] is None and bool(e["error"]) and "timeout" not in e["error"].lower(),
    "redirect": lambda e: e["status"] == 302 and REDIRECT_PREFIX in (e["responseHeaders"] or {}).get("location", ""),
    "slow": lambda e: e["status"] is None and "timeout" in (e["error"] or "").lower(),
    "echo-token": lambda e: e["status"] == 401 and "x-debug-auth" in (e["responseHeaders"] or {}),
}


def assert_survived(hostile: HostileRun) -> None:
    """Failed checks (exit 1), no harness error, valid reports with evidence, in time, no token anywhere."""
    run, tail = hostile.run, hostile.run.stdout[-3000:]
    assert run.returncode == 1, f"exit {run.returncode} (2 usage error, 3 internal error, 4 interrupted)\n{tail}"
    assert "INTERNALERROR" not in run.stdout + run.stderr, tail
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert not re.search(r"^ERROR\b", run.stdout, re.M), tail  # an error in a fixture's setup or teardown
    summary = [line for line in run.stdout.splitlines() if line.strip()][-1]
    assert " failed" in summary and "error" not in summary, summary  # e.g. "9 failed, 11 skipped, ... in 1.2s"
    assert list(run.junit().iter("error")) == [], tail

    document = run.document
    problems = errors("conformance.schema.json", document)
    assert problems == [], [describe(p) for p in problems[:5]]
    assert document["verdict"] == "FAIL" and document["exitStatus"] == 1
    assert not [r for _, r in run.results() if r["outcome"] == "error"]
    assert any(e.get("curl") or e.get("error") for e in hostile.evidence()), "no failed finding carries an exchange"

    assert hostile.seconds < WALL_BOUND, f"{hostile.behaviour}: {hostile.seconds:.1f} s"
    output = run.every_output()
    for form in CANARY_FORMS:
        assert form not in output, f"the token ({form}) is in the output"

    # Zero users behind: the hostile server stores nothing; the run attempted creates and reports no leftover
    # but, at most, the one fake id the server hands out (a mixed server may refuse the cleanup DELETE).
    assert hostile.server.posts_with_body > 0
    leftovers = document["cleanup"]["leftovers"]
    assert {left["id"] for left in leftovers if left["id"] is not None} <= {FAKE_USER_ID}
    # a create that got no answer, whose lookup got none either, is listed with its userName, id unknown
    assert all(left["state"].startswith("possibly created") for left in leftovers if left["id"] is None)


def huge_is_read_up_to_a_cap(hostile: HostileRun) -> None:
    """64 MiB answers: the client stops reading well before the end (the server counts what it could write
    before the client hung up), and the evidence kept of each is far smaller than the body."""
    sent = hostile.server.huge_bytes_sent
    assert sent and max(sent) < HUGE_SIZE // 2, f"body bytes the server could send per huge response: {sent}"
    bodies = [len(e["responseBody"]) for e in [*hostile.exchanges, *hostile.evidence()]]
    assert bodies and max(bodies) <= EVIDENCE_CAP, max(bodies)
    sizes = {path.name: path.stat().st_size for path in hostile.run.reports.rglob("*") if path.is_file()}
    assert max(sizes.values()) < 16 * 1024 * 1024, sizes


def echoed_token_is_redacted(hostile: HostileRun) -> None:
    """The server repeats the Authorization header in its body, WWW-Authenticate and X-Debug-Auth (and the
    credential in base64): the token reached it, the evidence was kept, but only redacted (and
    assert_survived found no form of the token in any output)."""
    assert any(CANARY in value for value in hostile.server.authorizations), "the canary never reached the server"
    echoed = [e for e in hostile.exchanges if e["status"] == 401 and REDACTED in e["responseBody"]]
    assert echoed, "no echo of the token was kept as (redacted) evidence"
    assert any(REDACTED in e["responseHeaders"].get("x-debug-auth", "") for e in echoed)
    assert any(REDACTED in e["responseHeaders"].get("www-authenticate", "") for e in echoed)


def redirect_is_not_followed(hostile: HostileRun) -> None:
    """302 to another URL on 127.0.0.1: no request ever went there."""
    assert [p for p in hostile.server.paths if p.startswith(REDIRECT_PREFIX)] == []


def content_type_is_flagged(hostile: HostileRun) -> None:
    """SCIM JSON labelled text/html: errors.content-type is reported (a SHOULD: a warning; under --strict
    a failure)."""
    assert "errors.content-type" in hostile.run.warned_requirements() | hostile.run.failed_requirements()


PARTICULAR = {"huge": huge_is_read_up_to_a_cap, "echo-token": echoed_token_is_redacted,
              "redirect": redirect_is_not_followed, "wrong-content-type": content_type_is_flagged}


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS, key=lambda name: name != "slow"))  # longest first
def test_each_hostile_behaviour_is_a_failed_check_with_evidence(behaviour, tmp_path):
    """One behaviour against the token, create and import suites: the run survives (assert_survived), every
    exchange of the run shows that behaviour and one per request (nothing lost), the evidence of the
    failures includes it, and what is particular to the behaviour holds (PARTICULAR)."""
    hostile = hostile_run(behaviour, tmp_path)
    assert_survived(hostile)
    signature = SIGNATURES[behaviour]
    exchanges = hostile.exchanges
    assert exchanges and [e for e in exchanges if not signature(e)] == []
    assert len(hostile.server.served) == len(exchanges) and set(hostile.server.served) == {behaviour}
    assert any(signature(e) for e in hostile.evidence())
    PARTICULAR.get(behaviour, lambda _: None)(hostile)


def test_every_suite_survives_a_server_rotating_through_every_behaviour(tmp_path):
    """The mixed server (behaviour n mod 10 for request n) against every suite: the run survives, every
    behaviour was met and shows in the transcript, and the redirects were not followed."""
    hostile = hostile_run("mixed", tmp_path)
    assert_survived(hostile)
    assert set(hostile.server.served) == set(BEHAVIOURS)
    exchanges = hostile.exchanges
    assert len(exchanges) == len(hostile.server.served)
    missing = [name for name, signature in SIGNATURES.items() if not any(signature(e) for e in exchanges)]
    assert missing == [], missing
    redirect_is_not_followed(hostile)


# ---- the hostile server itself (so that the tests above cannot pass against a server that behaves) ------------

@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_the_hostile_server_misbehaves_as_named(behaviour):
    """One POST with a token, read by a plain httpx client up to 4 MiB: the answer is what the behaviour's
    name says, and the server counted the request and its body."""
    cap = 4 * 1024 * 1024
    with HostileServer(behaviour=behaviour, slow_delay=1.5) as server, \
            httpx.Client(timeout=0.5, follow_redirects=False) as client:
        started = time.monotonic()
        try:
            with client.stream("POST", f"{server.url}/scim/v2/Users", json={"userName": "x"},
                               headers={"Authorization": f"Bearer {CANARY}"}) as response:
                body = bytearray()
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > cap:
                        break
        except httpx.HTTPError as exc:
            failure, response = exc, None
        else:
            failure = None
        elapsed = time.monotonic() - started
    assert server.requests_by_method == {"POST": 1} and server.posts_with_body == 1 and server.served == [behaviour]
    expected = {
        "html": lambda: response.status_code == 500 and b"<html>" in body,
        "not-json": lambda: response.status_code == 200 and body == b"OK",
        "invalid-utf8": lambda: _fails(lambda: body.decode("utf-8")) and body.startswith(b'{"schemas"'),
        "truncated": lambda: len(body) == int(response.headers["content-length"]) and _fails(lambda: json.loads(body)),
        "huge": lambda: len(body) > cap and response.headers.get("transfer-encoding") == "chunked",
        "wrong-content-type": lambda: response.headers["content-type"].startswith("text/html") and json.loads(body),
        "reset": lambda: isinstance(failure, (httpx.ReadError, httpx.RemoteProtocolError)),
        "redirect": lambda: response.status_code == 302 and REDIRECT_PREFIX in response.headers["location"],
        "slow": lambda: isinstance(failure, httpx.ReadTimeout) and elapsed < 1.5,
        "echo-token": lambda: response.status_code == 401 and CANARY in response.headers["x-debug-auth"]
        and CANARY in body.decode() and base64.b64encode(CANARY.encode()).decode() in body.decode(),
    }[behaviour]
    assert expected(), (behaviour, failure, response)
    assert elapsed < 5


def test_the_hostile_server_keeps_serving_while_one_request_waits():
    """`slow` sleeps without blocking the loop: a second connection is answered meanwhile, and stopping the
    server does not wait for the sleeper."""
    started = time.monotonic()
    with HostileServer(behaviour="mixed", slow_delay=30) as server, httpx.Client(timeout=5) as client:
        server.served.extend(["(skipped)"] * list(BEHAVIOURS).index("slow"))  # so the next request gets `slow`
        with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=0.3) as impatient:
            impatient.get(f"{server.url}/scim/v2/Users")
        answered = time.monotonic()
        assert client.get(f"{server.url}/scim/v2/Users").status_code == 401  # echo-token, served at once
        assert time.monotonic() - answered < 2
    assert time.monotonic() - started < 5


def _fails(action) -> bool:
    try:
        action()
    except ValueError:
        return True
    return False
