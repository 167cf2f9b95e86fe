"""One conformance run: its target, seed, client, cleanup tracker, transcript and results."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import config as config_module
from . import preflight as preflight_module
from . import transcript
from .cleanup import Tracker
from .client import Exchange, ScimClient
from .config import Target
from .data import run_tag
from .ledger import Ledger, ledger_path
from .quiet import QuietTenant
from .records import CheckRecord, Result
from .redact import Redactor
from .requirements import catalogue

BOUND_REACHED = "run time bound reached"  # the skip reason of checks not started within max_run_seconds
EMBEDDED_MEMBERS = 150  # generated members of the embedded tenant: Okta's import (100 a page) really pages
CLEANUP_SECONDS = 120.0  # cleanup's own budget, granted also when the run bound has passed


@dataclass
class Run:
    settings: config_module.Settings
    secrets: dict = field(repr=False)
    seed: int
    strict: bool
    reports_dir: Path
    shared_dir: Path  # lock files every process of the run shares (scimcert.throttle)
    started_at: float = field(default_factory=time.time)  # wall clock: the controller's, also on workers
    is_worker: bool = False
    target: Target | None = None
    client: ScimClient | None = None
    tracker: Tracker = field(default_factory=Tracker)
    records: list[CheckRecord] = field(default_factory=list)
    vacuous: bool = False
    stopped: str | None = None  # why the preflight stopped the run before any check
    exit_status: int = 0  # the session's, once it has finished (controller side)
    redactor: Redactor = field(default_factory=Redactor)
    allure_dir: Path | None = None  # Allure results scimcert placed (and compacts after the run), not a user's --alluredir
    report_seconds: float | None = None  # how long writing the reports took after the last check (controller)
    say: Callable[[str], None] = field(default=lambda line: None, repr=False)  # progress, outside the reports
    _server: object = None
    _transcript: transcript.Writer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> Target:
        """Connect to the target, starting the embedded reference server when no base URL is set."""
        if self.target is not None:
            return self.target
        if not self.settings.embedded:
            self.target = config_module.target(self.settings, self.secrets)
        else:
            from .reference import ReferenceServer
            from .reference.faults import layers_for

            self._server = ReferenceServer(layers=layers_for(list(self.settings.reference_faults)),
                                           seed_users=EMBEDDED_MEMBERS).start()
            self.target = config_module.embedded_target(self.settings, self._server)
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        self._transcript = transcript.Writer(self.reports_dir, self._suffix())
        ledger = Ledger(self.ledger_path, self.tag)
        self.client = ScimClient.for_target(self.target, self.redactor, shared_dir=self.shared_dir,
                                            listeners=[self._log, self.tracker.observe],
                                            before_send=[ledger.before_send],
                                            deadline=time.monotonic() + self.seconds_left())
        return self.target

    @property
    def target_name(self) -> str:
        """The target as the console names it: its URL, or the embedded reference server."""
        return self.settings.base_url or "the embedded reference server"

    def preflight(self) -> preflight_module.Problem | None:
        """The preflight's problem with the configured target (scimcert/preflight.py), or None."""
        configured = config_module.target(self.settings, self.secrets)
        target = dataclasses.replace(configured, timeout=min(preflight_module.SECONDS, configured.timeout))
        client = ScimClient.for_target(target, self.redactor, shared_dir=self.shared_dir)
        try:
            return preflight_module.check(target, client)
        finally:
            client.close()

    @property
    def tag(self) -> str:
        return run_tag(self.seed)

    @property
    def ledger_path(self) -> Path:
        return ledger_path(self.reports_dir, self.tag)

    @cached_property
    def quiet(self) -> QuietTenant:
        """The tenant-wide lock of the run's processes (scimcert/quiet.py)."""
        return QuietTenant(self.shared_dir)

    @property
    def max_run_seconds(self) -> float:
        return self.settings.max_run_seconds

    def seconds_left(self) -> float:
        """Until the run bound (max_run_seconds from the controller's start); negative once past."""
        return self.started_at + self.max_run_seconds - time.time()

    @property
    def overtime(self) -> int:
        """Checks not started because the run bound was reached (controller side)."""
        return sum(1 for record in self.records
                   if any(r.reason.startswith(BOUND_REACHED) for r in record.requirements))

    def finish(self) -> None:
        """Clean up every user the run created, then stop what was started."""
        if self.client is not None:
            self.client.deadline = time.monotonic() + CLEANUP_SECONDS
            self.tracker.clean(self.client, until=self.client.deadline, say=self.say)
            self.client.close()
        if self._transcript is not None:
            self._transcript.close()
        if self._server is not None:
            self._server.stop()
        cleanup = {"deleted": self.tracker.deleted, "leftovers": self.tracker.leftovers}
        (self.reports_dir / f"cleanup{self._suffix()}.json").write_text(json.dumps(cleanup, indent=2))

    def _suffix(self) -> str:
        import os

        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return f"-{worker}" if worker else ""

    def _log(self, exchange: Exchange) -> None:
        if self._transcript is not None:
            with self._lock:
                self._transcript.write(exchange.record())

    # ---- results (controller side) ---------------------------------------------------------

    def add_record(self, record: CheckRecord) -> None:
        self.records.append(record)

    def add_skip(self, nodeid: str, idp: str | None, requirement_ids: list[str], reason: str) -> None:
        """A check skipped before it judged anything: each of its requirements is skipped with the reason."""
        results = [Result(r.id, r.level, r.capability, "skipped", reason)
                   for r in (catalogue()[i] for i in requirement_ids if i in catalogue())]
        check = nodeid.split("::")[-1].split("[")[0]
        self.records.append(CheckRecord(nodeid=nodeid, check=check, idp=idp, requirements=results, outcome="skipped"))

    def results(self) -> list[tuple[CheckRecord, Result]]:
        """(check, requirement result) pairs of the whole run."""
        return [(record, result) for record in self.records for result in record.requirements]

    def must_evaluated(self) -> bool:
        """Whether at least one MUST requirement was actually judged (passed, failed, or graded a warning)."""
        return any(r.level == "MUST" and r.outcome in ("passed", "failed", "warning") for _, r in self.results())

    @property
    def crashed(self) -> list[CheckRecord]:
        """Checks whose own code raised: errors of scimcert, which fail the run without judging the target."""
        return [record for record in self.records if record.outcome == "error"]

    def forget_stale_reports(self) -> None:
        """Before a run (controller side): the per-process files an earlier run left in the reports folder
        (it may have had more workers), so that this run's cleanup and transcript are its own."""
        for pattern in ("cleanup*.json", "transcript*.jsonl", transcript.PATTERN):
            for path in self.reports_dir.glob(pattern):
                path.unlink(missing_ok=True)

    def settle_ledger(self) -> None:
        """After the run (controller side): a ledger is kept only while users of the run may remain."""
        if self.cleanup()["ledger"] is None:
            self.ledger_path.unlink(missing_ok=True)

    def cleanup(self) -> dict:
        """What every process's cleanup did (conformance.json's "cleanup"): users deleted, users that may
        remain, and the ledger to sweep them with (None when none can remain, or the target died with the
        embedded server)."""
        deleted, leftovers = 0, []
        for path in sorted(self.reports_dir.glob("cleanup*.json")):
            found = json.loads(path.read_text())
            deleted += found.get("deleted", 0)
            leftovers += found.get("leftovers", [])
        kept = leftovers and not self.settings.embedded and self.ledger_path.is_file()
        return {"deleted": deleted, "leftovers": leftovers, "ledger": str(self.ledger_path) if kept else None}
