"""Verdicts: each check records, per requirement it declares, what it expected and what it got.

A MUST violation fails the check; a SHOULD violation is a warning (a failure under --strict);
a MAY feature not offered is skipped with a reason. A check never asserts outside this module,
so every failure names a requirement and carries its evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .client import Exchange
from .requirements import Requirement, lookup

OUTCOMES = ("passed", "failed", "warning", "skipped", "error")
# Requirements judged on every response of their kind, whichever check received it.
AUTOMATIC = {"user": "schema.user", "user-list": "schema.list-response", "error": "errors.scim-error-body"}


class ConformanceFailure(AssertionError):
    """Raised at the end of a check (or at a `require`) when a MUST requirement is violated."""


class NotReached(Exception):
    """Raised by `require` to stop a check whose later steps depend on the failed one."""


@dataclass
class Finding:
    """One expectation about one requirement, with its evidence."""

    requirement: str
    ok: bool
    message: str
    expected: Any = None
    actual: Any = None
    exchange: Exchange | None = None

    def record(self) -> dict:
        return {
            "requirement": self.requirement, "ok": self.ok, "message": self.message,
            "expected": _jsonable(self.expected), "actual": _jsonable(self.actual),
            "exchange": self.exchange.record() if self.exchange else None,
        }


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


@dataclass
class Verdict:
    """The findings of one check, keyed by the requirements it declared."""

    declared: list[Requirement]
    strict: bool = False
    findings: list[Finding] = field(default_factory=list, repr=False)  # reprs stay short in tracebacks
    skipped: dict[str, str] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list, repr=False)

    @classmethod
    def for_ids(cls, ids: list[str], strict: bool = False) -> Verdict:
        return cls(lookup(ids), strict)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.declared]

    def requirement(self, requirement_id: str) -> Requirement:
        for requirement in self.declared:
            if requirement.id == requirement_id:
                return requirement
        raise KeyError(f"{requirement_id} is not declared by this check (declared: {', '.join(self.ids)})")

    def check(self, requirement_id: str, ok: bool, message: str, *, expected: Any = None, actual: Any = None,
              exchange: Exchange | None = None) -> bool:
        """Record one expectation; returns `ok` so checks can branch on it."""
        self.requirement(requirement_id)
        self.findings.append(Finding(requirement_id, bool(ok), message, expected, actual, exchange))
        return bool(ok)

    def require(self, requirement_id: str, ok: bool, message: str, **evidence: Any) -> None:
        """Like `check`, but a failure stops the check: what follows depends on it."""
        if not self.check(requirement_id, ok, message, **evidence):
            raise NotReached(f"{requirement_id}: {message}")

    def absorb(self, exchange: Exchange) -> None:
        """Every response a check receives is judged against its schema, automatically.

        Users, lists and errors are validated (schema.user, schema.list-response,
        errors.scim-error-body, errors.status-string), the IdP overlay is applied
        (schema.idp-readable), and JSON bodies must be labelled application/scim+json.
        """
        self.exchanges.append(exchange)
        requirement_id = AUTOMATIC.get(exchange.kind or "")
        if requirement_id is None:
            return
        status_type = [v for v in exchange.violations if v.pointer == "/status" and exchange.kind == "error"]
        others = [v for v in exchange.violations if v not in status_type]
        self._judge(requirement_id, others, exchange)
        if exchange.kind == "error":
            self._judge("errors.status-string", status_type, exchange)
        if exchange.idp_violations or exchange.kind in ("user", "user-list"):
            self._judge("schema.idp-readable", exchange.idp_violations, exchange)
        if exchange.is_json:
            content_type = exchange.content_type
            self._declare("errors.content-type")
            self.check("errors.content-type", content_type.startswith("application/scim+json"),
                       "the response is labelled application/scim+json",
                       expected="application/scim+json", actual=content_type or "(none)", exchange=exchange)

    def _judge(self, requirement_id: str, violations: list, exchange: Exchange) -> None:
        self._declare(requirement_id)
        self.check(requirement_id, not violations,
                   f"the {exchange.kind} response of {exchange.label} is valid" if not violations
                   else f"the {exchange.kind} response of {exchange.label} violates its schema",
                   expected="no schema violation" if violations else None,
                   actual="; ".join(str(v) for v in violations) if violations else None,
                   exchange=exchange if violations else None)

    def _declare(self, requirement_id: str) -> None:
        if requirement_id not in self.ids:
            self.declared += lookup([requirement_id])

    def skip(self, requirement_id: str, reason: str) -> None:
        """A requirement this check cannot judge against this target (not offered, not configured)."""
        self.requirement(requirement_id)
        self.skipped[requirement_id] = reason

    def skip_unjudged(self, reason: str) -> None:
        """The check stopped (skipped): each declared requirement it has not judged yet is skipped."""
        for requirement in self.declared:
            if not any(f.requirement == requirement.id for f in self.findings):
                self.skipped.setdefault(requirement.id, reason)

    # ---- outcomes ------------------------------------------------------------------------

    def outcome_of(self, requirement: Requirement) -> str:
        mine = [f for f in self.findings if f.requirement == requirement.id]
        if any(not f.ok for f in mine):
            return "failed" if requirement.level == "MUST" or self.strict else "warning"
        if mine:
            return "passed"
        return "skipped"

    def reason_of(self, requirement: Requirement) -> str:
        if requirement.id in self.skipped:
            return self.skipped[requirement.id]
        failed = [f for f in self.findings if not f.ok]
        if not any(f.requirement == requirement.id for f in self.findings) and failed:
            return f"not reached: {failed[0].requirement} failed first"
        return ""

    def results(self) -> list[dict]:
        """One result per declared requirement."""
        out = []
        for requirement in self.declared:
            mine = [f for f in self.findings if f.requirement == requirement.id]
            out.append({
                "requirement": requirement.id, "level": requirement.level, "capability": requirement.capability,
                "outcome": self.outcome_of(requirement), "reason": self.reason_of(requirement),
                "findings": [f.record() for f in mine],
            })
        return out

    @property
    def failures(self) -> list[Finding]:
        failing = {r.id for r in self.declared if self.outcome_of(r) == "failed"}
        return [f for f in self.findings if not f.ok and f.requirement in failing]

    @property
    def warnings(self) -> list[Finding]:
        warned = {r.id for r in self.declared if self.outcome_of(r) == "warning"}
        return [f for f in self.findings if not f.ok and f.requirement in warned]

    def report(self, findings: list[Finding]) -> str:
        """A failure message a vendor can act on: requirement, expected vs actual, request, excerpt, curl."""
        blocks = []
        for finding in findings:
            requirement = self.requirement(finding.requirement)
            lines = [f"[{requirement.id}] {requirement.level}: {requirement.statement}",
                     f"  {finding.message}"]
            if finding.expected is not None or finding.actual is not None:
                lines += [f"  expected: {finding.expected}", f"  actual:   {finding.actual}"]
            if finding.exchange is not None:
                lines += [f"  request:  {finding.exchange.summary()}",
                          f"  response: {finding.exchange.excerpt(300)}",
                          f"  reproduce: {finding.exchange.curl()}"]
            lines.append(f"  source: {requirement.source}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)
