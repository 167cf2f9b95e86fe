"""Typed records of a run: one `Result` per (check, requirement), one `CheckRecord` per check.

Checks run in pytest-xdist workers; their records travel to the controller as JSON (`CheckRecord.to_json`
/ `from_json`, the one codec) and every reporter, the mutation runner and the project's tests read these
attributes, not dictionary keys. Findings and exchanges stay plain JSON: they are evidence, written as
they were captured. conformance.json writes a check as `CheckRecord.report_json` gives it: the same, less
what is empty or said once for the run (the check's doc, in the report's `checkDocs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cache
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

    def report_json(self) -> dict:
        """The result as conformance.json has it: `reason` only when there is one, `automatic` only when true, and
        a passed finding that names its
        exchange(s) by reference only: its message and the exchange ids (what was expected and found is in the
        transcript, under those ids). A failed finding keeps everything: expected vs actual, its exchange in
        full (request, response, curl line)."""
        found = {"requirement": self.requirement, "level": self.level, "capability": self.capability,
                 "outcome": self.outcome, "findings": [_reported(f) for f in self.findings]}
        if self.reason:
            found["reason"] = self.reason
        if self.automatic:
            found["automatic"] = True
        return found

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

    @property
    def test_id(self) -> str:
        """The check without its parameters (the nodeid up to "["): the key of its doc in conformance.json."""
        return self.nodeid.split("[", 1)[0]

    def report_json(self) -> dict:
        """The check as conformance.json has it: its doc is the report's `checkDocs[test_id]` (one per test
        function, not one per parameter set); an exchange summary names the exchange (id, step, method, URL,
        status, the 429s waited out and why no answer came, each only when there is one): its time and all else are in
        the transcript."""
        return {"nodeid": self.nodeid, "check": self.check, "idp": self.idp,
                "requirements": [r.report_json() for r in self.requirements], "outcome": self.outcome,
                "exchanges": [_summary(e) for e in self.exchanges],
                "variants": self.variants, "duration": self.duration, "error": self.error}

    def finished(self, outcome: str, duration: float) -> CheckRecord:
        """This record with the outcome pytest gave the check (a crash stays an error) and its duration."""
        return replace(self, outcome="error" if self.error else outcome, duration=round(duration, 3))


def _shallow(record: Any) -> dict:
    """The record's fields as a dict, sharing (not copying) the evidence: records are written, not edited."""
    return {name: getattr(record, name) for name in _names(type(record))}


@cache
def _names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _summary(exchange: dict) -> dict:
    return {k: v for k, v in exchange.items() if k != "elapsedMs" and (k not in ("error", "throttled") or v)}


def _reported(finding: dict) -> dict:
    """A finding as conformance.json has it (Result.report_json)."""
    if not finding["ok"]:
        return finding
    referred = bool(finding.get("exchangeId") or finding.get("exchangeIds"))
    return {k: v for k, v in finding.items()
            if not (referred and k in ("expected", "actual")) and not (k == "exchangeIds" and not v)}


def worst(outcomes: Any) -> str:
    """The most serious of `outcomes` (OUTCOMES order); "skipped" when there is none."""
    found = set(outcomes)
    return next((o for o in OUTCOMES if o in found), "skipped")
