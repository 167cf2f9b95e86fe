"""Mutation score: does the suite catch every fault of the reference server, only where it should, and
can every verdict it passes on the correct server fail?

    python -m scimcert.mutation [--workers N] [--fault NAME ...] [--json FILE]

For the correct server and for each registered fault alone, runs `pytest suites` with every IdP profile
in-process (one long-lived worker process per CPU, so interpreter start-up is paid once per worker;
Allure off) and reads the run's conformance.json.

- A fault is **detected** when each requirement it declares (`Fault.requirements`, written from what the
  bug means) fails, or warns for a SHOULD requirement, in a column that exposes it (`Fault.exposed_in`:
  its IdPs, or any column), and a fault that breaks a MUST requirement makes the run exit non-zero.
- Its diagnosis is **stray** where any other requirement failed or warned, or a declared one did in a
  column whose requests do not expose it: the declarations are the specification of the fault, exact
  both ways.
- A **crash** (a check whose own code raised: outcome "error") is a bug of the suite, in any run.
- **Coverage**: every (requirement, IdP) pair, and every (check, requirement) result, that passes on the
  correct server is shown failing or warning by at least one fault: no passed verdict that could not
  have been false.

Prints a table, the score and the coverage; exit 0 iff the correct run is clean, every fault is
detected on target, nothing crashed and (for a run of every fault) the coverage is complete.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .paths import ROOT
from .reference.faults import FAULTS
from .requirements import catalogue

BASELINE = "(none)"
SHOWN = ("failed", "warning")  # what proves that a passed verdict could have been false
FLAGGED = (*SHOWN, "error")  # what the correct server must never give


@dataclass
class Outcome:
    """One run: `results` holds [column, nodeid, requirement, outcome] for every result that failed, warned
    or errored (and, for the correct server, for every result); `digest` is the SHA-256 of every result of
    the run, passed and skipped included, in order: two runs that differ in any outcome differ in it;
    `why` says, for every result that did not pass, what the report gives as its reason (a skip's reason,
    the first failed finding), so that two runs that differ can be told apart (`differences`)."""

    fault: str
    exit_code: int
    results: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    digest: str = ""
    why: dict[str, str] = field(default_factory=dict)

    @property
    def declared(self) -> tuple[str, ...]:
        return FAULTS[self.fault].requirements if self.fault in FAULTS else ()

    @property
    def level(self) -> str:
        return "MUST" if any(catalogue()[r].level == "MUST" for r in self.declared) else "SHOULD"

    def shown(self) -> set[tuple[str, str, str]]:
        """(requirement, column, outcome) of every failure and warning."""
        return {(requirement, column, outcome) for column, _, requirement, outcome in self.results
                if outcome in SHOWN}

    @property
    def failed(self) -> list[str]:
        return sorted({r for r, _, outcome in self.shown() if outcome == "failed"})

    @property
    def warned(self) -> list[str]:
        return sorted({r for r, _, outcome in self.shown() if outcome == "warning"})

    @property
    def crashes(self) -> list[str]:
        return sorted({nodeid for _, nodeid, _, outcome in self.results if outcome == "error"})

    def caught(self, requirement: str) -> list[str]:
        """The columns exposing `requirement` in which it failed (or warned, for a SHOULD requirement)."""
        scope = FAULTS[self.fault].exposed_in(requirement)
        return sorted({column for r, column, outcome in self.shown()
                       if r == requirement and (not scope or column in scope)
                       and outcome in (("failed",) if catalogue()[requirement].level_in(column) == "MUST" else SHOWN)})

    @property
    def detected(self) -> bool:
        if self.fault == BASELINE:
            return self.exit_code == 0 and not self.flagged()
        must_exit = self.level != "MUST" or self.exit_code != 0
        return bool(self.declared) and all(self.caught(r) for r in self.declared) and must_exit

    def flagged(self) -> list[list[str]]:
        return [row for row in self.results if row[3] in FLAGGED]

    @property
    def stray(self) -> list[str]:
        """Failures and warnings the fault does not declare, or in a column that does not expose it."""
        if self.fault == BASELINE:
            return sorted({f"{r} ({c})" for c, _, r, _ in self.flagged()})
        fault = FAULTS[self.fault]
        return sorted({f"{r} ({column})" for r, column, _ in self.shown()
                       if r not in self.declared or (fault.exposed_in(r) and column not in fault.exposed_in(r))})


def run_one(fault: str, extra: list[str]) -> Outcome:
    """One in-process `pytest suites` run, with `fault` enabled on the embedded reference server."""
    import pytest

    with tempfile.TemporaryDirectory() as reports:
        args = ["suites", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest",
                "--reports-dir", reports, *([] if fault == BASELINE else ["--reference-fault", fault]), *extra]
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = int(pytest.main(args))
        seconds = time.perf_counter() - started
        document = json.loads((Path(reports) / "conformance.json").read_text())
    every = sorted([check["idp"] or "rfc", check["nodeid"], r["requirement"], r["outcome"]]
                   for check in document["checks"] for r in check["requirements"])
    results = [result for result in every if fault == BASELINE or result[3] in FLAGGED]
    digest = hashlib.sha256(json.dumps(every).encode()).hexdigest()
    why = {f"{check['nodeid']} {r['requirement']} {r['outcome']}": _reason(r)
           for check in document["checks"] for r in check["requirements"] if r["outcome"] != "passed"}
    return Outcome(fault, code, results, round(seconds, 1), digest, why)


def _reason(result: dict) -> str:
    """What a report says of a result that did not pass: its reason, else its first failed finding."""
    failed = next((f for f in result.get("findings", ()) if not f.get("ok")), None)
    told = f"{failed.get('message', '')} (actual: {failed.get('actual')})" if failed else ""
    return (result.get("reason") or told)[:300]


def differences(first: Outcome, second: Outcome) -> dict[str, list[str]]:
    """The results that did not pass in one run of a fault and did not end the same in the other, each with
    what the report said of it: what to look at when a run differs from the record."""
    return {f"only in the {name} run": sorted(f"{key}: {why}" for key, why in one.why.items() if key not in other.why)
            for name, one, other in (("first", first, second), ("second", second, first))}


def _init() -> None:
    os.chdir(ROOT)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in [k for k in os.environ if k.startswith("SCIM_")]:
        del os.environ[name]


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for in-process runs: spawned (fresh interpreters, whatever process, a pytest worker
    say, asks for the run), in the repository root, without the caller's SCIM_* settings."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_init, mp_context=get_context("spawn"))


def run_all(faults: list[str], workers: int, extra: list[str]) -> list[Outcome]:
    with _pool(workers) as pool:
        return list(pool.map(run_one, [BASELINE, *faults], [extra] * (len(faults) + 1)))


def rerun(fault: str) -> Outcome:
    """`fault` run once more, in a fresh process, as run_all runs it."""
    with _pool(1) as pool:
        return pool.submit(run_one, fault, []).result()


@dataclass
class Coverage:
    """What passes on the correct server, and what of it no fault showed failing."""

    pairs: set[tuple[str, str]]  # (column, requirement)
    unproven_pairs: set[tuple[str, str]]
    checks: set[tuple[str, str]]  # (nodeid, requirement)
    unproven_checks: set[tuple[str, str]]

    def per_column(self) -> dict[str, tuple[int, int]]:
        """column → (pairs shown failing, pairs passing on the correct server)."""
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for column, _ in self.pairs:
            totals[column][1] += 1
        for column, _ in self.pairs - self.unproven_pairs:
            totals[column][0] += 1
        return {column: (shown, total) for column, (shown, total) in sorted(totals.items())}


def coverage(outcomes: list[Outcome]) -> Coverage:
    baseline = next(o for o in outcomes if o.fault == BASELINE)
    passed = [(column, nodeid, requirement) for column, nodeid, requirement, outcome in baseline.results
              if outcome == "passed"]
    shown_pairs, shown_checks = set(), set()
    for outcome in outcomes:
        if outcome.fault != BASELINE:
            for column, nodeid, requirement, result in outcome.results:
                if result in SHOWN:
                    shown_pairs.add((column, requirement))
                    shown_checks.add((nodeid, requirement))
    pairs = {(column, requirement) for column, _, requirement in passed}
    checks = {(nodeid, requirement) for _, nodeid, requirement in passed}
    return Coverage(pairs, pairs - shown_pairs, checks, checks - shown_checks)


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [f"{'fault':<38} {'level':<6} {'detected':<8} {'crash':>5} {'s':>5}  declared → failed, warned (stray)"]
    for o in outcomes:
        verdict = ("clean" if o.detected else "FALSE+") if o.fault == BASELINE else ("yes" if o.detected else "NO")
        caught = ", ".join(o.failed + [f"{w} (warning)" for w in o.warned]) or "—"
        stray = f"  STRAY: {', '.join(o.stray)}" if o.stray and o.fault != BASELINE else ""
        scoped = sorted({c for r in o.declared for c in FAULTS[o.fault].exposed_in(r)}) if o.fault in FAULTS else []
        scope = f" [only {', '.join(scoped)}]" if scoped else ""
        lines.append(f"{o.fault:<38} {o.level if o.fault != BASELINE else '':<6} {verdict:<8} {len(o.crashes):>5} "
                     f"{o.seconds:>5.1f}  {', '.join(o.declared) or '—'} → {caught}{scope}{stray}")
    faults = [o for o in outcomes if o.fault != BASELINE]
    detected = sum(o.detected for o in faults)
    on_target = sum(o.detected and not o.stray for o in faults)
    crashes = sorted({c for o in outcomes for c in o.crashes})
    lines.append(f"score: {detected}/{len(faults)} detected ({100 * detected / max(len(faults), 1):.0f}%), "
                 f"{on_target}/{len(faults)} with the diagnosis on target")
    lines.append(f"crashes (checks whose own code raised, in any run): {len(crashes)}"
                 + (f": {', '.join(crashes)}" if crashes else ""))
    if {o.fault for o in faults} == set(FAULTS):
        found = coverage(outcomes)
        columns = ", ".join(f"{column} {shown}/{total}" for column, (shown, total) in found.per_column().items())
        lines.append(f"(requirement, IdP) pairs passing on the correct server and shown failing by a fault: "
                     f"{len(found.pairs) - len(found.unproven_pairs)}/{len(found.pairs)} ({columns})"
                     + (f"; UNPROVEN: {', '.join(f'{r} ({c})' for c, r in sorted(found.unproven_pairs))}"
                        if found.unproven_pairs else ""))
        lines.append(f"(check, requirement) results passing on the correct server and shown failing by a fault: "
                     f"{len(found.checks) - len(found.unproven_checks)}/{len(found.checks)}"
                     + (f"; UNPROVEN: {', '.join(f'{r} in {n}' for n, r in sorted(found.unproven_checks))}"
                        if found.unproven_checks else ""))
    for level in ("MUST", "SHOULD"):
        untouched = sorted(r.id for r in catalogue().values() if r.level == level
                           and not any(r.id in f.requirements for f in FAULTS.values()))
        lines.append(f"{level} requirements no fault declares it breaks ({len(untouched)}): {', '.join(untouched) or 'none'}")
    return lines


def proven(outcomes: list[Outcome]) -> bool:
    """The exit criterion of `python -m scimcert.mutation`: the correct run is clean, every fault is detected
    on target, nothing crashed, and a run of every fault leaves no passed verdict unproven."""
    baseline, faults = outcomes[0], outcomes[1:]
    gaps = coverage(outcomes) if {o.fault for o in faults} == set(FAULTS) else None
    return (baseline.detected and all(o.detected and not o.stray for o in faults)
            and not any(o.crashes for o in outcomes)
            and (gaps is None or not (gaps.unproven_pairs or gaps.unproven_checks)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scimcert.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--fault", action="append", default=[], help="only these faults (repeatable)")
    parser.add_argument("--json", help="also write the outcomes to this file")
    args, extra = parser.parse_known_args(argv)
    faults = args.fault or sorted(FAULTS)
    started = time.perf_counter()
    outcomes = run_all(faults, args.workers, extra)
    for line in table(outcomes):
        print(line)
    print(f"wall time {time.perf_counter() - started:.0f} s with {args.workers} worker(s)")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(o) | {"detected": o.detected, "stray": o.stray}
                                               for o in outcomes], indent=2))
    return 0 if proven(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
