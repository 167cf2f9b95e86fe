"""`python -m scimcert.reference` as a user runs it: a real subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from scimcert.paths import DEFAULT_TENANT, ROOT

SERVING = re.compile(r"^Serving SCIM on (http://127\.0\.0\.1:(\d+)(/[^\s]*|))$")
TENANT_DATA = json.loads(DEFAULT_TENANT.read_text("utf-8"))
ALL_TOKENS = [t["token"] for t in TENANT_DATA["tokens"]]
ACTIVE_TOKEN = next(t["token"] for t in TENANT_DATA["tokens"] if t["status"] == "active")
STARTUP_TIMEOUT = 60


class Running:
    """A started CLI server: its base URL, the lines it printed so far, and the process."""

    def __init__(self, process: subprocess.Popen, lines: queue.Queue[str | None]):
        self.process = process
        self._lines = lines
        self.stdout_lines: list[str] = []
        self.stdout = self.stderr = ""
        self.base_url = ""

    def next_line(self, timeout: float = STARTUP_TIMEOUT) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line on stdout within {timeout} s")
        if line is None:
            pytest.fail(f"stdout closed; exit code {self.process.poll()}, stderr: {self.process.stderr.read()}")
        self.stdout_lines.append(line)
        return line.rstrip("\n")

    def client(self, token: str = ACTIVE_TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10,
                            headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json"})


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "scimcert.reference", *args]


@contextmanager
def cli_server(*args: str) -> Iterator[Running]:
    """Start the CLI, read its first stdout line (the URL), yield; then terminate and wait.

    stdout is read by a thread (so a silent process cannot hang the test); after exit `.stdout`
    holds everything it printed and `.stderr` everything it logged.
    """
    process = subprocess.Popen(_argv(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, encoding="utf-8")
    lines: queue.Queue[str | None] = queue.Queue()
    stderr_chunks: list[str] = []

    def pump_stdout() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def pump_stderr() -> None:
        stderr_chunks.append(process.stderr.read())

    threads = [threading.Thread(target=pump_stdout, daemon=True), threading.Thread(target=pump_stderr, daemon=True)]
    for thread in threads:
        thread.start()
    running = Running(process, lines)
    try:
        first = running.next_line()
        match = SERVING.match(first)
        assert match, f"unexpected first line: {first!r}"
        assert 0 < int(match.group(2)) < 65536
        running.base_url = match.group(1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait(timeout=5)
        for thread in threads:
            thread.join(timeout=5)
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                running.stdout_lines.append(line)
        running.stdout = "".join(running.stdout_lines)
        running.stderr = "".join(stderr_chunks)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(_argv(*args), cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def assert_no_token(*texts: str) -> None:
    for text in texts:
        for token in ALL_TOKENS:
            assert token not in text, "a tenant token was printed"


def tenant_file(tmp_path: Path, data: object, name: str = "tenant.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), "utf-8")
    return str(path)


# ---------------------------------------------------------------------------------------------
# Serving


def test_serves_the_tenant_plus_seeded_users_and_prints_no_token():
    with cli_server("--port", "0", "--tenant", "fixtures/tenant.json", "--seed-users", "5") as running:
        with running.client() as client:
            listing = client.get("/Users")
            assert listing.status_code == 200, listing.text
            body = listing.json()
            assert body["totalResults"] == 6  # 1 user in the tenant file + 5 generated
            assert len(body["Resources"]) == 6
            assert "Ada.Lovelace@example.com" in {u["userName"] for u in body["Resources"]}
            ada = client.get("/Users", params={"filter": 'userName eq "ada.lovelace@example.com"'}).json()
            assert ada["totalResults"] == 1
        with running.client(token=TENANT_DATA["tokens"][1]["token"]) as revoked:
            assert revoked.get("/Users").status_code == 401
        assert running.process.poll() is None, "the server exited while serving"
    # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal (so -SIGTERM, or 0 on older uvicorn)
    assert running.process.returncode in (0, -signal.SIGTERM), running.stderr
    assert "Traceback" not in running.stderr, running.stderr
    assert running.stdout_lines[0].startswith("Serving SCIM on http://127.0.0.1:")
    assert len(running.stdout_lines) == 1, running.stdout  # nothing else without --fault
    assert_no_token(running.stdout, running.stderr)


def test_each_start_picks_its_own_free_port():
    with cli_server("--seed-users", "1") as first, cli_server("--seed-users", "2") as second:
        assert first.base_url != second.base_url
        with first.client() as a, second.client() as b:
            assert a.get("/Users").json()["totalResults"] == 2
            assert b.get("/Users").json()["totalResults"] == 3


def test_base_path_option():
    with cli_server("--base-path", "/custom/scim/") as running:
        assert running.base_url.endswith("/custom/scim")
        with running.client() as client:
            assert client.get("/Users").json()["totalResults"] == 1
    assert_no_token(running.stdout, running.stderr)


# ---------------------------------------------------------------------------------------------
# Faults


def test_fault_flag_prints_the_fault_and_changes_the_behaviour():
    query = {"filter": 'userName eq "Ada.Lovelace@example.com"'}
    with cli_server("--seed-users", "5") as correct:
        with correct.client() as client:
            assert client.get("/Users", params=query).json()["totalResults"] == 1
    with cli_server("--port", "0", "--tenant", "fixtures/tenant.json", "--seed-users", "5",
                    "--fault", "filter-ignored") as faulty:
        assert faulty.next_line() == "Faults enabled: filter-ignored"
        with faulty.client() as client:
            body = client.get("/Users", params=query).json()
            assert body["totalResults"] == 6  # the filter was dropped: everybody comes back
            assert len(body["Resources"]) == 6
    assert_no_token(faulty.stdout, faulty.stderr, correct.stdout, correct.stderr)


def test_several_faults_are_listed_in_order():
    with cli_server("--fault", "filter-ignored", "--fault", "filter-no-match-404") as running:
        assert running.next_line() == "Faults enabled: filter-ignored, filter-no-match-404"


def test_list_faults_exits_0_and_names_them():
    result = run_cli("--list-faults")
    assert result.returncode == 0, result.stderr
    names = {line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert {"filter-ignored", "filter-no-match-404"} <= names
    assert_no_token(result.stdout, result.stderr)


def test_unknown_fault_exits_2():
    result = run_cli("--fault", "no-such-fault")
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "no-such-fault" in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------------------------------------
# Refusing bad tenant files (exit code 2, a message on stderr, nothing served)


def _without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


INVALID_TENANTS = {
    "not-json": "{not json",
    "not-an-object": "[]",
    "empty-object": {},
    "no-domains": _without(TENANT_DATA, "domains"),
    "no-tokens": _without(TENANT_DATA, "tokens"),
    "empty-domains": {**TENANT_DATA, "domains": []},
    "unknown-key": {**TENANT_DATA, "colour": "blue"},
    "bad-option": {**TENANT_DATA, "options": {"reactivation": "sometimes"}},
    "bad-token-status": {**TENANT_DATA, "tokens": [{**TENANT_DATA["tokens"][0], "status": "paused"}]},
}


@pytest.mark.parametrize("name", list(INVALID_TENANTS))
def test_invalid_tenant_file_exits_2_with_a_message(tmp_path, name):
    result = run_cli("--port", "0", "--tenant", tenant_file(tmp_path, INVALID_TENANTS[name]))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "tenant" in result.stderr
    assert "Serving SCIM" not in result.stdout and result.stdout == ""


def test_missing_tenant_file_exits_2(tmp_path):
    result = run_cli("--tenant", str(tmp_path / "nowhere.json"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read tenant file"), result.stderr
    assert "nowhere.json" in result.stderr


@pytest.mark.parametrize("guest_name", ["pat.contractor@example.com", "Pat.Contractor@EXAMPLE.org"])
def test_guest_on_an_organization_domain_exits_2(tmp_path, guest_name):
    data = json.loads(json.dumps(TENANT_DATA))
    data["guests"][0]["userName"] = guest_name
    result = run_cli("--port", "0", "--tenant", tenant_file(tmp_path, data))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "guest" in result.stderr and guest_name in result.stderr
    assert result.stdout == ""


def _all_revoked() -> dict:
    data = json.loads(json.dumps(TENANT_DATA))
    for token in data["tokens"]:
        token["status"] = "revoked"
    return data


def _spaced_token() -> dict:
    data = json.loads(json.dumps(TENANT_DATA))
    data["tokens"][1]["token"] = "scimcert revoked token 9876543210"
    return data


@pytest.mark.parametrize("data, secrets", [
    (_all_revoked(), ALL_TOKENS),
    (_spaced_token(), ["scimcert revoked token 9876543210"]),
], ids=["no-active-token", "token-violates-pattern"])
def test_invalid_tenant_error_never_prints_a_token(tmp_path, data, secrets):
    result = run_cli("--tenant", tenant_file(tmp_path, data))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    for secret in secrets:
        assert secret not in result.stderr, result.stderr
        assert secret not in result.stdout
