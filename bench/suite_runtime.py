"""Wall time, requests and report sizes of a full conformance run against the embedded reference server.

    python bench/suite_runtime.py [--workers N] [extra pytest args]

Runs `pytest suites` (serially, and with pytest-xdist when --workers is given), then prints, from the
run's conformance.json and transcripts:
- the wall time, checks, requirement results, distinct requirements, and HTTP requests per method;
- requests per capability (a check's first declared requirement) and per profile column;
- cleanup requests against the users the run created (they should be no more);
- reads a check repeated with the same URL (what the IdP's own sequence repeats shows here too);
- the reports' sizes, file by file, and in all.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scimcert import transcript  # noqa: E402


def run(workers: int | None, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--reports-dir", reports,
                   *(["-n", str(workers)] if workers else []), *extra]
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
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
    return {"per_capability": dict(per_capability.most_common()), "per_column": dict(sorted(per_column.items())),
            "created": created, "cleanup": cleanup, "repeated_reads": repeated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="also run with pytest-xdist -n WORKERS")
    args, extra = parser.parse_known_args()
    rows = [run(None, extra)] + ([run(args.workers, extra)] if args.workers else [])
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


if __name__ == "__main__":
    main()
