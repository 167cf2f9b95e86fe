"""Wall time, requests and report sizes of a full conformance run against the embedded reference server.

    python bench/suite_runtime.py [--workers N] [--latency-ms MS] [extra pytest args]

Runs `pytest suites` (serially, and with pytest-xdist when --workers is given), then prints, from the
run's conformance.json and transcripts:
- the wall time, checks, requirement results, distinct requirements, and HTTP requests per method;
- requests per capability (a check's first declared requirement) and per profile column;
- cleanup requests against the users the run created (they should be no more);
- reads a check repeated with the same URL (what the IdP's own sequence repeats shows here too);
- the reports' sizes, file by file, and in all;
- the longest chain of sequential requests in one check;
- with --workers: the speed-up, and whether every (check, requirement) outcome is the same.
With --latency-ms, both runs go to the reference server in its own process, each answer delayed (issue 14:
at 50 ms, -n 8 should be at least 4 times faster than serial, with identical verdicts).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
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
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--reports-dir", reports,
                   *(["-n", str(workers)] if workers else []), *extra]
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
        wall = time.perf_counter() - started
        methods: Counter = Counter()
        for record in transcript.records(Path(reports)):
            methods[record["method"]] += 1
        document = json.loads((Path(reports) / "conformance.json").read_text())
        records = {record["id"]: record for record in transcript.records(Path(reports))}
        sizes = {path.relative_to(reports).parts[0]: 0 for path in Path(reports).rglob("*") if path.is_file()}
        for path in Path(reports).rglob("*"):
            if path.is_file():
                sizes[path.relative_to(reports).parts[0]] += path.stat().st_size
    return {"workers": workers or 1, "exit": finished.returncode, "wall": wall,
            "checks": document["summary"]["checks"]["total"], "results": document["summary"]["requirementResults"],
            "requirements": document["summary"]["requirements"], "requests": sum(methods.values()),
            "methods": dict(sorted(methods.items())), **account(document, records), "sizes": sizes}


def account(document: dict, records: dict[str, dict]) -> dict:
    """Requests per capability and column, cleanup against creates, and reads repeated within a check."""
    per_capability: Counter = Counter()
    per_column: Counter = Counter()
    repeated = 0
    for check in document["checks"]:
        capability = check["requirements"][0]["capability"] if check["requirements"] else "?"
        per_capability[capability] += len(check["exchanges"])
        per_column[check["idp"] or "rfc"] += len(check["exchanges"])
        reads = Counter(e["url"] for e in check["exchanges"] if e["method"] == "GET")
        repeated += sum(count - 1 for count in reads.values() if count > 1)
    created = sum(1 for r in records.values() if r["method"] == "POST" and r["status"] == 201
                  and r["url"].split("?")[0].endswith("/Users"))
    cleanup = sum(1 for r in records.values() if r["label"].startswith("cleanup"))
    longest = max(document["checks"], key=lambda c: len(c["exchanges"]))
    return {"per_capability": dict(per_capability.most_common()), "per_column": dict(sorted(per_column.items())),
            "created": created, "cleanup": cleanup, "repeated_reads": repeated,
            "longest": (len(longest["exchanges"]), longest["nodeid"]),
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
        print(f"  users created {row['created']}, cleanup requests {row['cleanup']} "
              f"({'no more' if row['cleanup'] <= row['created'] else 'MORE'} than the users created); "
              f"GETs a check repeated with the same URL: {row['repeated_reads']}")
        print(f"  report files: {row['sizes']}; in all {sum(row['sizes'].values()) / 1e6:.2f} MB")
        print(f"  longest chain of sequential requests in one check: {row['longest'][0]} ({row['longest'][1]})")
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
