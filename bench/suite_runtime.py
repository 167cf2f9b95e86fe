"""Wall time, requests and report sizes of a full conformance run against the embedded reference server.

    python bench/suite_runtime.py [--workers N] [--latency-ms MS] [extra pytest args]

Runs `pytest suites` (serially, and with pytest-xdist when --workers is given), then prints, from the
run's conformance.json and transcripts:
- the wall time, checks, requirement results, distinct requirements, and HTTP requests per method;
- requests per capability (a check's first declared requirement) and per profile column;
- cleanup requests against the users and groups the run created (they should be no more);
- reads a check repeated with the same URL, and of those the identical ones: no write of the check between
  them, so the same state read twice (each shown with its check and step: they are the check's point, a
  walk read twice to compare, page 1 read again to know the tenant held still, a user read before and after
  a refused write);
- the reports' sizes, file by file (Allure's results, containers and attachments apart), and in all, and how long
  writing them took: while the checks ran (Allure's files and the transcript, every process's, bench/timeline.py
  times them) and after the last check (the console's "written in");
- the longest chain of sequential requests in one check (requests that overlap in time count once);
- where the wall time went (bench/timeline.py records it): until the first check starts (interpreter,
  imports, collection, xdist's workers), the checks, after the last check (its cleanup is in the checks;
  the reports); per process, its checks, the time they took, and what it waited for the quiet tenant
  (scimcert/quiet.py: writes held back by a walk, walks held back by writes or creates); the quiet era,
  from the first quiet_tenant check's start to the last one's end;
- with --workers: the speed-up, and whether every (check, requirement) outcome is the same.
With --latency-ms, both runs go to the reference server in its own process, each answer delayed (issue 14:
at 50 ms, -n 8 should be at least 4 times faster than serial, with identical verdicts).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scimcert import transcript  # noqa: E402
from scimcert.reference import Tenant  # noqa: E402


def run(workers: int | None, extra: list[str], target: dict | None = None) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_"))}
    environment.update(target or {})
    with tempfile.TemporaryDirectory() as reports, tempfile.TemporaryDirectory() as timeline:
        environment.update(BENCH_TIMELINE=timeline, PYTHONPATH=os.pathsep.join(
            [str(ROOT / "bench"), *([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])]))
        command = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "-p", "timeline",
                   "--reports-dir", reports, *(["-n", str(workers)] if workers else []), *extra]
        began = time.time()
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
        wall = time.perf_counter() - started
        events = [json.loads(line) for path in Path(timeline).glob("*.jsonl") for line in path.read_text().splitlines()]
        methods: Counter = Counter()
        for record in transcript.records(Path(reports)):
            methods[record["method"]] += 1
        document = json.loads((Path(reports) / "conformance.json").read_text())
        records = {record["id"]: record for record in transcript.records(Path(reports))}
        sizes: Counter = Counter()
        allure: Counter = Counter()
        for path in Path(reports).rglob("*"):
            if path.is_file():
                sizes[path.relative_to(reports).parts[0]] += path.stat().st_size
                if path.parent.name == "allure-results":
                    allure[path.name.rsplit("-", 1)[-1].split(".")[0]] += path.stat().st_size
        written = re.search(r"\(written in ([0-9.]+) s\)", finished.stdout)
    return {"workers": workers or 1, "exit": finished.returncode, "wall": wall,
            "checks": document["summary"]["checks"]["total"], "results": document["summary"]["requirementResults"],
            "requirements": document["summary"]["requirements"], "requests": sum(methods.values()),
            "methods": dict(sorted(methods.items())), **account(document, records, events),
            "timeline": timeline_of(events, began, wall), "sizes": dict(sizes), "allure": dict(allure),
            "write_seconds": float(written.group(1)) if written else None, "writing": writing_of(events)}


def writing_of(events: list[dict]) -> dict:
    """The report writing of every process while its checks ran (bench/timeline.py's `writing` records)."""
    found = [e for e in events if e["kind"] == "writing"]
    return {key: sum(e[key] for e in found) for key in ("allure", "allureFiles", "transcript")}


def chain(exchanges: list[dict], sent: dict[str, list[float]]) -> int:
    """The longest chain of sequential requests among a check's: the most that follow one another without
    overlapping in time (requests sent together count once); without their times, all of them."""
    spans = [sent.get(e["id"]) for e in exchanges]
    if None in spans:
        return len(exchanges)
    count, free = 0, float("-inf")
    for left, answered in sorted(spans, key=lambda span: span[1]):
        if left >= free:
            count, free = count + 1, answered
    return count


def timeline_of(events: list[dict], began: float, wall: float) -> dict:
    """Where the wall time went, per process, and the quiet era (bench/timeline.py's records)."""
    checks = [e for e in events if e["kind"] == "check"]
    if not checks:
        return {}
    first, last = min(c["started"] for c in checks), max(c["ended"] for c in checks)
    quiet = [c for c in checks if c["quiet"]]
    waited = {e["process"]: e for e in events if e["kind"] == "waited"}
    processes = {}
    for name in sorted({c["process"] for c in checks}, key=lambda n: (len(n), n)):
        own = [c for c in checks if c["process"] == name]
        processes[name] = {"checks": len(own), "busy": sum(c["ended"] - c["started"] for c in own),
                           "quiet": sum(1 for c in own if c["quiet"]),
                           "waited write": waited.get(name, {}).get("write", 0.0),
                           "waited walk": waited.get(name, {}).get("walk", 0.0)}
    return {"before": first - began, "checks": last - first, "after": began + wall - last, "processes": processes,
            "quiet": (len(quiet), min(c["started"] for c in quiet) - first, max(c["ended"] for c in quiet) - first)
            if quiet else None}


def identical_reads(check: dict) -> Counter:
    """(check, step) of each GET that repeats an earlier one of the check with no write of the check between."""
    found: Counter = Counter()
    writes, last = 0, {}
    for exchange in check["exchanges"]:
        if exchange["method"] != "GET":
            writes += 1
            continue
        if last.get(exchange["url"]) == writes:
            found[(check["nodeid"].split("::")[-1].split("[")[0], exchange["label"])] += 1
        last[exchange["url"]] = writes
    return found


def account(document: dict, records: dict[str, dict], events: list[dict]) -> dict:
    """Requests per capability and column, cleanup against creates, reads repeated within a check, and the
    longest chain of sequential requests in one check."""
    per_capability: Counter = Counter()
    per_column: Counter = Counter()
    repeated = 0
    identical: Counter = Counter()
    for check in document["checks"]:
        capability = check["requirements"][0]["capability"] if check["requirements"] else "?"
        per_capability[capability] += len(check["exchanges"])
        per_column[check["idp"] or "rfc"] += len(check["exchanges"])
        reads = Counter(e["url"] for e in check["exchanges"] if e["method"] == "GET")
        repeated += sum(count - 1 for count in reads.values() if count > 1)
        identical.update(identical_reads(check))
    created = sum(1 for r in records.values() if r["method"] == "POST" and r["status"] == 201
                  and r["url"].split("?")[0].rstrip("/").endswith(("/Users", "/Groups")))
    cleanup = sum(1 for r in records.values() if r["label"].startswith("cleanup"))
    sent = {key: span for e in events if e["kind"] == "check" for key, span in e["requests"].items()}
    longest = max(document["checks"], key=lambda c: chain(c["exchanges"], sent))
    return {"per_capability": dict(per_capability.most_common()), "per_column": dict(sorted(per_column.items())),
            "created": created, "cleanup": cleanup, "repeated_reads": repeated, "identical_reads": identical,
            "longest": (chain(longest["exchanges"], sent), longest["nodeid"], len(longest["exchanges"])),
            "outcomes": {(c["nodeid"], r["requirement"]): r["outcome"] for c in document["checks"]
                         for r in c["requirements"]}}


def slow_target(latency_ms: float) -> tuple[subprocess.Popen, dict]:
    """The reference server in its own process, each answer delayed by `latency_ms`, as an external target."""
    server = subprocess.Popen([sys.executable, "-m", "scimcert.reference", "--port", "0", "--seed-users", "150",
                               "--latency-ms", str(latency_ms)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    base = server.stdout.readline().split()[-1]
    tenant = Tenant.load()
    return server, {"SCIM_BASE_URL": base, "SCIM_TOKEN": tenant.token, "SCIM_REVOKED_TOKEN": tenant.revoked_tokens[0],
                    "SCIM_ORG_DOMAINS": ",".join(tenant.domains),
                    "SCIM_GUESTS": ",".join(f"{g.userName}={g.id}" for g in tenant.guests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="also run with pytest-xdist -n WORKERS")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="against the reference server in its own process with this latency on every answer")
    args, extra = parser.parse_known_args()
    server, target = slow_target(args.latency_ms) if args.latency_ms else (None, None)
    try:
        rows = [run(None, extra, target)] + ([run(args.workers, extra, target)] if args.workers else [])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(f"{'workers':>7} {'exit':>4} {'wall s':>7} {'checks':>6} {'requests':>8} {'req/s':>6}  "
          "per method / requirement results / distinct requirements")
    for row in rows:
        print(f"{row['workers']:>7} {row['exit']:>4} {row['wall']:>7.1f} {row['checks']:>6} {row['requests']:>8} "
              f"{row['requests'] / row['wall']:>6.0f}  {row['methods']}  {row['results']}  {row['requirements']}")
    for row in rows:
        print(f"\nworkers {row['workers']}:")
        print(f"  requests per capability: {row['per_capability']}")
        print(f"  requests per column:     {row['per_column']}")
        print(f"  users and groups created {row['created']}, cleanup requests {row['cleanup']} "
              f"({'no more' if row['cleanup'] <= row['created'] else 'MORE'} than the users and groups created); "
              f"GETs a check repeated with the same URL: {row['repeated_reads']}, of which identical (no write of "
              f"the check between): {sum(row['identical_reads'].values())}")
        for (check, step), count in row["identical_reads"].most_common():
            print(f"    {count:>3} {check} ({step})")
        writing, after = row["writing"], row["write_seconds"]
        print(f"  report files: {row['sizes']}; in all {sum(row['sizes'].values()) / 1e6:.2f} MB")
        during = writing["allure"] + writing["transcript"]
        print(f"  report writing: {writing['allure']:.2f} s for Allure's {writing['allureFiles']} files and "
              f"{writing['transcript']:.2f} s for the transcript while the checks ran; "
              + (f"{after:.2f} s after the last check (the console's 'written in'); {during + after:.2f} s in all"
                 if after is not None else "? s after the last check"))
        print(f"  allure-results by kind: {row['allure']}")
        length, nodeid, requests = row["longest"]
        print(f"  longest chain of sequential requests in one check: {length} ({nodeid}"
              + (f"; {requests} requests in all)" if requests != length else ")"))
        spent = row["timeline"]
        if spent:
            print(f"  wall time: {spent['before']:.1f} s until the first check starts, {spent['checks']:.1f} s of checks "
                  f"(the cleanup included), {spent['after']:.1f} s after the last one ends (reports, exit)")
            if spent["quiet"]:
                count, begins, ends = spent["quiet"]
                print(f"  quiet era: {count} quiet_tenant checks, from {begins:.1f} s to {ends:.1f} s into the checks")
            for name, process in spent["processes"].items():
                print(f"  {name:>6}: {process['checks']:3} checks ({process['quiet']:2} quiet) in {process['busy']:5.1f} s; "
                      f"waited for the quiet tenant {process['waited write']:4.1f} s to write, "
                      f"{process['waited walk']:4.1f} s to walk")
    if len(rows) == 2:
        serial, parallel = rows
        differ = sorted(k for k in serial["outcomes"] if serial["outcomes"][k] != parallel["outcomes"].get(k))
        print(f"\nspeed-up with {parallel['workers']} workers"
              + (f" at {args.latency_ms:g} ms latency" if args.latency_ms else "")
              + f": {serial['wall'] / parallel['wall']:.2f}x; requirement outcomes "
              + ("identical" if not differ and serial["outcomes"].keys() == parallel["outcomes"].keys()
                 else f"DIFFER in {len(differ)}: {differ[:5]}"))


if __name__ == "__main__":
    main()
