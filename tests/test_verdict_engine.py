"""The verdict engine never reports PASS over a failure, and a crash of a check is a harness error.

Each case is a scratch conformance suite of one check, run as a user runs the suite (a subprocess,
the embedded reference server), and read back from every report: the exit code, conformance.json,
junit.xml, conformance.html and the console.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from suite_runs import SuiteRun

HEADER = """import pytest
from scimcert.suites import current
"""

# name → (the check's body, its declared requirements)
CHECKS = {
    "fail_then_skip": ("""
    verdict.check("create.duplicate-409", False, "a duplicate was created", expected=409, actual=201)
    pytest.skip("the rest needs a second user")
""", ("create.duplicate-409", "create.location")),
    "fail_then_precondition_skip": ("""
    verdict.check("create.duplicate-409", False, "a duplicate was created", expected=409, actual=201)
    current(client, idp, "scimcert-no-such-user")  # GET answers 404: the precondition skips
""", ("create.duplicate-409", "create.location")),
    "fail_then_write_refused": ("""
    verdict.check("create.duplicate-409", False, "a duplicate was created", expected=409, actual=201)
    client.raw("POST", "/Users", body={})  # --read-only: refused before it is sent
""", ("create.duplicate-409", "create.location")),
    "warning_then_skip": ("""
    verdict.check("create.duplicate-409", True, "the duplicate was refused", expected=409, actual=409)
    verdict.check("create.round-trip", False, "the title did not come back", expected=409, actual=201)
    pytest.skip("the rest needs a second user")
""", ("create.duplicate-409", "create.round-trip", "create.location")),
    "automatic_finding_then_skip": ("""
    client.send(idp.request("importPage", startIndex=1))  # the fault returns active as a string
    pytest.skip("the rest needs a second user")
""", ("import.walk-complete",)),
    "crash_after_a_finding": ("""
    verdict.check("create.duplicate-409", True, "the duplicate was refused", expected=409, actual=409)
    {}["no such key"]
""", ("create.duplicate-409", "create.location")),
    "crash_before_any_finding": ("""
    raise RuntimeError("a bug in the check")
""", ("create.location",)),
    "pass_then_skip": ("""
    verdict.check("create.duplicate-409", True, "the duplicate was refused", expected=409, actual=409)
    pytest.skip("the rest needs a second user")
""", ("create.duplicate-409", "create.location")),
}


@dataclass
class Case:
    run: SuiteRun
    name: str

    @property
    def record(self) -> dict:
        [check] = self.run.document["checks"]
        return check

    @property
    def outcomes(self) -> dict[str, tuple[str, str]]:
        return {r["requirement"]: (r["outcome"], r.get("reason", "")) for r in self.record["requirements"]}

    @property
    def testcase(self) -> ET.Element:
        [case] = [c for c in self.run.junit().iter("testcase") if c.get("classname") != "scimcert.warnings"]
        return case

    @property
    def junit_outcome(self) -> str:
        children = {child.tag for child in self.testcase} & {"failure", "error", "skipped"}
        return children.pop() if children else "passed"

    @property
    def html(self) -> str:
        return (self.run.reports / "conformance.html").read_text("utf-8")


def scratch_run(tmp_path: Path, name: str, *args: str) -> Case:
    body, requirements = CHECKS[name]
    project = tmp_path / "project"
    (project / "suites").mkdir(parents=True)
    (project / "conftest.py").write_text('pytest_plugins = ["scimcert.plugin"]\n')
    declared = ", ".join(repr(r) for r in requirements)
    (project / "suites" / "test_scratch.py").write_text(
        f"{HEADER}\n\n@pytest.mark.requirement({declared})\ndef test_{name}(idp, client, verdict):{body}")
    reports = tmp_path / "reports"
    finished = subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider",
                               "--rootdir", str(project), "--reports-dir", str(reports), "--idp", "okta", *args],
                              cwd=project, capture_output=True, text=True, timeout=120)
    return Case(SuiteRun(finished.returncode, finished.stdout, finished.stderr, reports), name)


@pytest.mark.parametrize("name, args, why", [
    ("fail_then_skip", [], "the rest needs a second user"),
    ("fail_then_precondition_skip", [], "precondition failed: GET /Users/scimcert-no-such-user answered 404"),
    ("fail_then_write_refused", ["--read-only"], "read-only mode: this check sends POST /Users"),
])
def test_a_must_failure_before_a_skip_fails_the_run(tmp_path, name, args, why):
    case = scratch_run(tmp_path, name, *args)
    assert case.run.returncode == 1, case.run.stdout[-2000:]
    assert case.outcomes["create.duplicate-409"] == ("failed", "")
    assert case.outcomes["create.location"] == ("skipped", why)  # the reason is kept for what was not reached
    assert case.record["outcome"] == "failed"
    document = case.run.document
    assert document["verdict"] == "FAIL" and document["summary"]["mustFailed"] == 1
    assert case.junit_outcome == "failure"
    failure = case.testcase.find("failure")  # what CI views show: the finding and its evidence, not plugin source
    assert failure.get("message").startswith("[create.duplicate-409] MUST: ")
    assert "  a duplicate was created\n  expected: " in failure.text and "  source: " in failure.text
    assert "def pytest_runtest_call" not in failure.text and "Traceback" not in failure.text
    assert "FAIL" in case.html and "create.duplicate-409" in case.html.split("Failures (MUST)")[1]
    assert "scimcert verdict: FAIL (1 MUST requirement(s) failed)" in case.run.stdout
    assert "create      1F 1S" in case.run.stdout
    first = case.run.stdout.splitlines()[0]  # the run tag comes before any check, so a killed run can be swept
    assert first.startswith("scimcert run tag ") and "scimcert sweep --run-tag " in first
    assert f"scimcert sweep --ledger {case.run.reports / 'ledger-'}" in first


def test_a_warning_before_a_skip_is_kept(tmp_path):
    case = scratch_run(tmp_path, "warning_then_skip")
    assert case.run.returncode == 0, case.run.stdout[-2000:]
    assert case.outcomes["create.round-trip"] == ("warning", "")
    assert case.outcomes["create.location"][0] == "skipped"
    assert case.run.document["verdict"] == "PASS"
    assert case.run.document["summary"]["requirements"]["warning"] == 1
    assert case.junit_outcome == "passed"  # a warning is not a failure; CI views list it as a skipped case:
    [warned] = [c for c in case.run.junit().iter("testcase") if c.get("classname") == "scimcert.warnings"]
    assert warned.get("name").startswith("create.round-trip [okta] ") and warned.find("skipped").get("type") == "warning"
    assert "create.round-trip" in warned.find("skipped").get("message") and "expected:" in warned.find("skipped").text
    assert "create.round-trip" in case.html.split("Warnings (SHOULD)")[1]
    assert "ConformanceWarning" in case.run.stdout and "create      1W 1P 1S" in case.run.stdout
    [allure] = [json.loads(p.read_text()) for p in (case.run.reports / "allure-results").glob("*-result.json")]
    assert allure["status"] == "passed"  # Allure has no warning status: the tag and the description say it
    assert {"name": "tag", "value": "scimcert-warning"} in allure["labels"]
    assert {"name": "scimcert_outcome", "value": "warning"} in allure["labels"]
    assert allure["description"].startswith("SHOULD violated") and "create.round-trip" in allure["description"]


def test_a_warning_before_a_skip_fails_under_strict(tmp_path):
    case = scratch_run(tmp_path, "warning_then_skip", "--strict")
    assert case.run.returncode == 1
    assert case.outcomes["create.round-trip"] == ("failed", "")
    assert case.junit_outcome == "failure"
    assert "1 SHOULD requirement(s) failed (--strict)" in case.run.document["why"]


def test_an_automatic_schema_failure_before_a_skip_fails_the_run(tmp_path):
    case = scratch_run(tmp_path, "automatic_finding_then_skip", "--reference-fault", "active-as-string")
    assert case.run.returncode == 1, case.run.stdout[-2000:]
    assert case.outcomes["schema.list-response"][0] == "failed"
    assert case.outcomes["import.walk-complete"][0] == "skipped"
    assert case.junit_outcome == "failure"
    assert case.run.document["verdict"] == "FAIL"
    assert "schema.list-response" in case.html.split("Failures (MUST)")[1]


def test_a_pass_before_a_skip_stays_a_skip(tmp_path):
    case = scratch_run(tmp_path, "pass_then_skip")
    assert case.run.returncode == 0
    assert case.outcomes == {"create.duplicate-409": ("passed", ""),
                             "create.location": ("skipped", "the rest needs a second user")}
    assert case.junit_outcome == "skipped" and case.record["outcome"] == "skipped"


@pytest.mark.parametrize("name, judged, args", [
    ("crash_after_a_finding", {"create.duplicate-409": "passed"}, []),
    ("crash_before_any_finding", {}, []),
    ("crash_after_a_finding", {"create.duplicate-409": "passed"}, ["-n", "2"]),  # the record crosses from a worker
])
def test_a_crash_is_a_harness_error(tmp_path, name, judged, args):
    case = scratch_run(tmp_path, name, *args)
    assert case.run.returncode == 1
    assert case.record["outcome"] == "error" and case.record["error"]
    for requirement, (outcome, reason) in case.outcomes.items():
        if requirement in judged:
            assert outcome == judged[requirement]
        else:
            assert outcome == "error" and reason.startswith("harness error"), reason
    assert case.junit_outcome == "error"
    assert "harness error" in case.testcase.find("error").get("message")
    assert case.run.document["verdict"] == "FAIL"
    assert case.run.document["summary"]["harnessErrors"] == 1
    assert "check(s) crashed inside scimcert" in case.run.document["why"][0]
    assert "HARNESS ERROR in suites/test_scratch.py" in case.run.stdout
    assert "1 error" in case.run.stdout.splitlines()[-2]  # pytest's own line counts it as an error
    assert case.run.stdout.splitlines()[-1].startswith("scimcert verdict: FAIL (1 check(s) crashed inside scimcert")
    assert "Harness errors" in case.html
