"""Mutation score: does the suite catch every fault of the reference server, and only where it should?

    python -m scimcert.mutation [--workers N] [--fault NAME ...] [--json FILE]

For the correct server and for each registered fault alone, runs `pytest suites` in-process (one
long-lived worker process per CPU, so interpreter start-up is paid once per worker; Allure off) and
reads the run's conformance.json. The correct server and every fault only some IdPs expose
(`Fault.idps`) run every profile; a fault every profile's requests expose runs one (REPRESENTATIVE).
A fault is detected when the requirements it declares are among those that failed (MUST faults) or
warned (SHOULD faults); its diagnosis is off (stray) when a requirement of another capability failed,
or any failure came from a profile whose requests do not expose it. Prints a table and the score;
exit 0 iff the correct run is clean and every fault is detected with its diagnosis on target.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .paths import ROOT
from .reference.faults import FAULTS
from .requirements import catalogue

BASELINE = "(none)"
REPRESENTATIVE = "okta"  # the profile that runs faults every profile's requests expose


@dataclass
class Outcome:
    fault: str
    level: str
    expected: list[str]
    exit_code: int
    failed: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exposed: list[str] = field(default_factory=list)  # the fault's IdPs (Fault.idps); [] = every profile
    flagged_in: list[str] = field(default_factory=list)  # profiles with a failure, or a warning for a SHOULD
                                                          # fault ("rfc": the RFC checks)

    @property
    def detected(self) -> bool:
        if self.fault == BASELINE:
            return self.exit_code == 0 and not self.failed and not self.warned
        caught = set(self.failed) | (set(self.warned) if self.level == "SHOULD" else set())
        must_exit = self.level != "MUST" or self.exit_code != 0
        return bool(self.expected) and set(self.expected) <= caught and must_exit

    @property
    def stray(self) -> list[str]:
        """Failed requirements outside the capabilities the fault declares it breaks, and profiles that
        failed although their requests do not expose the fault."""
        if self.fault == BASELINE:
            return self.failed
        allowed = {catalogue()[r].capability for r in self.expected if r in catalogue()}
        elsewhere = [f"{idp} profile" for idp in self.flagged_in if self.exposed and idp not in self.exposed]
        return [r for r in self.failed if catalogue()[r].capability not in allowed] + elsewhere


def run_one(fault: str, extra: list[str]) -> Outcome:
    """One in-process `pytest suites` run, with `fault` enabled on the embedded reference server."""
    registered = FAULTS.get(fault)
    level = getattr(registered, "level", "MUST") if registered else "MUST"
    expected = list(getattr(registered, "requirements", ())) if registered else []
    import pytest

    exposed = list(registered.idps) if registered else []
    scope = ["--idp", REPRESENTATIVE] if registered and not exposed else []
    with tempfile.TemporaryDirectory() as reports:
        args = ["suites", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:allure_pytest",
                "--reports-dir", reports,
                *([] if fault == BASELINE else ["--reference-fault", fault, *scope]), *extra]
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = int(pytest.main(args))
        seconds = time.perf_counter() - started
        document = json.loads((Path(reports) / "conformance.json").read_text())
    results = [(check["idp"] or "rfc", r) for check in document["checks"] for r in check["requirements"]]
    return Outcome(fault, level, expected, code,
                   failed=sorted({r["requirement"] for _, r in results if r["outcome"] == "failed"}),
                   warned=sorted({r["requirement"] for _, r in results if r["outcome"] == "warning"}),
                   seconds=round(seconds, 1), exposed=exposed,
                   flagged_in=sorted({idp for idp, r in results if r["outcome"] == "failed"
                                      or (level == "SHOULD" and r["outcome"] == "warning")}))


def _init() -> None:
    os.chdir(ROOT)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in [k for k in os.environ if k.startswith("SCIM_")]:
        del os.environ[name]


def run_all(faults: list[str], workers: int, extra: list[str]) -> list[Outcome]:
    # spawn: fresh interpreters, whatever process (a pytest worker, say) asks for the run
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, mp_context=get_context("spawn")) as pool:
        return list(pool.map(run_one, [BASELINE, *faults], [extra] * (len(faults) + 1)))


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [f"{'fault':<38} {'level':<6} {'detected':<8} {'s':>5}  expected → failed (stray)"]
    for o in outcomes:
        verdict = ("clean" if o.detected else "FALSE+") if o.fault == BASELINE else ("yes" if o.detected else "NO")
        caught = ", ".join(o.failed + [f"{w} (warning)" for w in o.warned]) or "—"
        stray = f"  STRAY: {', '.join(o.stray)}" if o.stray and o.fault != BASELINE else ""
        scope = f" [only {', '.join(o.exposed)}: flagged in {', '.join(o.flagged_in) or 'none'}]" if o.exposed else ""
        lines.append(f"{o.fault:<38} {o.level:<6} {verdict:<8} {o.seconds:>5.1f}  "
                     f"{', '.join(o.expected) or '—'} → {caught}{scope}{stray}")
    faults = [o for o in outcomes if o.fault != BASELINE]
    detected = sum(o.detected for o in faults)
    on_target = sum(o.detected and not o.stray for o in faults)
    lines.append(f"score: {detected}/{len(faults)} detected ({100 * detected / max(len(faults), 1):.0f}%), "
                 f"{on_target}/{len(faults)} with the diagnosis on target")
    untouched = sorted(r.id for r in catalogue().values() if r.level == "MUST"
                       and not any(r.id in getattr(f, "requirements", ()) for f in FAULTS.values()))
    lines.append(f"MUST requirements no fault declares it breaks ({len(untouched)}): {', '.join(untouched) or 'none'}")
    return lines


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
    clean = outcomes[0].detected
    return 0 if clean and all(o.detected and not o.stray for o in outcomes[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())
