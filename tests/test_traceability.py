"""The RFC traceability table (fixtures/rfc-traceability.json) is complete, consistent with the catalogue
and the checks, and docs/coverage.md is generated from it."""

from __future__ import annotations

import pytest

from scimcert import traceability
from scimcert.requirements import catalogue
from scimcert.verdict import HARNESS_JUDGED

STATEMENTS = traceability.statements()


def test_every_statement_is_listed_once():
    assert [s["n"] for s in STATEMENTS] == list(range(1, 146))


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: str(s["n"]))
def test_every_statement_says_what_judges_it_or_why_nothing_does(statement, declared):
    assert statement["status"] in traceability.STATUSES
    assert statement["section"].startswith(("7643 §", "7644 §")) and statement["quote"] and statement["keyword"]
    if statement["status"] in ("covered", "partial"):
        assert statement["requirements"], "a covered statement names the requirements that judge it"
    if statement["status"] != "covered":
        assert statement["note"], "a statement not covered says what is missing, or why it is out of scope"
    for requirement in statement["requirements"]:
        assert requirement in catalogue(), requirement
        assert requirement in declared or requirement in HARNESS_JUDGED, f"{requirement}: no check judges it"


def test_coverage_document_is_generated_from_the_table():
    assert traceability.COVERAGE.read_text("utf-8") == traceability.render(), \
        "docs/coverage.md is stale: run `python -m scimcert.traceability`"


def test_section_addresses_are_rfc_editor_anchors():
    assert traceability.url("7644 §3.4.2.2 (Table 9)") == "https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2"
    assert traceability.url("7644 §3.9 / 3.10") == "https://www.rfc-editor.org/rfc/rfc7644#section-3.9"
