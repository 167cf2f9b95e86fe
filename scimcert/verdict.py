"""Verdicts: each check records, per requirement it declares, what it expected and what it got.

A MUST violation fails the check; a SHOULD violation is a warning (a failure under --strict);
a MAY feature not offered is skipped with a reason. A check never asserts outside this module,
so every failure names a requirement and carries its evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .client import Exchange, excerpt
from .records import HARNESS_ERROR, Result
from .requirements import Requirement, lookup
from .resources import RESOURCE_TYPES

# Requirements judged on every response of their kind, whichever check received it.
AUTOMATIC = {"user": "schema.user", "user-list": "schema.list-response", "group": "schema.group",
             "group-list": "schema.list-response", "error": "errors.scim-error-body"}
HARNESS_JUDGED = frozenset({*AUTOMATIC.values(), "errors.status-string", "errors.status-matches",
                            "errors.content-type", "schema.idp-readable"})


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
    cause: str | None = None  # what a failed automatic judgement found, alike across checks (reports group by it)

    def record(self) -> dict:
        """A failed finding carries its evidence in full; a passed one only what it found and the id of its
        exchange in the transcript, and leaves out what is empty (a clean run's report stays small)."""
        if not self.ok:
            return {"requirement": self.requirement, "ok": False, "message": self.message,
                    "expected": _jsonable(self.expected), "actual": _jsonable(self.actual),
                    "exchange": self.exchange.record() if self.exchange else None,
                    **({"exchangeId": self.exchange.id} if self.exchange else {}),
                    **({"cause": self.cause} if self.cause else {})}
        given = {"expected": _jsonable(self.expected), "actual": _jsonable(self.actual),
                 "exchangeId": self.exchange.id if self.exchange else None}
        return {"ok": True, "message": self.message, **{k: v for k, v in given.items() if v is not None}}


def finding_lines(finding: dict) -> list[str]:
    """A failed finding (its record) as a vendor reads it, in the console and JUnit alike: what was found,
    expected vs actual, the request, an excerpt of the answer, and a curl line with the token redacted."""
    lines = [f"  {finding['message']}"]
    if finding.get("expected") is not None or finding.get("actual") is not None:
        lines += [f"  expected: {finding.get('expected')}", f"  actual:   {finding.get('actual')}"]
    exchange = finding.get("exchange")
    if exchange:
        answered = exchange["status"] is not None
        lines += [f"  request:  {exchange['method']} {exchange['url']} → "
                  + (f"{exchange['status']}" if answered else f"no answer ({exchange['error']})"),
                  f"  response: {excerpt(exchange['responseBody'] if answered else exchange['error'] or '', 300)}",
                  f"  reproduce: {exchange['curl']}"]
    return lines


def _within(pointer: str, places: list[str]) -> bool:
    return any(pointer == place or pointer.startswith(place + "/") for place in places)


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
    created: set[str] = field(default_factory=set, repr=False)  # ids of the users this check's creates made
    error: str = ""  # the exception that crashed the check: a fault of scimcert, not of the target
    run_prefix: str = ""  # how the userNames this run creates start (scimcert.data.user_name_prefix)
    column: str = "rfc"  # the report column: the check's IdP profile, or "rfc"

    @classmethod
    def for_ids(cls, ids: list[str], strict: bool = False, run_prefix: str = "", column: str = "rfc") -> Verdict:
        return cls(lookup(ids), strict, run_prefix=run_prefix, column=column)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.declared]

    def requirement(self, requirement_id: str) -> Requirement:
        for requirement in self.declared:
            if requirement.id == requirement_id:
                return requirement
        raise KeyError(f"{requirement_id} is not declared by this check (declared: {', '.join(self.ids)})")

    def check(self, requirement_id: str, ok: bool, message: str, *, expected: Any = None, actual: Any = None,
              exchange: Exchange | None = None, cause: str | None = None) -> bool:
        """Record one expectation; returns `ok` so checks can branch on it."""
        self.requirement(requirement_id)
        self.findings.append(Finding(requirement_id, bool(ok), message, expected, actual, exchange,
                                     cause if not ok else None))
        return bool(ok)

    def require(self, requirement_id: str, ok: bool, message: str, **evidence: Any) -> None:
        """Like `check`, but a failure stops the check: what follows depends on it."""
        if not self.check(requirement_id, ok, message, **evidence):
            raise NotReached(f"{requirement_id}: {message}")

    def absorb(self, exchange: Exchange) -> None:
        """Every response a check receives is judged against its schema, automatically.

        Users, groups, lists and errors are validated (schema.user, schema.group, schema.list-response,
        errors.scim-error-body, errors.status-string), an error's status must be the HTTP status
        (errors.status-matches), the IdP's overlay is applied where that IdP
        has one for the kind (schema.idp-readable), and JSON bodies must be labelled
        application/scim+json. A requirement whose condition this answer cannot show (an empty user
        body, an error body without a status, a check without an IdP overlay) is not judged on it:
        no finding is recorded that could not have failed.
        """
        self.exchanges.append(exchange)
        if exchange.created_id is not None:
            self.created.add(exchange.created_id)
        requirement_id = AUTOMATIC.get(exchange.kind or "")
        if requirement_id is None or not (exchange.is_json or exchange.violations):
            return
        busy = self._resources_of_other_checks(exchange)
        violations = [v for v in exchange.violations if not _within(v.pointer, busy)]
        status_type = [v for v in violations if v.pointer == "/status" and exchange.kind == "error"]
        others = [v for v in violations if v not in status_type]
        self._judge(requirement_id, others, exchange)
        if exchange.kind == "error" and isinstance(exchange.json, dict) and "status" in exchange.json:
            self._judge("errors.status-string", status_type, exchange)
            said = exchange.json["status"]
            self._declare("errors.status-matches")
            self.check("errors.status-matches", str(said).strip() == str(exchange.status),
                       "the error's status is the HTTP status of the answer", expected=str(exchange.status),
                       actual=said, exchange=exchange, cause=f"status {said!r} on an HTTP {exchange.status}")
        if exchange.overlay is not None:
            self._judge("schema.idp-readable", [v for v in exchange.idp_violations if not _within(v.pointer, busy)],
                        exchange)
        if exchange.is_json:
            content_type = exchange.content_type
            self._declare("errors.content-type")
            self.check("errors.content-type", content_type.startswith("application/scim+json"),
                       "the response is labelled application/scim+json",
                       expected="application/scim+json", actual=content_type or "(none)", exchange=exchange,
                       cause=f"labelled {content_type.split(';')[0].strip() or '(none)'}")

    def _resources_of_other_checks(self, exchange: Exchange) -> list[str]:
        """The /Resources/i of a list that are users (or groups) other checks of this run created: they are
        judged by the checks that made them, and may be half-way through a change (another xdist worker's
        PATCH). A list is judged on the tenant's own resources and on this check's, whatever runs beside it."""
        listed = next((t for t in RESOURCE_TYPES if t.list_kind == exchange.kind), None)
        found = exchange.json.get("Resources") if listed is not None and isinstance(exchange.json, dict) else None
        if not self.run_prefix or not isinstance(found, list):
            return []
        prefix = self.run_prefix.casefold()
        return [f"/Resources/{i}" for i, resource in enumerate(found) if isinstance(resource, dict)
                and str(resource.get(listed.key, "")).casefold().startswith(prefix)
                and str(resource.get("id")) not in self.created]

    def _judge(self, requirement_id: str, violations: list, exchange: Exchange) -> None:
        self._declare(requirement_id)
        self.check(requirement_id, not violations,
                   f"the {exchange.kind} response of {exchange.label} is valid" if not violations
                   else f"the {exchange.kind} response of {exchange.label} violates its schema",
                   expected="no schema violation" if violations else None,
                   actual="; ".join(str(v) for v in violations) if violations else None,
                   exchange=exchange if violations else None,
                   cause="; ".join(sorted({v.cause for v in violations})))

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
            if not self._judged(requirement):
                self.skipped.setdefault(requirement.id, reason)

    def crash(self, exc: BaseException) -> None:
        """The check's own code raised `exc`: what it judged before stands, what it had not judged yet
        is an error of the harness (never a verdict on the target)."""
        self.error = f"{type(exc).__name__}: {exc}"

    def _judged(self, requirement: Requirement) -> bool:
        return any(f.requirement == requirement.id for f in self.findings)

    # ---- outcomes ------------------------------------------------------------------------

    def outcome_of(self, requirement: Requirement) -> str:
        mine = [f for f in self.findings if f.requirement == requirement.id]
        if any(not f.ok for f in mine):
            strict = (requirement.level_in(self.column) == "MUST" and not self.inferred_only(requirement)) or self.strict
            return "failed" if strict else "warning"
        if mine:
            return "passed"
        if self.error and requirement.id not in self.skipped:
            return "error"
        return "skipped"

    def inferred_only(self, requirement: Requirement) -> list[str]:
        """The inferred request shapes (step[variant]) on which alone `requirement` failed, or [] when any of
        its failures came from a documented or tenant-declared request. Such a failure is graded SHOULD: a
        verdict is only as good as its source, and the reference only infers that the IdP sends them."""
        failing = [f for f in self.findings if f.requirement == requirement.id and not f.ok]
        if not failing or not all(f.exchange is not None and f.exchange.inferred for f in failing):
            return []
        return sorted({f.exchange.label for f in failing})

    def reason_of(self, requirement: Requirement) -> str:
        level = requirement.level_in(self.column)
        shapes = self.inferred_only(requirement) if level == "MUST" and not self.strict else []
        if level != requirement.level and not self.strict and any(not f.ok for f in self.findings
                                                                   if f.requirement == requirement.id):
            return f"graded {level} in the {self.column} column: {requirement.source_in(self.column)}"
        if shapes:
            return (f"graded SHOULD: it failed only on request shapes the reference infers ({', '.join(shapes)}); "
                    "a tenant that declares the shape (--variant) makes it a MUST")
        if self._judged(requirement):
            return ""
        if requirement.id in self.skipped:
            return self.skipped[requirement.id]
        if self.error:
            return f"{HARNESS_ERROR}: the check crashed before judging it ({self.error})"
        failed = [f for f in self.findings if not f.ok]
        if failed:
            return f"not reached: {failed[0].requirement} failed first"
        return "the check ended without judging it"

    def results(self) -> list[Result]:
        """One result per declared requirement."""
        return [Result(requirement=r.id, level=r.level_in(self.column), capability=r.capability, outcome=self.outcome_of(r),
                       reason=self.reason_of(r), automatic=r.id in HARNESS_JUDGED, findings=self._recorded(r.id))
                for r in self.declared]

    def _recorded(self, requirement_id: str) -> tuple[dict, ...]:
        """The findings of a requirement as reports keep them. An automatic requirement judged on every response
        that met it everywhere keeps one finding naming the responses (their transcript ids), not one per response."""
        mine = [f for f in self.findings if f.requirement == requirement_id]
        if requirement_id in HARNESS_JUDGED and len(mine) > 1 and all(f.ok for f in mine):
            return ({"ok": True, "message": f"all {len(mine)} responses judged met it",
                     "exchangeIds": [f.exchange.id for f in mine if f.exchange]},)
        return tuple(f.record() for f in mine)

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
            lines = [f"[{requirement.id}] {requirement.level_in(self.column)}: {requirement.statement}",
                     *finding_lines(finding.record())]
            if self.reason_of(requirement).startswith("graded "):
                lines.append(f"  {self.reason_of(requirement)}")
            lines.append(f"  source: {requirement.source}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)
