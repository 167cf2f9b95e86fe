"""The CI recipes of docs/ci.md work as written: both are parsed, and the exact `scimcert run` lines they
contain run (through bash, with the job's own variables) against a reference server standing in for
staging, exit 0 and leave every artifact the job keeps. The install line is checked, not run: the project's
tests never reach the network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scimcert.paths import ROOT
from scimcert.reference import ReferenceServer

DOC = (ROOT / "docs" / "ci.md").read_text("utf-8")
BIN = Path(sys.executable).parent  # where the scimcert command of this environment is


def recipe(heading: str) -> dict:
    section = DOC.split(f"## {heading}\n", 1)[1]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


def github() -> tuple[list[str], dict, list[str]]:
    steps = recipe("GitHub Actions")["jobs"]["scim-conformance"]["steps"]
    commands = [step["run"] for step in steps if "run" in step]
    environment = next(step.get("env", {}) for step in steps if str(step.get("run", "")).startswith("scimcert"))
    kept = next(step["with"]["path"] for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    return commands, environment, kept.split()


def gitlab() -> tuple[list[str], dict, list[str]]:
    job = recipe("GitLab CI")["scim-conformance"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    return job["script"], job.get("variables", {}), job["artifacts"]["paths"]


@pytest.mark.parametrize("read", [github, gitlab], ids=["github-actions", "gitlab-ci"])
def test_the_recipe_runs_as_written_and_keeps_its_reports(tmp_path, read):
    commands, variables, kept = read()
    installs = [c for c in commands if "pip install" in c]
    runs = [c for c in commands if c.startswith("scimcert ")]
    assert installs == ["python -m pip install scimcert"] and len(runs) == 1 and len(commands) == 2
    assert "SCIM_TOKEN" not in runs[0] and "--reports-dir reports" in runs[0]
    with ReferenceServer() as staging:
        secrets = {"SCIM_BASE_URL": staging.base_url, "SCIM_TOKEN": staging.token}  # the CI's variables and secrets
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_"))}
        environment["PATH"] = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
        for name, value in variables.items():
            environment[name] = secrets.get(name, value) if "${{" in str(value) else str(value)
        environment.update(secrets)
        run = subprocess.run(["bash", "-c", runs[0]], cwd=tmp_path, env=environment, capture_output=True, text=True,
                             timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1].startswith(f"scimcert verdict: PASS against {staging.base_url}")
    assert all((tmp_path / path).is_file() for path in kept), kept
    assert staging.token not in run.stdout + run.stderr
