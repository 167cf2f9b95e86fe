"""Catalogue integrity: requirements, checks and fixtures agree with each other and with their schemas."""

from __future__ import annotations

import json
import re

import pytest

from scimcert.paths import FIXTURES
from scimcert.profiles import profiles
from scimcert.reference.tenant import Tenant
from scimcert.requirements import catalogue
from scimcert.schemas import describe, errors
from scimcert.verdict import HARNESS_JUDGED as JUDGED_BY_HARNESS  # judged on every response (Verdict.absorb)


def test_every_declared_requirement_exists(declared):
    assert set(declared) <= set(catalogue())


def test_every_must_requirement_has_a_check(declared):
    unchecked = {r.id for r in catalogue().values() if r.level == "MUST"} - set(declared) - JUDGED_BY_HARNESS
    assert unchecked == set()


def test_every_requirement_is_judged_somewhere(declared):
    assert set(catalogue()) - set(declared) - JUDGED_BY_HARNESS == set()


def test_requirement_statements_are_unique_facts():
    statements = [r.statement for r in catalogue().values()]
    assert len(statements) == len(set(statements))
    for statement in statements:
        assert not re.match(r"(?i)(test|check|verify|ensure)\b", statement), statement
        assert not re.search(r"(?i)\bshould\b", statement), statement
        assert statement.endswith("."), statement


def test_requirement_ids_name_their_capability():
    for requirement in catalogue().values():
        assert requirement.id.split(".")[0] == requirement.capability, requirement.id


@pytest.mark.parametrize("path", sorted((FIXTURES / "idps").glob("*.json")), ids=lambda p: p.stem)
def test_every_profile_fixture_validates(path):
    problems = errors("idp-profile.schema.json", json.loads(path.read_text()))
    assert problems == [], [describe(p) for p in problems]
    assert json.loads(path.read_text())["id"] in profiles()


def test_tenant_fixture_validates():
    problems = errors("tenant.schema.json", json.loads((FIXTURES / "tenant.json").read_text()))
    assert problems == [], [describe(p) for p in problems]
    assert Tenant.load().active_tokens and Tenant.load().revoked_tokens


def test_catalogue_fixture_validates():
    problems = errors("requirements.schema.json", json.loads((FIXTURES / "requirements.json").read_text()))
    assert problems == [], [describe(p) for p in problems]
