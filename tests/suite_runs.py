"""Running the conformance suite as a user would (a subprocess), for the project's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from scimcert import transcript
from scimcert.config import ENV
from scimcert.reference import Tenant

ROOT = Path(__file__).resolve().parent.parent
SCIM_ENV = (*ENV, "SCIM_TOKEN", "SCIM_REVOKED_TOKEN")


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path

    @cached_property
    def document(self) -> dict:
        return json.loads((self.reports / "conformance.json").read_text("utf-8"))

    def results(self) -> list[tuple[dict, dict]]:
        return [(check, result) for check in self.document["checks"] for result in check["requirements"]]

    def outcomes(self) -> dict[tuple[str, str], str]:
        """(nodeid, requirement) → outcome."""
        return {(check["nodeid"], result["requirement"]): result["outcome"] for check, result in self.results()}

    def failed_requirements(self) -> set[str]:
        return {result["requirement"] for _, result in self.results() if result["outcome"] == "failed"}

    def warned_requirements(self) -> set[str]:
        return {result["requirement"] for _, result in self.results() if result["outcome"] == "warning"}

    def harness_errors(self) -> list[str]:
        """Checks that crashed inside scimcert (outcome error), with their exception."""
        return [f"{check['nodeid']}: {check.get('error')}" for check in self.document["checks"]
                if check["outcome"] == "error"]

    @cached_property
    def transcript(self) -> dict[str, dict]:
        """Every exchange of the run in full, by id (a report keeps only summaries of those it needs not as
        evidence)."""
        return {record["id"]: record for record in transcript.records(self.reports)}

    def exchanges(self, check: dict) -> list[dict]:
        """The full records of a check's exchanges (conformance.json's summaries, looked up in the transcript)."""
        return [self.transcript[summary["id"]] for summary in check["exchanges"]]

    def junit(self) -> ET.Element:
        return ET.parse(self.reports / "junit.xml").getroot()

    def every_output(self) -> str:
        """stdout, stderr and every report file, as text (for secret scans; the transcripts decompressed)."""
        texts = [self.stdout, self.stderr]
        for path in self.reports.rglob("*"):
            if path.is_file():
                texts.append(transcript.text(path) if path.name.endswith(".gz") else
                             path.read_text("utf-8", errors="replace"))
        return "\n".join(texts)


def run_suite(reports: Path, *args: str, env: dict | None = None, suites: str = "suites",
              timeout: float = 600) -> SuiteRun:
    """`python -m pytest suites ...` from the repository root, with a clean SCIM_* environment plus `env`.

    Every run asserts that no check crashed inside scimcert: hostile, chaotic, killed or faulty targets
    give failed checks with evidence, never a harness error."""
    command, environment = _suite_command(reports, args, env, suites)
    finished = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)
    run = SuiteRun(finished.returncode, finished.stdout, finished.stderr, reports)
    if (reports / "conformance.json").is_file():  # whatever the target did, no check may crash (outcome error)
        assert run.harness_errors() == [], run.harness_errors()
    return run


def start_suite(reports: Path, *args: str, env: dict | None = None, suites: str = "suites") -> subprocess.Popen:
    """`run_suite`, started in the background (stdout and stderr together, as text) for a test that
    interrupts it or its target."""
    command, environment = _suite_command(reports, args, env, suites)
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _suite_command(reports: Path, args: tuple[str, ...], env: dict | None, suites: str) -> tuple[list[str], dict]:
    environment = {k: v for k, v in os.environ.items() if k not in SCIM_ENV and not k.startswith("PYTEST_")}
    environment.update(env or {})
    return ([sys.executable, "-m", "pytest", suites, "-q", "-p", "no:cacheprovider", "--reports-dir", str(reports),
             *args], environment)


def external(server, **env: str) -> dict:
    """The environment of a run against `server` (a ReferenceServer) as an external target: its URL,
    token and revoked token, organization domains and guests, plus `env`."""
    tenant = server.tenant
    return {"SCIM_BASE_URL": server.base_url, "SCIM_TOKEN": tenant.token,
            "SCIM_REVOKED_TOKEN": tenant.revoked_tokens[0] if tenant.revoked_tokens else "",
            "SCIM_ORG_DOMAINS": ",".join(tenant.domains),
            "SCIM_GUESTS": ",".join(f"{g.userName}={g.id}" for g in tenant.guests), **env}


def suite_users(server, prefix: str = "scimcert.") -> list[str]:
    """The userNames of users the suite created that are still on `server` (read from its store: a
    chaotic server would garble an HTTP listing); with `prefix`, one run's (Scimcert.<tag>.)."""
    return list(stored_users(server, prefix).values())


def stored_users(server, prefix: str = "scimcert.") -> dict[str, str]:
    """id → userName of the users on `server` whose userName starts with `prefix` (case-insensitively)."""
    _, users = server.state.store.query(None, 1, 10**6)
    return {u["id"]: u["userName"] for u in users if u["userName"].lower().startswith(prefix.lower())}


TENANT_TOKENS = [*Tenant.load().active_tokens, *Tenant.load().revoked_tokens]


def sweep(server, *args: str, token: str | None = "default") -> subprocess.CompletedProcess:
    """`python -m scimcert sweep ARGS` against `server` (SCIM_BASE_URL and SCIM_TOKEN set unless None),
    from the repository root, with no other SCIM_* variable of this process. Asserts the token never shows."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_"))}
    if server is not None:
        environment["SCIM_BASE_URL"] = server.base_url
    if token is not None:
        environment["SCIM_TOKEN"] = server.token if token == "default" else token
    finished = subprocess.run([sys.executable, "-m", "scimcert", "sweep", *args], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=120)
    secrets = {environment.get("SCIM_TOKEN"), *TENANT_TOKENS} - {None, ""}
    for secret in secrets:
        assert secret not in finished.stdout + finished.stderr, "the token was printed"
    return finished
