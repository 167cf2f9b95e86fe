"""Okta's import walk at scale: users per second and the suite's peak memory, at 10,000 and 100,000 users.

    python bench/import_scale.py [--sizes 10000,100000]

For each size it starts the reference server in its own process, seeded with that many users (timed), runs
`pytest suites/test_import.py -k "test_import_walk and okta"` against it in another process, and prints:
the seeding time, the pages and users the Okta walk read (its exchanges in the run's transcript), the check's own
duration (from conformance.json), users walked per second, and the peak RSS of the suite's process
(os.wait4). Prints figures; asserts nothing. Issue 14's goal: at least 5,000 users/s at 100,000 users,
with the peak RSS at 100,000 no more than 1.2 times the peak at 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scimcert import transcript  # noqa: E402
from scimcert.reference import Tenant  # noqa: E402


def serve(size: int) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "scimcert.reference", "--port", "0", "--seed-users", str(size)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()  # printed once the users are seeded and the port is bound
    if not line.startswith("Serving SCIM on "):
        raise SystemExit(f"the reference server did not start: {line!r}")
    return server, line.split()[-1], time.perf_counter() - started


def walk(base_url: str, reports: Path) -> tuple[dict, int]:
    """Run the Okta import walk check; (its record in conformance.json, peak RSS of pytest in bytes)."""
    tenant = Tenant.load()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_"))}
    environment.update(SCIM_BASE_URL=base_url, SCIM_TOKEN=tenant.token, SCIM_IDPS="okta",
                       SCIM_ORG_DOMAINS=",".join(tenant.domains))
    process = subprocess.Popen([sys.executable, "-m", "pytest", "suites/test_import.py", "-q", "-p", "no:cacheprovider",
                                "-k", "test_import_walk and okta", "--reports-dir", str(reports)],
                               cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    document = json.loads((reports / "conformance.json").read_text("utf-8"))
    [check] = [c for c in document["checks"] if c["nodeid"].endswith("[okta-okta]")]
    return check, usage.ru_maxrss * 1024  # ru_maxrss is in kB on Linux


def measure(size: int) -> dict:
    server, base_url, seeding = serve(size)
    try:
        with tempfile.TemporaryDirectory() as folder:
            check, peak = walk(base_url, Path(folder))
            mine = {e["id"] for e in check["exchanges"]}
            pages = [r for r in transcript.records(Path(folder)) if r["id"] in mine
                     and r["method"] == "GET" and "startIndex=" in r["url"] and "count=100" in r["url"]]
            walked = sum(len(json.loads(r["responseBody"]).get("Resources", [])) for r in pages if r["status"] == 200)
    finally:
        server.terminate()
        server.wait(timeout=30)
    outcome = {r["requirement"]: r["outcome"] for r in check["requirements"]}["import.walk-complete"]
    return {"size": size, "seeding": seeding, "pages": len(pages), "walked": walked, "seconds": check["duration"],
            "peak": peak, "walk-complete": outcome}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated tenant sizes")
    args = parser.parse_args()
    rows = [measure(int(size)) for size in args.sizes.split(",")]
    print(f"{'users':>8} {'seeding s':>9} {'pages':>6} {'walked':>8} {'check s':>8} {'users/s':>8} {'peak RSS':>9}  "
          "import.walk-complete")
    for row in rows:
        print(f"{row['size']:>8,} {row['seeding']:>9.1f} {row['pages']:>6} {row['walked']:>8,} {row['seconds']:>8.1f} "
              f"{row['walked'] / row['seconds']:>8,.0f} {row['peak'] / 2**20:>7.0f} MiB  {row['walk-complete']}")
    if len(rows) > 1:
        print(f"peak RSS at {rows[-1]['size']:,} / at {rows[0]['size']:,}: {rows[-1]['peak'] / rows[0]['peak']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
