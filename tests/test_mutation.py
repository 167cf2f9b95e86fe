"""The suite proves itself: each fault of the reference server, alone, is caught exactly where it should be,
no check crashes, and every verdict the correct server passes is shown able to fail.

One mutation run (scimcert.mutation: the correct server plus every fault, each with every IdP profile,
in-process pytest runs on a pool of worker processes) feeds every test here. Under pytest-xdist the run
happens once per test session: the first worker to need it runs it under a file lock and leaves the
outcomes in the session's shared temporary directory for the others (pytest-xdist's recipe for a
fixture that runs once).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest
from filelock import FileLock
from helpers import MUTATION_TABLE

from scimcert import mutation
from scimcert.reference.faults import FAULTS
from scimcert.requirements import catalogue


def _mutation_run() -> list[mutation.Outcome]:
    started = time.perf_counter()
    found = mutation.run_all(sorted(FAULTS), workers=os.cpu_count() or 2, extra=[])
    MUTATION_TABLE.parent.mkdir(exist_ok=True)
    MUTATION_TABLE.write_text("\n".join(mutation.table(found))
                              + f"\nmutation run: {time.perf_counter() - started:.0f} s for {len(FAULTS)} faults\n")
    return found


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory, worker_id) -> list[mutation.Outcome]:
    if worker_id == "master":  # not under xdist
        return _mutation_run()
    shared = tmp_path_factory.getbasetemp().parent / "mutation-outcomes.json"
    with FileLock(str(shared) + ".lock"):
        if shared.is_file():
            return [mutation.Outcome(**fields) for fields in json.loads(shared.read_text())]
        found = _mutation_run()
        shared.write_text(json.dumps([dataclasses.asdict(o) for o in found]))
    return found


@pytest.fixture(scope="session")
def by_fault(outcomes) -> dict[str, mutation.Outcome]:
    return {o.fault: o for o in outcomes}


def test_correct_server_has_no_false_positive(by_fault):
    baseline = by_fault[mutation.BASELINE]
    assert baseline.exit_code == 0 and baseline.flagged() == []


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_detected_where_it_should_be(by_fault, name):
    """Every requirement the fault declares fails (MUST) or warns (SHOULD) where it is exposed, and nothing
    else fails or warns: a declaration is the fault's exact diagnosis."""
    outcome = by_fault[name]
    assert outcome.declared, f"{name} declares no requirement it breaks"
    missed = [r for r in outcome.declared if not outcome.caught(r)]
    assert outcome.detected, f"{name}: not caught {missed}; failed {outcome.failed}, warned {outcome.warned}"
    assert outcome.stray == [], f"{name}: failed or warned without being declared, or in the wrong profile"


EXPECTED_OUTCOMES = Path(__file__).parent / "expected" / "outcomes.json"


def _as_recorded(outcome: mutation.Outcome) -> dict:
    return {"digest": outcome.digest, "flagged": [" ".join(r) for r in outcome.results if r[3] in mutation.FLAGGED]}


def test_every_run_gives_the_outcomes_on_record(outcomes, by_fault):
    """Optimisations stay honest: the correct server and each fault give, check by check, the very
    requirement outcomes on record in tests/expected/outcomes.json: the failed, warned and errored results
    listed, and all of them (passed and skipped included) by digest. The record changes on purpose only,
    with the change that explains it (SCIMCERT_UPDATE_EXPECTED=1 pytest tests/test_mutation.py -k on_record).
    A fault whose run differs is run once more: the failure says whether that run gives the record (then the
    first was not deterministic) and which results did not end the same, with their reasons."""
    found = {o.fault: _as_recorded(o) for o in outcomes}
    if os.environ.get("SCIMCERT_UPDATE_EXPECTED"):
        EXPECTED_OUTCOMES.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"SCIMCERT_UPDATE_EXPECTED: rewrote {EXPECTED_OUTCOMES.name}; review `git diff` before committing it")
    expected = json.loads(EXPECTED_OUTCOMES.read_text("utf-8"))
    assert sorted(found) == sorted(expected)
    changed = {fault: {"now flagged": sorted(set(found[fault]["flagged"]) - set(wanted["flagged"])),
                       "no longer flagged": sorted(set(wanted["flagged"]) - set(found[fault]["flagged"])),
                       "passed or skipped results changed": found[fault]["digest"] != wanted["digest"]}
               for fault, wanted in expected.items() if found[fault] != wanted}
    for fault, change in changed.items():  # what to look at: the same fault once more, and how the two runs differ
        again = mutation.rerun(fault)
        change["a rerun gives the record"] = _as_recorded(again) == expected[fault]
        change["this run against the rerun"] = mutation.differences(by_fault[fault], again)
    assert changed == {}, f"outcomes differ from the record (rerun one: python -m scimcert.mutation --fault NAME --json FILE): {changed}"


def test_no_check_crashes_in_any_mutation_run(outcomes):
    """A fault of the target is a failure with evidence, never an exception inside a check."""
    assert {o.fault: o.crashes for o in outcomes if o.crashes} == {}


def test_every_pair_that_passes_is_shown_failing_for_its_idp(outcomes):
    """Every (requirement, IdP) pair that passes against the correct server fails (or warns) in at least one
    fault run, in that IdP's column: the proof covers OneLogin and Entra as it covers Okta."""
    found = mutation.coverage(outcomes)
    assert len(found.pairs) > 150
    assert found.unproven_pairs == set()


def test_every_passed_result_could_have_been_false(outcomes):
    """Every (check, requirement) result that passes against the correct server fails (or warns) in at least
    one fault run: no passed result rests only on findings that could not have failed."""
    found = mutation.coverage(outcomes)
    assert len(found.checks) > 800
    assert found.unproven_checks == set()


@pytest.mark.parametrize("level", ["MUST", "SHOULD"])
def test_every_requirement_is_broken_by_some_fault(level):
    declared = {r for fault in FAULTS.values() for r in fault.requirements}
    unbroken = {r.id for r in catalogue().values() if r.level == level} - declared
    assert unbroken == set()


def test_scopes_name_requirements_the_fault_breaks():
    for fault in FAULTS.values():
        assert {r for r, _ in fault.only} <= set(fault.requirements), fault.name
        assert all(set(fault.exposed_in(r)) <= {"okta", "onelogin", "entra", "rfc"} for r in fault.requirements), fault.name


def test_registry_size_and_coverage():
    assert len(FAULTS) >= 154
    per_capability = {}
    for fault in FAULTS.values():
        per_capability[fault.capability] = per_capability.get(fault.capability, 0) + 1
    assert all(count >= 3 for count in per_capability.values()), per_capability


def test_two_runs_that_differ_say_which_results_and_why():
    first = mutation.Outcome("f", 1, why={"suites/t.py::c[okta] r.a skipped": "precondition failed: create answered None",
                                          "suites/t.py::c[okta] r.b failed": "x"})
    second = mutation.Outcome("f", 1, why={"suites/t.py::c[okta] r.a failed": "the update succeeds (actual: 200)",
                                           "suites/t.py::c[okta] r.b failed": "x"})
    assert mutation.differences(first, second) == {
        "only in the first run": ["suites/t.py::c[okta] r.a skipped: precondition failed: create answered None"],
        "only in the second run": ["suites/t.py::c[okta] r.a failed: the update succeeds (actual: 200)"]}
    assert mutation._reason({"reason": "", "findings": [{"ok": True, "message": "fine"},
                                                        {"ok": False, "message": "the user is found", "actual": 0}]}) \
        == "the user is found (actual: 0)"
    assert mutation._reason({"reason": "", "findings": []}) == ""
