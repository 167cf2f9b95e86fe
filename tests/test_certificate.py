"""A report someone else can check: `scimcert verify` accepts a report as written and names what was changed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from suite_runs import ROOT, run_suite

from scimcert.certificate import catalogue_digest, report_digest


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    reports = tmp_path_factory.mktemp("certified")
    run = run_suite(reports, "--idp", "okta", "--seed", "4242", suites="suites/test_token.py")
    assert run.returncode == 0, run.stdout[-2000:]
    return reports / "conformance.json"


def verify(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scimcert", "verify", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_a_report_as_written_verifies(written):
    document = json.loads(written.read_text("utf-8"))
    certificate = document["certificate"]
    assert certificate["seed"] == document["seed"] == 4242
    assert certificate["catalogueDigest"] == catalogue_digest()
    assert certificate["reportDigest"] == report_digest(document)
    checked = verify(written)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("verified: scimcert ") and "verdict PASS" in checked.stdout
    html = (written.parent / "conformance.html").read_text("utf-8")
    assert certificate["reportDigest"] in html and certificate["catalogueDigest"] in html


@pytest.mark.parametrize(("edit", "named"), [
    (lambda d: d.update(verdict="FAIL", exitStatus=1), "report digest"),
    (lambda d: d["checks"][0]["requirements"][0].update(outcome="failed"), "report digest"),
    (lambda d: d["certificate"].update(catalogueDigest="sha256:" + "0" * 64), "catalogue digest"),
    (lambda d: d.update(seed=1), "report digest"),
], ids=["verdict", "an-outcome", "other-catalogue", "seed"])
def test_an_edited_report_does_not_verify(written, tmp_path, edit, named):
    document = json.loads(written.read_text("utf-8"))
    edit(document)
    changed = tmp_path / "conformance.json"
    changed.write_text(json.dumps(document), "utf-8")
    checked = verify(changed)
    assert checked.returncode == 1 and f"NOT VERIFIED: the {named}" in checked.stdout, checked.stdout


def test_an_unreadable_report_is_a_usage_error(tmp_path):
    broken = tmp_path / "conformance.json"
    broken.write_text("{not json")
    assert verify(broken).returncode == 2
    assert verify(tmp_path / "missing.json").returncode == 2
