"""The suite proves itself: each fault of the reference server, alone, is caught where it should be.

One mutation run (scimcert.mutation: the correct server plus every fault, in-process pytest runs on a
pool of worker processes) feeds one test per fault. The module runs in a single xdist group so the
mutation run happens once.
"""

from __future__ import annotations

import os

import pytest

from scimcert import mutation
from scimcert.reference.faults import FAULTS
from scimcert.requirements import catalogue

pytestmark = pytest.mark.xdist_group("mutation")

# The default test command runs the first fault of every capability and IdP scope (CI's time budget);
# SCIMCERT_MUTATION=all runs every fault, as `python -m scimcert.mutation` does.
SAMPLE = sorted({(f.capability, f.idps): name for name, f in sorted(FAULTS.items(), reverse=True)}.values())
SELECTED = sorted(FAULTS) if os.environ.get("SCIMCERT_MUTATION") == "all" else SAMPLE


@pytest.fixture(scope="module")
def outcomes() -> dict[str, mutation.Outcome]:
    found = mutation.run_all(SELECTED, workers=2, extra=[])
    print("\n" + "\n".join(mutation.table(found)))
    return {o.fault: o for o in found}


def test_correct_server_has_no_false_positive(outcomes):
    baseline = outcomes[mutation.BASELINE]
    assert baseline.exit_code == 0 and baseline.failed == [] and baseline.warned == []


@pytest.mark.parametrize("name", SELECTED)
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
