"""Reporters: the console matrix, conformance.json and conformance.html, all read from the same records.

No reporter re-derives a verdict: each reads the outcomes the checks recorded.
"""

from __future__ import annotations

import html
import json
import platform
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from importlib import metadata
from xml.etree import ElementTree

from . import __version__
from .certificate import CERTIFICATE_HOW, certify
from .profiles import profiles
from .records import OUTCOMES, worst
from .reference.tenant import Tenant
from .requirements import CAPABILITIES, catalogue
from .resources import BY_NAME
from .run import BOUND_REACHED
from .verdict import finding_lines

HARNESS_ERROR_PROPERTY = "harness error"  # the JUnit property of a check whose own code raised
LETTERS = {"failed": "F", "error": "E", "warning": "W", "passed": "P", "skipped": "S"}


def distinct(pairs) -> dict[str, str]:
    """requirement ID → its worst outcome over `pairs` of (check record, result)."""
    found: dict[str, set[str]] = defaultdict(set)
    for _, result in pairs:
        found[result.requirement].add(result.outcome)
    return {requirement: worst(outcomes) for requirement, outcomes in found.items()}


def matrix(run) -> dict[str, dict[str, Counter]]:
    """capability → column (IdP, or "rfc") → outcome → number of distinct requirements with that worst outcome."""
    cells: dict[tuple[str, str], list] = defaultdict(list)
    for record, result in run.results():
        cells[(result.capability, record.column)].append((record, result))
    table: dict[str, dict[str, Counter]] = defaultdict(dict)
    for (capability, column), pairs in cells.items():
        table[capability][column] = Counter(distinct(pairs).values())
    return table


def result_count(run) -> Counter:
    """Requirement results by outcome: one per check and requirement, except the automatic requirements
    (judged on every response: schema.*, errors.content-type, ...), counted once per IdP, outcome and
    distinct cause, so a defect seen by 40 checks counts once and a pass is not multiplied by the checks
    that happened to receive a response."""
    counted: Counter = Counter()
    automatic: set[tuple] = set()
    for record, result in run.results():
        if not result.automatic:
            counted[result.outcome] += 1
            continue
        causes = {f.get("cause") or f["message"] for f in result.failed_findings} or {""}
        automatic |= {(result.requirement, record.column, result.outcome, cause) for cause in causes}
    counted.update(outcome for _, _, outcome, _ in automatic)
    return counted


def tally(run) -> dict:
    """The run's figures: checks, distinct requirements, requirement results (README: 'Counting')."""
    checks = Counter(record.outcome for record in run.records)
    worst_of = distinct(run.results())
    requirements = Counter(worst_of.values())
    results = result_count(run)
    must = [r.id for r in catalogue().values() if r.level == "MUST"]
    return {
        "checks": {"total": len(run.records), **{o: checks[o] for o in ("passed", "failed", "skipped", "error")},
                   "withWarnings": sum(1 for rec in run.records if any(r.outcome == "warning" for r in rec.requirements))},
        "requirements": {o: requirements[o] for o in OUTCOMES},
        "requirementResults": {o: results[o] for o in OUTCOMES},
        "mustFailed": sum(1 for i in must if worst_of.get(i) == "failed"),
        "harnessErrors": len(run.crashed),
    }


def defects(run) -> list[dict]:
    """Identical findings grouped across checks and IdPs: one entry per requirement, outcome and cause (the
    rule an automatic judgement found broken, or the check that saw it), with where it showed and one
    example. Failures first, then the most widespread."""
    groups: dict[tuple[str, str, str], dict] = {}
    for record, result in run.results():
        if result.outcome not in ("failed", "warning"):
            continue
        for finding in result.failed_findings:
            cause = finding.get("cause") or record.check
            group = groups.setdefault((result.requirement, result.outcome, cause), {
                "requirement": result.requirement, "level": result.level, "outcome": result.outcome,
                "cause": cause, "automatic": result.automatic, "findings": 0, "checks": set(), "idps": set(),
                "example": _example(record, finding)})
            group["findings"] += 1
            group["checks"].add(record.nodeid)
            group["idps"].add(record.column)
    found = [{**g, "checks": sorted(g["checks"]), "idps": sorted(g["idps"])} for g in groups.values()]
    return sorted(found, key=lambda d: (d["outcome"] != "failed", -d["findings"], d["requirement"], d["cause"]))


def _example(record, finding: dict) -> dict:
    exchange = finding.get("exchange") or {}
    return {"check": record.nodeid, "message": finding["message"], "expected": finding.get("expected"),
            "actual": finding.get("actual"), "request": f"{exchange.get('method', '')} {exchange.get('url', '')}".strip(),
            "status": exchange.get("status"), "curl": exchange.get("curl")}


DEFECT_LINES = 15  # distinct defects listed on the console; conformance.json has them all


def defect_lines(found: list[dict]) -> list[str]:
    if not found:
        return []
    lines = [f"distinct defects: {len(found)} (a requirement and a cause, wherever it showed):"]
    for defect in found[:DEFECT_LINES]:
        word = "FAILED" if defect["outcome"] == "failed" else "warning"
        what = defect["cause"] if defect["automatic"] else f"{defect['example']['message']} ({defect['cause']})"
        level = "MUST, graded SHOULD: inferred request shape" if word == "warning" and defect["level"] == "MUST" \
            else defect["level"]
        lines.append(f"  {word} {defect['requirement']} ({level}): {what} — "
                     f"{defect['findings']} finding(s) in {len(defect['checks'])} check(s); {', '.join(defect['idps'])}")
    if len(found) > DEFECT_LINES:
        lines.append(f"  … and {len(found) - DEFECT_LINES} more in conformance.json (defects)")
    return lines


def verdict_of(exit_status: int) -> str:
    return "PASS" if exit_status == 0 else "FAIL"


def why(run, figures: dict) -> list[str]:
    """What decided the verdict, one clause each."""
    reasons = []
    if figures["mustFailed"]:
        reasons.append(f"{figures['mustFailed']} MUST requirement(s) failed")
    if figures["requirements"]["failed"] > figures["mustFailed"]:
        reasons.append(f"{figures['requirements']['failed'] - figures['mustFailed']} SHOULD requirement(s) "
                       "failed (--strict)")
    if figures["harnessErrors"]:
        reasons.append(f"{figures['harnessErrors']} check(s) crashed inside scimcert (harness error)")
    if run.vacuous:
        reasons.append("no MUST requirement was judged")
    if run.overtime:
        reasons.append(f"{BOUND_REACHED} ({run.overtime} check(s) not started)")
    if not reasons and run.exit_status:
        reasons.append(f"pytest exited {run.exit_status}")
    return reasons


def _idps(run) -> list[str]:
    return list(dict.fromkeys(run.settings.idps))


def _cell(counts: Counter) -> str:
    if not counts:
        return "—"
    return " ".join(f"{counts[o]}{LETTERS[o]}" for o in OUTCOMES if counts[o])


def _figures(counts: dict, names: dict[str, str]) -> str:
    return ", ".join(f"{counts[o]} {names.get(o, o)}" for o in counts if counts[o]) or "none"


REQUIREMENT_WORDS = {"warning": "warned", "error": "harness error"}


def console_summary(run) -> list[str]:
    table = matrix(run)
    idps = _idps(run) + (["rfc"] if any("rfc" in row for row in table.values()) else [])
    width = max(len(c) for c in CAPABILITIES) + 2
    figures = tally(run)
    lines = ["", "scimcert conformance matrix (distinct requirements per capability and IdP, each by its worst "
             "result: F failed, E harness error, W warning, P passed, S skipped)",
             "capability".ljust(width) + "".join(i.ljust(20) for i in idps)]
    for capability in CAPABILITIES:
        if capability in table:
            lines.append(capability.ljust(width) + "".join(_cell(table[capability].get(i, Counter())).ljust(20)
                                                           for i in idps))
    checks = {k: v for k, v in figures["checks"].items() if k not in ("total", "withWarnings")}
    lines += [f"requirements: {sum(figures['requirements'].values())} distinct: "
              f"{_figures(figures['requirements'], REQUIREMENT_WORDS)}",
              f"checks: {figures['checks']['total']}: {_figures(checks, {'error': 'harness error'})}"
              + (f" ({figures['checks']['withWarnings']} with warnings)" if figures["checks"]["withWarnings"] else ""),
              f"requirement results (per check; automatic requirements once per IdP and cause): "
              f"{_figures(figures['requirementResults'], REQUIREMENT_WORDS)}",
              f"seed {run.seed} (replay with --seed {run.seed})"]
    lines += defect_lines(defects(run))
    for record in run.crashed:
        lines.append(f"HARNESS ERROR in {record.nodeid}: {record.error} — a bug of scimcert, not a verdict on the "
                     "target; its unjudged requirements are reported as errors")
    if run.vacuous:
        lines.append("FAILED: no MUST requirement was judged in this run (everything skipped or deselected): "
                     "a run that checked nothing does not pass")
    lines += conduct(run)
    lines += cleanup_lines(run.cleanup())
    lines.append(f"reports: {run.reports_dir}/conformance.html, conformance.json, junit.xml, allure-results/"
                 + (f" (written in {run.report_seconds:.2f} s)" if run.report_seconds is not None else ""))
    return lines


def verdict_line(run) -> str:
    """The console's last line: the verdict and why, the target, and the distinct requirements behind it."""
    if run.stopped:
        return f"scimcert verdict: NOT RUN against {run.target_name} ({run.stopped}): nothing was judged"
    figures = tally(run)
    verdict = verdict_of(run.exit_status)
    counts = figures["requirements"]
    return (f"scimcert verdict: {verdict}" + (f" ({'; '.join(why(run, figures))})" if verdict == "FAIL" else "")
            + f" against {run.target_name}: {figures['mustFailed']} MUST failed, "
            + (f"{counts['failed'] - figures['mustFailed']} SHOULD failed (--strict), "
               if counts["failed"] > figures["mustFailed"] else "")
            + (f"{counts['error']} harness error(s), " if counts["error"] else "")
            + f"{counts['warning']} warned, "
            f"{counts['passed']} passed, {counts['skipped']} skipped of {sum(counts.values())} requirements")


def cleanup_lines(cleanup: dict) -> list[str]:
    """The console's account of cleanup: one line per user or group that may remain, as cleanup.json and the HTML say."""
    leftovers = cleanup["leftovers"]
    if not leftovers:
        return [f"cleanup: every user and group the run created is gone ({cleanup['deleted']} deleted)"]
    sweep = (f"; `scimcert sweep --ledger {cleanup['ledger']}` removes them once the target is back"
             if cleanup["ledger"] else "")
    return [f"cleanup: {cleanup['deleted']} deleted; {len(leftovers)} resource(s) may remain on the target{sweep}:",
            *(f"  {_leftover(u)}" for u in leftovers)]


def _leftover(left: dict) -> str:
    """"User Scimcert.…@example.com (id 42): deleted": a leftover, by its resource type and name."""
    resource_type = BY_NAME[left.get("resourceType", "User")]
    return (f"{resource_type.name} {left[resource_type.key]} (id {left['id'] if left['id'] is not None else 'unknown'})"
            f": {left['state']}")


def document(run, exit_status: int) -> dict:
    """conformance.json (schemas/conformance.schema.json)."""
    figures, found = tally(run), defects(run)
    versions = {"python": platform.python_version()}
    for package in ("pytest", "httpx", "jsonschema"):
        versions[package] = metadata.version(package)
    return {
        "tool": {"name": "scimcert", "version": __version__},
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target": _target(run),
        "seed": run.seed,
        "strict": run.strict,
        "versions": versions,
        "verdict": verdict_of(exit_status),
        "why": why(run, figures),
        "exitStatus": exit_status,
        "vacuous": run.vacuous,
        "conduct": conduct(run),
        "summary": {**figures, "defects": len(found)},
        "defects": found,
        "matrix": {cap: {column: dict(counts) for column, counts in row.items()} for cap, row in matrix(run).items()},
        "requirements": {r.id: {"level": r.level, "capability": r.capability, "source": r.source,
                                "statement": r.statement, **({"columns": r.columns} if r.columns else {})}
                         for r in catalogue().values()},
        "checkDocs": check_docs(run.records),
        "checks": [record.report_json() for record in run.records],
        "cleanup": run.cleanup(),
    }


def check_docs(records) -> dict[str, str]:
    """What each check does (the first paragraph of its docstring), once per test function: the parameter sets
    of a check (IdPs, cases) share it. Keyed by `CheckRecord.test_id`, the nodeid up to "["."""
    docs: dict[str, str] = {}
    for record in records:
        if record.doc:
            docs.setdefault(record.test_id, record.doc)
    return docs


def _target(run) -> dict:
    """The settings as described, with the embedded server's domains from its tenant."""
    described = run.settings.describe()
    return {**described, "orgDomains": list(Tenant.load().domains)} if run.settings.embedded else described


def conduct(run) -> list[str]:
    """How the run treated the target, as the console and the HTML page state it."""
    settings, lines = run.settings, []
    if settings.read_only:
        lines.append("read-only mode: no POST, PUT, PATCH or DELETE was sent; checks that write were skipped")
    if not settings.verify_tls:
        lines.append("TLS certificate verification was OFF (--insecure)")
    waits = [w for record in run.records for e in record.exchanges for w in e.get("throttled", [])]
    if waits:
        lines.append(f"throttled: {len(waits)} answer(s) 429 waited out (Retry-After, {sum(waits)} s in all)")
    if run.overtime:
        lines.append(f"FAILED: {BOUND_REACHED} ({run.max_run_seconds:g} s): "
                     f"{run.overtime} check(s) not started")
    return lines


def write_all(run) -> None:
    run.reports_dir.mkdir(parents=True, exist_ok=True)
    doc = document(run, run.exit_status)  # meets schemas/conformance.schema.json: tests/ validate it
    text = run.redactor(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))  # for tools: people read the HTML
    doc = json.loads(text)  # the certificate covers what is written
    doc["certificate"] = certify(doc)
    text = f'{text[:-1]},"certificate":{json.dumps(doc["certificate"], separators=(",", ":"))}}}'  # its last member
    (run.reports_dir / "conformance.json").write_text(text, encoding="utf-8")
    (run.reports_dir / "conformance.html").write_text(run.redactor(render_html(doc)), encoding="utf-8")


# ---- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d1d1f;padding:0 1em}
h1{margin-bottom:.2em} .verdict{font-size:1.4em;font-weight:700;padding:.3em .8em;border-radius:6px;display:inline-block}
.PASS{background:#d9f2dd;color:#11592a}.FAIL{background:#fadbd8;color:#8a1c12}
table{border-collapse:collapse;margin:1em 0;width:100%} th,td{border:1px solid #ddd;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f6} td.failed{background:#fadbd8}td.warning{background:#fff1c9}td.passed{background:#e6f5e8}td.skipped{background:#f0f0f0}
.failure{border-left:4px solid #c0392b;padding:.2em 1em;margin:1.2em 0;background:#fdf6f5}
.warn{border-left-color:#d4a017;background:#fffaf0}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}
.meta{color:#555} code{font-size:12px} td.na{color:#888;font-style:italic}
nav#toc{background:#f4f4f6;padding:.5em 1em;border-radius:6px} nav#toc ol{margin:.3em 0;columns:2}
details.evidence{margin:.5em 0 1em} details.evidence>summary{cursor:pointer;font-weight:600}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in mapping.items())


SECTIONS = (("verdict", "Verdict"), ("matrix", "Capability × IdP"), ("crashes", "Harness errors"),
            ("defects", "Distinct defects"), ("failures", "Failures (MUST)"), ("warnings", "Warnings (SHOULD)"),
            ("skipped", "Skipped"), ("requirements", "Requirements"), ("cleanup", "Cleanup"),
            ("certificate", "Certificate"))


def render_html(doc: dict) -> str:
    """One self-contained page a vendor can hand over: no script, no external request; a table of contents,
    defects grouped, evidence folded (<details>), JSON bodies pretty-printed, sources as links."""
    idps = doc["target"]["idps"]
    names = {p.id: p.name for p in profiles().values()}
    parts = {"verdict": [f"<p><span class='verdict {doc['verdict']}'>{doc['verdict']}</span> "
                         + (f"{_e('; '.join(doc['why']))}" if doc["why"] else "no MUST requirement failed") + "</p>",
                         _summary_html(doc["summary"])]
             + (["<p><b>No MUST requirement was judged in this run: it does not pass.</b></p>"] if doc["vacuous"] else [])
             + [f"<p><b>{_e(line)}</b></p>" for line in doc["conduct"]],
             "matrix": _matrix_html(doc, idps, names), "crashes": _crashes_html(doc), "defects": _defects_html(doc),
             "failures": _findings_html(doc, "failed"), "warnings": _findings_html(doc, "warning"),
             "skipped": _skips_html(doc), "requirements": _requirements_html(doc),
             "cleanup": _cleanup_html(doc["cleanup"]), "certificate": _certificate_html(doc.get("certificate"))}
    shown = [(key, title) for key, title in SECTIONS if parts[key]]
    out = ["<!doctype html><html lang=en><meta charset=utf-8><title>scimcert conformance report</title>",
           "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           f"<style>{_CSS}</style><body><h1>SCIM conformance report</h1>",
           f"<p class=meta>Target {_e(doc['target']['baseUrl'])}"
           + (f" with faults {_e(', '.join(doc['target']['referenceFaults']))}" if doc['target'].get('referenceFaults') else "")
           + f" · IdPs {_e(', '.join(names.get(i, i) for i in idps))}"
           + (f" · tenant variants {_e(_pairs(doc['target']['variants']))}" if doc["target"].get("variants") else "")
           + f" · seed {doc['seed']} · scimcert {_e(doc['tool']['version'])} · {_e(doc['generated'])}</p>",
           "<nav id=toc><b>Contents</b><ol>" + "".join(f"<li><a href='#{key}'>{_e(title)}</a></li>" for key, title in shown)
           + "</ol></nav>"]
    for key, title in shown:
        out.append(f"<section id={key}><h2>{_e(title)}</h2>")
        out += parts[key]
        out.append("</section>")
    out.append("</body></html>")
    return "".join(out)


def _matrix_html(doc: dict, idps: list[str], names: dict) -> list[str]:
    columns = idps + (["rfc"] if any("rfc" in row for row in doc["matrix"].values()) else [])
    blocked = _blocked_cells(doc)
    out = ["<table><tr><th>capability</th>" + "".join(f"<th>{_e(names.get(i, i))}</th>" for i in columns) + "</tr>"]
    for capability in CAPABILITIES:
        row = doc["matrix"].get(capability)
        if not row:
            continue
        out.append(f"<tr><th>{_e(capability)}</th>")
        for idp in columns:
            counts = Counter(row.get(idp, {}))
            note = " <span class=meta>(skips blocked by a failure)</span>" if (capability, idp) in blocked else ""
            out.append(f"<td class={worst(counts)}>{_e(_cell(counts))}{note}</td>" if counts
                       else "<td class=na title='no check of this capability runs for this column'>not applicable</td>")
        out.append("</tr>")
    return out + ["</table><p class=meta>P passed, W warning, F failed, E harness error, S skipped (with the reasons "
                  "under Skipped); “not applicable”: no check of that capability runs in that column.</p>"]


BLOCKED = ("not reached:", "precondition failed:")  # skip reasons that mean "something failed first"


def _blocked_cells(doc: dict) -> set[tuple[str, str]]:
    return {(r["capability"], c["idp"] or "rfc") for c in doc["checks"] for r in c["requirements"]
            if r["outcome"] == "skipped" and r.get("reason", "").startswith(BLOCKED)}


def _certificate_html(certificate: dict | None) -> list[str]:
    if not certificate:
        return []
    rows = [("tool", certificate["tool"]), ("seed", certificate["seed"]),
            ("catalogue digest (requirements, IdP profiles, schemas)", certificate["catalogueDigest"]),
            ("report digest", certificate["reportDigest"])]
    return ["<table>" + "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in rows) + "</table>",
            f"<p class=meta>{_e(CERTIFICATE_HOW)}</p>"]


def _cleanup_html(cleanup: dict) -> list[str]:
    lines = cleanup_lines(cleanup)
    if not cleanup["leftovers"]:
        return [f"<p>{_e(lines[0])}</p>"]
    return [f"<p><b>Users and groups that may remain on the target.</b> {_e(lines[0])}</p><ul>",
            *(f"<li class=leftover>{_e(_leftover(u))}</li>" for u in cleanup["leftovers"]), "</ul>"]


def _summary_html(summary: dict) -> str:
    checks = {k: v for k, v in summary["checks"].items() if k not in ("total", "withWarnings")}
    rows = [("distinct requirements", _figures(summary["requirements"], REQUIREMENT_WORDS)),
            (f"checks ({summary['checks']['total']})", _figures(checks, {"error": "harness error"})),
            ("requirement results (per check; automatic requirements once per IdP and cause)",
             _figures(summary["requirementResults"], REQUIREMENT_WORDS))]
    return "<table>" + "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows) + "</table>"


def _defects_html(doc: dict) -> list[str]:
    if not doc["defects"]:
        return []
    rows = [f"<tr><td class={d['outcome']}>{_e(d['outcome'])}</td><td><code>{_e(d['requirement'])}</code> "
            f"{_e(d['level'])}</td><td>{_e(d['cause'])}</td><td>{d['findings']}</td><td>{_e(', '.join(d['idps']))}</td>"
            f"<td><details><summary>{len(d['checks'])} check(s)</summary><ul>"
            + "".join(f"<li><code>{_e(c)}</code></li>" for c in d["checks"]) + "</ul></details></td></tr>"
            for d in doc["defects"]]
    return ([f"<p>{len(rows)} distinct defect(s): identical findings grouped by requirement and cause, with the "
             "checks and IdPs each affects.</p><table><tr><th>result</th><th>requirement</th><th>cause</th>"
             "<th>findings</th><th>IdPs</th><th>checks</th></tr>"] + rows + ["</table>"])


def _crashes_html(doc: dict) -> list[str]:
    crashed = [c for c in doc["checks"] if c["outcome"] == "error"]
    if not crashed:
        return []
    return (["<p>These checks crashed inside scimcert: a bug of the tool, not a verdict "
             "on the target. Their unjudged requirements are reported as errors.</p><ul>"]
            + [f"<li><code>{_e(c['nodeid'])}</code>: {_e(c['error'])}</li>" for c in crashed] + ["</ul>"])


EXAMPLES = 3  # evidence blocks shown per requirement; the rest are counted


def _findings_html(doc: dict, outcome: str) -> list[str]:
    by_requirement: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for check in doc["checks"]:
        for result in check["requirements"]:
            if result["outcome"] == outcome:
                by_requirement[result["requirement"]] += [(check, f) for f in result["findings"] if not f["ok"]]
    out = []
    for requirement_id, findings in by_requirement.items():
        requirement = doc["requirements"][requirement_id]
        checks = sorted({f"{c['idp'] or 'rfc'} · {c['check']}" for c, _ in findings})
        graded = sorted({r["reason"] for c, _ in findings for r in c["requirements"]
                         if r["requirement"] == requirement_id and r["outcome"] == outcome and r.get("reason")})
        out.append(f"<div class='failure{' warn' if outcome == 'warning' else ''}' id='{outcome}-{_e(requirement_id)}'>"
                   f"<h3><code>{_e(requirement_id)}</code> {_e(requirement['level'])} · {len(findings)} finding(s)</h3>"
                   f"<p>{_e(requirement['statement'])}<br><span class=meta>Source: {_linked(requirement['source'])}"
                   f"<br>Checks: {_e(', '.join(checks))}"
                   + "".join(f"<br>{_e(reason)}" for reason in graded) + "</span></p>")
        for check, finding in findings[:EXAMPLES]:
            out.append(_finding_html(check, finding))
        if len(findings) > EXAMPLES:
            out.append(f"<p class=meta>… and {len(findings) - EXAMPLES} more finding(s) like these "
                       "(all in conformance.json)</p>")
        out.append("</div>")
    return out


def _finding_html(check: dict, finding: dict) -> str:
    exchange = finding.get("exchange") or {}
    parts = [f"<h4>{_e(check['idp'] or 'rfc')} · {_e(check['check'])}: {_e(finding['message'])}</h4>",
             f"<table><tr><th>expected</th><td>{_e(finding.get('expected'))}</td></tr>"
             f"<tr><th>actual</th><td>{_e(finding.get('actual'))}</td></tr></table>"]
    if exchange:
        answer = exchange["status"] if exchange["status"] is not None else exchange["error"]
        shape = f"{exchange.get('label', '')} ({exchange.get('source', '')})"
        if exchange.get("inferred"):
            shape += ": the reference marks this request shape as inferred"
        parts += [f"<details class=evidence><summary>Evidence: {_e(exchange['method'])} {_e(exchange['url'])} → "
                  f"{_e(answer)}</summary>",
                  f"<p class=meta>Request shape: {_e(shape)}</p>",
                  f"<p><b>Request</b> {_e(exchange['method'])} {_e(exchange['url'])}</p>",
                  f"<pre>{_e(_pretty(exchange['requestBody']))}</pre>" if exchange.get("requestBody") else "",
                  f"<p><b>Response</b> {_e(answer)}</p><pre>{_e(_pretty(exchange['responseBody'] or '', 4000))}</pre>",
                  f"<p><b>Reproduce</b></p><pre class=curl>{_e(exchange['curl'])}</pre></details>"]
    return "".join(parts)


def _pretty(body: str, limit: int | None = None) -> str:
    """A JSON body indented for reading; anything else as it came. Cut at `limit` characters."""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        text = body
    return text if limit is None or len(text) <= limit else text[:limit] + f"\n… ({len(text)} characters in all)"


_URL = re.compile(r"https?://[^\s)»<>\"']+")


def _linked(text: str) -> str:
    """Escaped text whose URLs are links (sources cite the RFC sections and IdP pages they quote)."""
    out, at = [], 0
    for found in _URL.finditer(text):
        url = found.group(0).rstrip(".,;")
        out += [_e(text[at:found.start()]), f"<a href='{_e(url)}' rel=noreferrer>{_e(url)}</a>"]
        at = found.start() + len(url)
    return "".join(out) + _e(text[at:])


def _skips_html(doc: dict) -> list[str]:
    skipped = {(r["requirement"], c["idp"], r.get("reason", "")) for c in doc["checks"] for r in c["requirements"]
               if r["outcome"] == "skipped"}
    if not skipped:
        return []
    out = []
    for title, blocked in (("Skipped because something failed first", True),
                           ("Not judged: not offered by the target, or not configured", False)):
        rows = [f"<tr><td><code>{_e(r)}</code></td><td>{_e(i or 'rfc')}</td><td>{_e(reason)}</td></tr>"
                for r, i, reason in sorted(skipped, key=lambda t: (t[0], t[1] or ""))
                if reason.startswith(BLOCKED) == blocked]
        if rows:
            out += [f"<h3>{_e(title)} ({len(rows)})</h3><table class={'blocked' if blocked else 'na'}><tr>"
                    "<th>requirement</th><th>IdP</th><th>reason</th></tr>", *rows, "</table>"]
    return out


def _requirements_html(doc: dict) -> list[str]:
    judged = defaultdict(set)
    for check in doc["checks"]:
        for result in check["requirements"]:
            judged[result["requirement"]].add(result["outcome"])
    rows = []
    for rid, requirement in doc["requirements"].items():
        outcomes = judged.get(rid)
        if not outcomes:
            continue
        result = worst(outcomes)
        rows.append(f"<tr><td><code>{_e(rid)}</code></td><td>{_e(requirement['level'])}</td>"
                    f"<td class={result}>{_e(result)}</td><td>{_e(requirement['statement'])}</td>"
                    f"<td class=meta>{_linked(requirement['source'])}</td></tr>")
    return ["<table><tr><th>ID</th><th>level</th><th>result</th><th>statement</th>"
            "<th>source</th></tr>"] + rows + ["</table>"]


# ---- JUnit -----------------------------------------------------------------------------------

WARNINGS_SUITE = "scimcert SHOULD warnings"


def finish_junit(path, run) -> None:
    """pytest's junit.xml, finished: a crashed check (the HARNESS_ERROR_PROPERTY) is an <error>, not a
    <failure> of the target; every warned requirement becomes a <testcase> of its own in the testsuite
    "scimcert SHOULD warnings", <skipped type="warning"> with the finding, which the test-report views of
    GitHub and GitLab list (a check that only warned passes, and a passed case shows nothing); the
    suites' counts follow, and the file passes the redactor once more."""
    if not path.is_file():
        return
    tree = ElementTree.parse(path)
    root = tree.getroot()
    for suite in tree.iter("testsuite"):
        moved = 0
        for case in suite.iter("testcase"):
            error = next((p.get("value") for p in case.iter("property")
                          if p.get("name") == HARNESS_ERROR_PROPERTY), None)
            failure = case.find("failure")
            if error is not None and failure is not None:
                failure.tag = "error"
                failure.set("message", f"harness error (a bug of scimcert, not of the target): {error}")
                moved += 1
        suite.set("failures", str(int(suite.get("failures", "0")) - moved))
        suite.set("errors", str(int(suite.get("errors", "0")) + moved))
    warned = [(record, result) for record, result in run.results() if result.outcome == "warning"]
    if warned:
        suite = ElementTree.Element("testsuite", name=WARNINGS_SUITE, tests=str(len(warned)), skipped=str(len(warned)),
                                    failures="0", errors="0", time="0")
        for record, result in warned:
            case = ElementTree.SubElement(suite, "testcase", classname="scimcert.warnings",
                                          name=f"{result.requirement} [{record.column}] {record.nodeid}", time="0")
            text = "\n".join(line for f in result.failed_findings for line in finding_lines(f)) or result.reason
            skipped = ElementTree.SubElement(case, "skipped", type="warning",
                                             message=f"WARNING (does not fail the run) {result.level} {result.requirement}: "
                                                     f"{catalogue()[result.requirement].statement}")
            skipped.text = text
        if root.tag == "testsuites":
            root.append(suite)
        else:  # a single <testsuite> root: wrap both
            root = ElementTree.Element("testsuites")
            root.extend([tree.getroot(), suite])
    text = ElementTree.tostring(root, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>' + run.redactor(text), encoding="utf-8")
