"""Safe to point at a real tenant: secrets, read-only mode, request limits, 429s, chaos, run bound,
interruption, TLS. Each test runs the suite as a user would (a subprocess) against a reference server it
starts itself, and measures on the server side what the suite did to it."""

from __future__ import annotations

import base64
import dataclasses
import json
import signal
import time
from urllib.parse import quote

import pytest
from suite_runs import external, run_suite, start_suite, suite_users

from scimcert.reference import ReferenceServer, Tenant
from scimcert.reference.chaos import Chaos
from scimcert.reference.faults import layers_for
from scimcert.reference.layers import Rewrite
from scimcert.schemas import errors

CANARY = "canary-9f2c71e4d8b3a6f0c5e1"
CANARY_REVOKED = "canary-revoked-41d7be90aa23"


def _echo_token() -> Rewrite:
    """A careless server: every answer echoes the Authorization header it received, in a header and,
    for JSON objects, in the body."""
    def on_response(ex, answer) -> None:
        sent = ex.headers.get("authorization", "")
        answer.headers["x-debug-authorization"] = sent
        body = answer.body
        if isinstance(body, dict):
            answer.body = {**body, "debugAuthorization": sent}
    return Rewrite(on_response=on_response)


def canary_tenant() -> Tenant:
    tenant = Tenant.load()
    return dataclasses.replace(tenant, active_tokens=(CANARY,), revoked_tokens=(CANARY_REVOKED,))


def test_canary_token_is_written_nowhere(tmp_path):
    """A whole run with MUST failures, SHOULD warnings, tracebacks with locals and a server that echoes the
    token: neither token, nor its base64 or percent-encoded forms, is in stdout, stderr or any report file."""
    layers = [_echo_token(), *layers_for(["create-lowercases-username", "errors-status-integer"])]
    with ReferenceServer(canary_tenant(), layers=layers) as server:
        run = run_suite(tmp_path, "--showlocals", "--tb=long", "-p", "no:hypothesispytest",
                        env=external(server, SCIM_REVOKED_TOKEN=CANARY_REVOKED))
    assert run.returncode == 1
    assert run.failed_requirements() and run.warned_requirements()
    assert "debugAuthorization" in run.every_output()  # the echo reached the evidence, redacted
    output = run.every_output()
    for secret in (CANARY, CANARY_REVOKED):
        for form in (secret, base64.b64encode(secret.encode()).decode(), quote(secret)):
            assert form not in output
    assert any(path.suffix == ".json" for path in (tmp_path / "allure-results").iterdir())


def test_read_only_sends_no_write(tmp_path):
    """--read-only against a tenant with users: the server sees GETs only, the read checks still judge
    MUST requirements (import, filter), and the report states the mode."""
    with ReferenceServer(seed_users=12) as server:
        run = run_suite(tmp_path, "--read-only", env=external(server))
        methods = dict(server.state.requests_by_method)
    assert set(methods) == {"GET"}, methods
    assert run.returncode == 0, run.stdout[-2000:]
    assert run.document["target"]["readOnly"] is True
    assert any("read-only mode" in line for line in run.document["conduct"])
    judged = {(r["capability"], r["level"]) for _, r in run.results() if r["outcome"] == "passed"}
    assert {("import", "MUST"), ("filter", "MUST"), ("token", "MUST")} <= judged
    reasons = {r.get("reason", "") for _, r in run.results() if r["outcome"] == "skipped"}
    assert any(reason.startswith("read-only mode: this check sends POST") for reason in reasons)


def _peak(cap: str | None, tmp_path) -> tuple[int, int]:
    with ReferenceServer(layers=[Chaos(latency_ms=40)]) as server:
        run = run_suite(tmp_path, "-n", "3", "--idp", "okta", *(["--max-in-flight", cap] if cap else []),
                        suites="suites/test_token.py", env=external(server))
        return server.state.peak_in_flight, run.returncode


def test_in_flight_cap_holds_across_xdist_workers(tmp_path):
    """Three xdist workers against a slow server: with --max-in-flight 1 the server never sees two requests
    at once; without it, it does (so the measurement can tell)."""
    peak, code = _peak("1", tmp_path / "capped")
    assert code == 0 and peak == 1
    peak, code = _peak(None, tmp_path / "free")
    assert code == 0 and peak >= 2


def test_rate_cap_holds_across_xdist_workers(tmp_path):
    """--max-rps 10 with two workers: in no one-second window does the server see more than 10 requests
    (plus the one that opens the window)."""
    with ReferenceServer() as server:
        run = run_suite(tmp_path, "-n", "2", "--idp", "okta", "--max-rps", "10", suites="suites/test_token.py",
                        env=external(server))
        arrivals = sorted(server.state.arrivals)
    assert run.returncode == 0
    assert len(arrivals) > 20
    busiest = max(sum(1 for t in arrivals[i:] if t < start + 1.0) for i, start in enumerate(arrivals))
    assert busiest <= 11, busiest


def test_429_is_waited_out_and_reported(tmp_path):
    """A server allowing 8 requests per second answers 429 with Retry-After 1: the run still passes, and
    the throttling is reported."""
    with ReferenceServer(layers=[Chaos(rate_limit=8, retry_after=1)]) as server:
        run = run_suite(tmp_path, "--idp", "okta", suites="suites/test_token.py", env=external(server))
    assert run.returncode == 0, run.stdout[-2000:]
    waits = [w for check in run.document["checks"] for e in check["exchanges"] for w in e.get("throttled", [])]
    assert waits and set(waits) == {1}
    assert any(line.startswith("throttled:") for line in run.document["conduct"])
    assert "throttled:" in run.stdout


@pytest.mark.parametrize("chaos", [
    Chaos(latency_ms=1500),
    Chaos(error_rate=0.25, seed=3),
    Chaos(reset_rate=0.25, seed=5),
], ids=["slow", "500s", "resets"])
def test_chaos_fails_checks_with_evidence_and_leaves_no_user(tmp_path, chaos):
    """Latency beyond the timeout, 500s, dropped connections: the run ends in time with failed checks that
    carry the evidence (an error or the status), no harness error, and no user of the suite left."""
    started = time.monotonic()
    with ReferenceServer(layers=[chaos]) as server:
        run = run_suite(tmp_path, "--idp", "okta", "--no-preflight", "-p", "no:hypothesispytest",
                        suites="suites/test_create.py", env=external(server, SCIM_TIMEOUT="1"), timeout=300)
        left = suite_users(server)
    assert run.returncode == 1, run.stdout[-2000:]
    assert " error" not in run.stdout.splitlines()[-1], run.stdout.splitlines()[-1]
    assert time.monotonic() - started < 240
    evidence = [f["exchange"] for _, r in run.results() if r["outcome"] == "failed"
                for f in r["findings"] if not f["ok"] and f.get("exchange")]
    assert evidence and all(e["curl"] and (e["error"] or e["status"]) for e in evidence)
    assert errors("conformance.schema.json", run.document) == []
    assert left == []
    known = [u for u in run.document["cleanup"]["leftovers"] if u["id"] is not None]
    assert known == [], known  # users whose create got no answer and whose lookup failed are listed, id unknown
    assert all(u["state"].startswith("possibly created") for u in run.document["cleanup"]["leftovers"])


def test_run_bound_stops_a_slow_run(tmp_path):
    """--max-run-seconds 3 against a slow server: the checks not started by then are skipped with the
    reason, the run fails and says why, and cleanup still removes every user."""
    started = time.monotonic()
    with ReferenceServer(layers=[Chaos(latency_ms=150)]) as server:
        run = run_suite(tmp_path, "--idp", "okta", "--max-run-seconds", "3", env=external(server))
        left = suite_users(server)
    assert time.monotonic() - started < 60
    assert run.returncode == 1
    assert "run time bound reached" in run.stdout
    reasons = [r.get("reason", "") for _, r in run.results() if r["outcome"] == "skipped"]
    assert sum(reason.startswith("run time bound reached") for reason in reasons) > 10
    assert left == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_no_user(tmp_path, signum):
    """The signal arrives while the suite is creating users: it cleans up before it exits."""
    with ReferenceServer(layers=[Chaos(latency_ms=30)]) as server:
        process = start_suite(tmp_path, "--idp", "okta", env=external(server))
        deadline = time.monotonic() + 60
        while len(suite_users(server)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert suite_users(server), "the run created no user to interrupt"
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
        left = suite_users(server)
    assert process.returncode != 0
    assert left == [], output[-2000:]
    cleanup = json.loads((tmp_path / "cleanup.json").read_text())
    assert cleanup["deleted"] >= 3 and cleanup["leftovers"] == []


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    certificate.private_key_pem.write_to_path(str(folder / "key.pem"))
    certificate.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    return folder


@pytest.mark.parametrize("options, passes", [
    ((), False),                  # verification on by default: an unknown CA stops the run at the preflight
    (("--ca-bundle", "{ca}"), True),
    (("--insecure",), True),
], ids=["default", "ca-bundle", "insecure"])
def test_tls_verification(tmp_path, tls_files, options, passes):
    with ReferenceServer(tls=(str(tls_files / "cert.pem"), str(tls_files / "key.pem"))) as server:
        assert server.base_url.startswith("https://")
        args = [o.format(ca=tls_files / "ca.pem") for o in options]
        run = run_suite(tmp_path, "--idp", "okta", *args, suites="suites/test_token.py", env=external(server))
    if not passes:  # an untrusted certificate is a setup mistake: the preflight says so, nothing is judged
        assert run.returncode == 21, run.stdout[-1500:]
        assert "CERTIFICATE_VERIFY_FAILED" in run.stdout and "SCIM_CA_BUNDLE / --ca-bundle" in run.stdout
        assert not (tmp_path / "conformance.json").exists()
        return
    assert run.returncode == 0, run.stdout[-1500:]
    insecure = any("verification was OFF" in line for line in run.document["conduct"])
    assert insecure == ("--insecure" in options)


def test_plain_http_to_a_remote_host_needs_consent(tmp_path):
    env = {"SCIM_BASE_URL": "http://scim.example.net/scim/v2", "SCIM_TOKEN": CANARY}
    refused = run_suite(tmp_path, "--collect-only", env=env)
    assert refused.returncode == 4 and "--allow-http" in refused.stdout + refused.stderr
    accepted = run_suite(tmp_path, "--collect-only", "--allow-http", env=env)
    assert accepted.returncode == 0
    assert CANARY not in refused.stdout + refused.stderr + accepted.stdout + accepted.stderr
