"""Wall time and request count of a full conformance run against the embedded reference server.

    python bench/suite_runtime.py [--workers N] [extra pytest args]

Runs `pytest suites` (serially, and with pytest-xdist when --workers is given), then prints the wall
time, the number of checks, requirement results, distinct requirements, and HTTP requests per method as
recorded in the run's transcripts. Prints figures; asserts nothing.
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


def run(workers: int | None, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--reports-dir", reports,
                   *(["-n", str(workers)] if workers else []), *extra]
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        methods: Counter = Counter()
        for transcript in Path(reports).glob("transcript*.jsonl"):
            for line in transcript.read_text().splitlines():
                methods[json.loads(line)["method"]] += 1
        document = json.loads((Path(reports) / "conformance.json").read_text())
    return {"workers": workers or 1, "exit": finished.returncode, "wall": wall,
            "checks": document["summary"]["checks"]["total"], "results": document["summary"]["requirementResults"],
            "requirements": document["summary"]["requirements"], "requests": sum(methods.values()),
            "methods": dict(sorted(methods.items()))}


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


if __name__ == "__main__":
    main()
