"""The suite proves itself: each fault of the reference server, alone, is caught where it should be.

One mutation run (scimcert.mutation: the correct server plus every fault, in-process pytest runs on a
pool of worker processes) feeds one test per fault. Under pytest-xdist the run happens once per test
session: the first worker to need it runs it under a file lock and leaves the outcomes in the session's
shared temporary directory for the others (pytest-xdist's recipe for a fixture that runs once).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

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
def outcomes(tmp_path_factory, worker_id) -> dict[str, mutation.Outcome]:
    if worker_id == "master":  # not under xdist
        return {o.fault: o for o in _mutation_run()}
    shared = tmp_path_factory.getbasetemp().parent / "mutation-outcomes.json"
    with FileLock(str(shared) + ".lock"):
        if shared.is_file():
            found = [mutation.Outcome(**fields) for fields in json.loads(shared.read_text())]
        else:
            found = _mutation_run()
            shared.write_text(json.dumps([dataclasses.asdict(o) for o in found]))
    return {o.fault: o for o in found}


def test_correct_server_has_no_false_positive(outcomes):
    baseline = outcomes[mutation.BASELINE]
    assert baseline.exit_code == 0 and baseline.failed == [] and baseline.warned == []


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_detected_where_it_should_be(outcomes, name):
    outcome = outcomes[name]
    assert outcome.expected, f"{name} declares no requirement it breaks"
    assert outcome.detected, f"{name}: expected {outcome.expected}, failed {outcome.failed}, warned {outcome.warned}"
    assert outcome.stray == [], f"{name}: requirements of unrelated capabilities failed: {outcome.stray}"


def test_every_must_requirement_is_broken_by_some_fault():
    declared = {r for fault in FAULTS.values() for r in fault.requirements}
    unbroken = {r.id for r in catalogue().values() if r.level == "MUST"} - declared
    assert unbroken == set()


def test_registry_size_and_coverage():
    assert len(FAULTS) >= 60
    per_capability = {}
    for fault in FAULTS.values():
        per_capability[fault.capability] = per_capability.get(fault.capability, 0) + 1
    assert all(count >= 3 for count in per_capability.values()), per_capability
