"""The scimcert pytest plugin: options, the target, the one client, verdicts, cleanup, reports.

Wired by the top-level conftest.py. It activates for runs that collect suites/. Checks use the
fixtures `idp`, `client`, `verdict`, `users` and `target`, and declare what they verify with
`@pytest.mark.requirement(...)`.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import pytest

from . import config as config_module
from . import reports
from .client import ScimClient, WriteRefused
from .data import UserFactory, user_name_prefix
from .paths import SUITES
from .profiles import ProfileError, profiles, select
from .quiet import QuietFirstScheduling, run_order
from .records import CheckRecord, Result
from .requirements import CatalogueError, catalogue, lookup
from .run import BOUND_REACHED, Run
from .verdict import ConformanceFailure, NotReached, Verdict

RECORD = "scimcert-record"
CRASHED = "scimcert_crashed"  # set on the controller's report of a check whose own code raised
VERDICT = pytest.StashKey[Verdict]()
RUN = pytest.StashKey[Run]()


class ConformanceWarning(UserWarning):
    """A SHOULD requirement was violated. pytest's own --strict turns these into failures."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scimcert", "SCIM conformance")
    group.addoption("--target", metavar="FILE", help="TOML file describing the target (never tokens)")
    group.addoption("--base-url", help="SCIM base URL (overrides SCIM_BASE_URL)")
    group.addoption("--idp", action="append", metavar="ID", help="IdP profile to run (repeatable; default all)")
    group.addoption("--variant", action="append", metavar="[IDP.]STEP=NAME", default=[],
                    help="the variant a step renders, as the tenant sends it, e.g. onelogin.createUser=observed")
    group.addoption("--seed", type=int, help="replay the test data of an earlier run")
    group.addoption("--read-only", action="store_true", default=None,
                    help="send no write: checks that would POST, PUT, PATCH or DELETE are skipped (production tenants)")
    group.addoption("--max-rps", type=float, metavar="R", help="at most R requests per second (whole run, all workers)")
    group.addoption("--max-in-flight", type=int, metavar="N", help="at most N requests in flight (whole run, all workers)")
    group.addoption("--max-run-seconds", type=float, metavar="S",
                    help="bound of the whole run (default 1800): checks not started by then are skipped, the run fails")
    group.addoption("--ca-bundle", metavar="PEM", help="CA certificates that sign the target's TLS certificate")
    group.addoption("--insecure", action="store_true", default=None, help="do not verify the target's TLS certificate")
    group.addoption("--allow-http", action="store_true", default=None,
                    help="accept plain http:// to a host that is not loopback (the token crosses the network in clear)")
    group.addoption("--reports-dir", default="reports", help="where reports are written (default reports/)")
    group.addoption("--reference-fault", action="append", default=[], metavar="NAME",
                    help="enable a fault of the embedded reference server (demonstrations, meta-tests)")
    group.addoption("--embedded", action="store_true", default=None,
                    help="test the embedded reference server, even where target settings (a token, guests, "
                         "domains) are in the environment")
    group.addoption("--no-preflight", action="store_true", default=False,
                    help="skip the preflight (name resolution, TCP, TLS, base path, token) before the checks")
    parser.addini("scimcert_suites", "folder of the conformance suites", default="suites")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement IDs a check verifies")
    config.addinivalue_line("markers", "quiet_tenant: the check reads the whole user list; under pytest-xdist no "
                                       "other check of the run changes the tenant while it runs (scimcert/quiet.py)")
    config.addinivalue_line("markers", "holds_writes(key): under pytest-xdist the check runs alone among those of its key, "
                                       "and no quiet_tenant check reads the list from its first write to the end of "
                                       "its call (scimcert/quiet.py)")
    if not _collects_suites(config):
        return
    try:
        catalogue()
        settings, secrets = config_module.load(toml=config.getoption("target"), options=_options(config),
                                               available_idps=tuple(profiles()),
                                               embedded=bool(config.getoption("embedded")))
        select(list(settings.idps), settings.variants)
    except (config_module.ConfigError, CatalogueError, ProfileError) as exc:
        raise pytest.UsageError(str(exc)) from exc
    worker = getattr(config, "workerinput", None)
    seed = worker["scimcert_seed"] if worker else config.getoption("seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    reports_dir = Path(config.getoption("reports_dir"))
    # JUnit and Allure by default, next to our own reports; fresh for every run (-p no:allure_pytest: none).
    allure_dir = None
    if config.pluginmanager.has_plugin("allure_pytest") and not config.option.allure_report_dir:
        allure_dir = reports_dir / "allure-results"
        config.option.allure_report_dir = str(allure_dir)
        if worker is None:
            shutil.rmtree(allure_dir, ignore_errors=True)
    if worker is None:
        config.option.xmlpath = config.option.xmlpath or str(reports_dir / "junit.xml")
    shared = Path(worker["scimcert_shared"]) if worker else Path(tempfile.mkdtemp(prefix="scimcert-"))
    run = Run(settings=settings, secrets=secrets, seed=seed, strict=bool(config.getini("strict")),
              reports_dir=reports_dir, shared_dir=shared, is_worker=worker is not None,
              started_at=worker["scimcert_started"] if worker else time.time(), allure_dir=allure_dir)
    run.say = _progress(config, worker)
    if worker is None:
        run.forget_stale_reports()
    config.stash[RUN] = run
    config.pluginmanager.register(ConformancePlugin(run), "scimcert-conformance")


def _progress(config: pytest.Config, worker: dict | None):
    """Progress lines (cleanup) on the terminal's stderr, past pytest's output capture, so they show on the
    console also from an xdist worker (named in the line)."""
    name = f"[{worker['workerid']}] " if worker else ""
    said = []

    def say(line: str) -> None:
        capture = config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            sys.stderr.write(f"{'' if said else chr(10)}{name}{line}\n")  # the first off the progress dots
            sys.stderr.flush()
        said.append(line)
    return say


def _collects_suites(config: pytest.Config) -> bool:
    """Whether the run collects the conformance suites: the project's suites/ (or the folder the ini option
    scimcert_suites names), or the copy an installed wheel carries (scimcert.paths.SUITES)."""
    folders = {(config.rootpath / config.getini("scimcert_suites")).resolve(), SUITES.resolve()}
    for arg in config.args:
        path = (config.invocation_params.dir / str(arg).split("::")[0]).resolve()
        if any(path == suites or suites in path.parents for suites in folders):
            return True
    return False


def _options(config: pytest.Config) -> dict:
    options: dict = {}
    if config.getoption("base_url"):
        options["base_url"] = config.getoption("base_url")
    if config.getoption("idp"):  # repeatable, and comma lists as SCIM_IDPS takes them
        options["idps"] = [i.strip() for given in config.getoption("idp") for i in given.split(",") if i.strip()]
    if config.getoption("variant"):
        malformed = [v for v in config.getoption("variant") if "=" not in v or not v.split("=", 1)[1]]
        if malformed:
            raise pytest.UsageError(f"--variant {malformed[0]!r}: expected [IDP.]STEP=NAME, e.g. okta.updateUser=put")
        options["variants"] = dict(v.split("=", 1) for v in config.getoption("variant"))
    if config.getoption("reference_fault"):
        from .reference.faults import FAULTS

        unknown = [f for f in config.getoption("reference_fault") if f not in FAULTS]
        if unknown:
            raise pytest.UsageError(f"unknown --reference-fault {unknown[0]!r}: `scimcert reference --list-faults` "
                                    "lists them")
        options["reference_faults"] = config.getoption("reference_fault")
    if config.getoption("insecure"):
        options["verify_tls"] = False
    for name in ("read_only", "max_rps", "max_in_flight", "max_run_seconds", "ca_bundle", "allow_http"):
        options[name] = config.getoption(name)  # None when not given: merge() keeps the other sources' value
    return options


def _declared(item: pytest.Item) -> list[str]:
    return [i for mark in item.iter_markers("requirement") for i in mark.args]


def _labelled(item: pytest.Item, record: CheckRecord) -> list[Result]:
    """The results a check's JUnit properties and Allure stories name: the requirements it declares, and an
    automatic one (judged on every response of its kind, whichever check received it) where it did not pass
    here. conformance.json has every result, those of the automatic requirements that passed included."""
    marked = set(_declared(item))
    return [r for r in record.requirements if r.requirement in marked or r.outcome != "passed"]


def _idp_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    idp = callspec.params.get("idp") if callspec else None
    return idp.id if idp is not None else None


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ---- fixtures -----------------------------------------------------------------------------

def _run(request: pytest.FixtureRequest) -> Run:
    run = request.config.stash.get(RUN, None)
    if run is None:
        pytest.skip("scimcert is active only for runs that collect suites/")
    return run


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest):
    """The endpoint under test (the embedded reference server when SCIM_BASE_URL is absent)."""
    run = _run(request)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up like Ctrl-C
    try:
        started = run.start()
        run.quiet.watch(run.client)  # writes and list reads pass the quiet-tenant locks
        yield started
    finally:
        run.finish()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Verdict:
    """The findings of this check, for the requirements it declares."""
    run = _run(request)
    found = Verdict.for_ids(_declared(request.node), strict=run.strict, run_prefix=user_name_prefix(run.tag),
                            column=_idp_of(request.node) or "rfc")
    request.node.stash[VERDICT] = found
    return found


@pytest.fixture
def client(target, verdict: Verdict, request: pytest.FixtureRequest) -> ScimClient:
    """The one client: each exchange goes to this check's verdict, the transcript and the tracker."""
    idp = request.getfixturevalue("idp") if "idp" in request.fixturenames else None
    return _run(request).client.for_check(verdict.absorb, idp.reads if idp else None)


@pytest.fixture
def users(target, request: pytest.FixtureRequest) -> UserFactory:
    """Realistic, seeded test users for this check, on the target's user domain."""
    return UserFactory(_run(request).seed, request.node.nodeid, target.user_domain)


class ConformancePlugin:
    """Hooks and fixtures of one conformance run."""

    def __init__(self, run: Run):
        self.run = run
        self.allure_files = None  # this process's Allure file logger, where scimcert names the folder
        run.quiet.share(run.is_worker)  # xdist workers share the tenant: quiet checks take its locks

    # ---- collection ------------------------------------------------------------------------

    def pytest_configure_node(self, node) -> None:
        """xdist: every worker replays the controller's seed, shares its limits and its run bound."""
        node.workerinput.update(scimcert_seed=self.run.seed, scimcert_shared=str(self.run.shared_dir),
                                scimcert_started=self.run.started_at)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Before any check (and whatever the verbosity, before xdist starts its workers): the target and the
        run tag, so a run killed with SIGKILL, which never reaches its cleanup, can still be swept; then the
        preflight, which ends a run against a target set up wrong with one line and its own exit code. In every
        process: the Allure folder scimcert names is written by scimcert.allure_files."""
        if self.run.allure_dir is not None:
            from . import allure_files

            self.allure_files = allure_files.adopt()
        if self.run.is_worker or session.config.option.collectonly:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        say = reporter.write_line if reporter is not None else print
        tag = self.run.tag
        say(f"scimcert run tag {tag} against {self.run.target_name}: the users this run creates are named "
            f"{user_name_prefix(tag)}*, each written to {self.run.ledger_path} before it is sent; if the run is "
            f"killed, `scimcert sweep --ledger {self.run.ledger_path}` (or `scimcert sweep --run-tag {tag}`) "
            "removes them")
        if not self.run.settings.embedded and not session.config.getoption("no_preflight"):
            problem = self.run.preflight()
            if problem is not None:
                self.run.stopped = f"the preflight stopped it with exit {problem.exit_code}"
                say(f"scimcert preflight: {problem.line} (exit {problem.exit_code}; --no-preflight skips this)")
                pytest.exit(f"scimcert preflight failed (exit {problem.exit_code})", returncode=problem.exit_code)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return [f"scimcert: seed {self.run.seed} (replay with --seed {self.run.seed}); "
                f"IdPs: {', '.join(self.run.settings.idps)}"]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "idp" in metafunc.fixturenames:
            chosen = select(list(self.run.settings.idps), self.run.settings.variants)
            metafunc.parametrize("idp", chosen, ids=[p.id for p in chosen])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        problems = []
        for item in items:
            ids = _declared(item)
            if not ids:
                problems.append(f"{item.nodeid}: declares no requirement (@pytest.mark.requirement)")
                continue
            try:
                lookup(ids)
            except CatalogueError as exc:
                problems.append(f"{item.nodeid}: {exc}")
        if problems:
            raise pytest.UsageError("requirement catalogue errors:\n  " + "\n  ".join(problems))
        run_order(items)  # quiet checks first: the same order serially and in every xdist worker

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.allure_files is not None:
            self.allure_files.describe_once(session.items)
        if session.config.option.collectonly:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            reporter.write_line("\nrequirements per check:")
            for item in session.items:
                reporter.write_line(f"  {item.nodeid}  →  {', '.join(_declared(item))}")

    # ---- running a check -------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        """A `quiet_tenant` check walks the user list while no write of the run is on the wire, from its
        first read of the list to the end of its call; a `holds_writes(key)` check holds the tenant writing
        from its first write to the end of its call, alone among those of its key (scimcert/quiet.py; locks
        only under pytest-xdist)."""
        holds = item.get_closest_marker("holds_writes")
        with self.run.quiet.check(quiet=item.get_closest_marker("quiet_tenant") is not None,
                                  holds_writes=holds.args[0] if holds else None):
            return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """The call is over: a quiet check stops walking before any teardown (the last one runs the cleanup)."""
        self.run.quiet.settle()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        """The run's scheduler for xdist's default modes (load, worksteal): the checks in the run's order,
        quiet checks first, one to each worker in turn (scimcert.quiet.QuietFirstScheduling); another --dist
        keeps xdist's own."""
        if config.getoption("dist") not in ("load", "worksteal"):
            return None
        return QuietFirstScheduling(config, log)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        """Runs a check and turns what it recorded into its outcome. A failure always wins: a MUST
        failure fails the check and a SHOULD violation warns, whatever stopped the check afterwards (a
        `require`, a precondition skip, a read-only refusal); requirements it had not reached keep the
        reason it stopped. An exception from the check's own code is a harness error, not a verdict."""
        verdict = item.stash.get(VERDICT, None)
        if verdict is None:
            return (yield)
        stopped = None
        try:
            yield
        except NotReached:
            pass
        except (pytest.skip.Exception, WriteRefused) as skip:
            stopped = skip
            verdict.skip_unjudged(str(skip.msg if isinstance(skip, pytest.skip.Exception) else skip))
        except pytest.exit.Exception:
            raise
        except Exception as crash:
            verdict.crash(crash)
            raise
        finally:
            record = self._record(item, verdict)
            item.user_properties += [(f"requirement {r.requirement}", f"{r.level} {r.outcome}")
                                     for r in _labelled(item, record)]
            item.user_properties.append((RECORD, json.dumps(record.to_json())))
            if record.error:
                item.user_properties.append((reports.HARNESS_ERROR_PROPERTY, record.error))
        self._attach_allure(item, verdict, record)
        if verdict.failures:
            raise ConformanceFailure("\n" + verdict.report(verdict.failures))
        if verdict.warnings:
            warnings.warn(ConformanceWarning("\n" + verdict.report(verdict.warnings)), stacklevel=1)
        elif isinstance(stopped, WriteRefused):
            raise pytest.skip.Exception(str(stopped)) from None
        elif stopped is not None:
            raise stopped

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """A conformance failure is reported by its findings (requirement, expected vs actual, the request),
        not by a traceback through the plugin: that is what JUnit, the console and CI views show."""
        report = yield
        if call.when == "call" and call.excinfo is not None and call.excinfo.errisinstance(ConformanceFailure):
            report.longrepr = str(call.excinfo.value).strip("\n")
        return report

    @staticmethod
    def _record(item: pytest.Item, verdict: Verdict) -> CheckRecord:
        doc = (getattr(item, "obj", None).__doc__ or "").strip().split("\n\n")[0] if hasattr(item, "obj") else ""
        return CheckRecord(nodeid=item.nodeid, check=getattr(item, "originalname", item.name), idp=_idp_of(item),
                           doc=" ".join(doc.split()), requirements=verdict.results(), error=verdict.error,
                           exchanges=[e.summary_record() for e in verdict.exchanges],
                           variants=sorted({e.label + (" (inferred)" if e.inferred else "") for e in verdict.exchanges}))

    def _attach_allure(self, item: pytest.Item, verdict: Verdict, record: CheckRecord) -> None:
        if not getattr(item.config.option, "allure_report_dir", None):
            return
        import allure

        from .allure_files import WARNED

        idp = _idp_of(item)
        strictest = min(verdict.declared, key=lambda r: r.rank)
        allure.dynamic.epic(profiles()[idp].name if idp else "RFC 7643/7644")
        allure.dynamic.feature(strictest.capability)
        for result in _labelled(item, record):
            allure.dynamic.story(result.requirement)
        allure.dynamic.severity({"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}[strictest.level])
        if verdict.warnings and not verdict.failures:  # passed in Allure's status, so said where it is seen
            allure.dynamic.tag("scimcert-warning")
            allure.dynamic.label(WARNED, "warning")
            allure.dynamic.description("SHOULD violated (a warning, not a failure):\n"
                                       + verdict.report(verdict.warnings))
        for finding in [f for f in verdict.findings if not f.ok and f.exchange is not None]:
            allure.attach(json.dumps(finding.exchange.record(), indent=2, ensure_ascii=False),
                          name=f"{finding.requirement}: {finding.exchange.summary()}",
                          attachment_type=allure.attachment_type.JSON)  # evidence; the rest is in the transcript
        if verdict.exchanges:
            base = self.run.target.base_url.rstrip("/") if self.run.target is not None else ""
            lines = [f"{e.id}  {e.summary().replace(f' {base}/', ' /', 1) if base else e.summary()}"
                     for e in verdict.exchanges]
            allure.attach("\n".join(([f"(URLs under {base})"] if base else []) + lines),
                          name="exchanges (in full in the transcript, by id)", attachment_type=allure.attachment_type.TEXT)

    # ---- results (controller side, also under xdist) ---------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """JUnit properties of every check, also of those that end up skipped; past the run bound, the
        check is not started."""
        item.user_properties += [("requirements", ",".join(_declared(item))), ("idp", _idp_of(item) or "")]
        if self.run.seconds_left() < 0:
            pytest.skip(f"{BOUND_REACHED}: the run may take {self.run.max_run_seconds:g} s (--max-run-seconds); "
                        "this check was not started")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Controller side (also under xdist): take the check's record out of the JUnit properties."""
        if self.run.is_worker:
            return
        blobs = [v for k, v in report.user_properties if k == RECORD]
        report.user_properties[:] = [(k, v) for k, v in report.user_properties if k != RECORD]
        if blobs and report.when == "call":
            record = CheckRecord.from_json(json.loads(blobs[-1])).finished(report.outcome, report.duration)
            setattr(report, CRASHED, bool(record.error))
            self.run.add_record(record)
        elif report.skipped and report.when in ("setup", "call"):
            properties = dict(report.user_properties)
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            self.run.add_skip(report.nodeid, properties.get("idp") or None,
                              [i for i in properties.get("requirements", "").split(",") if i], reason)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """A check that crashed is an error of the harness (E, "1 error"), not a failure of the target."""
        if getattr(report, CRASHED, False):
            return "error", "E", ("HARNESS ERROR", {"red": True})
        return None

    def pytest_terminal_summary(self, terminalreporter, config: pytest.Config) -> None:
        if not self.run.is_worker and not config.option.collectonly and not self.run.stopped:
            for line in reports.console_summary(self.run):
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The console's last line, after pytest's own: the verdict, the target and the figures behind it."""
        if self.run.is_worker:
            return
        shutil.rmtree(self.run.shared_dir, ignore_errors=True)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if not config.option.collectonly and reporter is not None and (self.run.records or self.run.stopped):
            reporter.write_line(reports.verdict_line(self.run))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run.is_worker or session.config.option.collectonly or self.run.stopped:
            return  # a run stopped by its preflight judged nothing: no report may blame the target
        if not self.run.must_evaluated() and session.exitstatus == 0:
            session.exitstatus = 1
            self.run.vacuous = True
        if self.run.overtime and session.exitstatus == 0:
            session.exitstatus = 1  # a run cut short by its bound did not check everything
        self.run.exit_status = int(session.exitstatus)
        started = time.perf_counter()
        reports.write_all(self.run)
        self.run.settle_ledger()
        if session.config.option.xmlpath:  # pytest's junitxml plugin has written it by now (we run last)
            reports.finish_junit(Path(session.config.option.xmlpath), self.run)
        self.run.report_seconds = time.perf_counter() - started
