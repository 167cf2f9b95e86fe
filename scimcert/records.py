"""Typed records of a run: one `Result` per (check, requirement), one `CheckRecord` per check.

Checks run in pytest-xdist workers; their records travel to the controller as JSON (`CheckRecord.to_json`
/ `from_json`, the one codec) and every reporter, the mutation runner and the project's tests read these
attributes, not dictionary keys. Findings and exchanges stay plain JSON: they are evidence, written as
they were captured.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# Worst first: a requirement judged in several checks takes the first of these that any of them gave.
OUTCOMES = ("failed", "error", "warning", "passed", "skipped")
HARNESS_ERROR = "harness error"  # the reason prefix of requirements a crashed check left unjudged


@dataclass(frozen=True)
class Result:
    """What one check concluded about one requirement it declared."""

    requirement: str
    level: str
    capability: str
    outcome: str  # one of OUTCOMES
    reason: str = ""  # why a requirement was skipped or errored
    findings: tuple[dict, ...] = ()
    automatic: bool = False  # judged on every response of its kind, whichever check received it

    def to_json(self) -> dict:
        return {**_shallow(self), "findings": list(self.findings)}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        return cls(**{**data, "findings": tuple(data.get("findings", ()))})

    @property
    def failed_findings(self) -> list[dict]:
        return [f for f in self.findings if not f["ok"]]


@dataclass
class CheckRecord:
    """One check (a pytest item): its requirement results and the exchanges it sent."""

    nodeid: str
    check: str
    idp: str | None
    requirements: list[Result]
    outcome: str = "passed"  # passed, failed, skipped or error (the harness crashed)
    doc: str = ""
    exchanges: list[dict] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    duration: float = 0.0
    error: str = ""  # the exception of a crashed check (its type and message)

    @property
    def column(self) -> str:
        """The report column: the IdP profile, or "rfc" for checks that send RFC requests only."""
        return self.idp or "rfc"

    def to_json(self) -> dict:
        return {**_shallow(self), "requirements": [r.to_json() for r in self.requirements]}

    @classmethod
    def from_json(cls, data: dict) -> CheckRecord:
        return cls(**{**data, "requirements": [Result.from_json(r) for r in data["requirements"]]})

    def finished(self, outcome: str, duration: float) -> CheckRecord:
        """This record with the outcome pytest gave the check (a crash stays an error) and its duration."""
        return replace(self, outcome="error" if self.error else outcome, duration=round(duration, 3))


def _shallow(record: Any) -> dict:
    """The record's fields as a dict, sharing (not copying) the evidence: records are written, not edited."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def worst(outcomes: Any) -> str:
    """The most serious of `outcomes` (OUTCOMES order); "skipped" when there is none."""
    found = set(outcomes)
    return next((o for o in OUTCOMES if o in found), "skipped")
