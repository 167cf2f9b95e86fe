"""scimcert against scim2-tester, in turn, on the same scim2-server.

    python bench/vs_peers.py [--pairs 5]

Starts scim2-server (a dev dependency) on a free loopback port, then runs, in turn and `--pairs` times
each, as a user would (a fresh process each, start-up included, with Python's bytecode cache on):
- scimcert: `pytest suites -q` with all three profiles against it;
- scim2-tester: `check_server` over scim2-client's HTTP engine, everything it checks.

It prints both medians, their ratio (scimcert / scim2-tester), and each tool's requests (counted on
the wire: scimcert's transcript, an httpx event hook for scim2-tester) and results (scimcert's
requirement results, scim2-tester's CheckResults). Issue 14's goal: a ratio of at most 1.0 while
judging at least 5 times as many results. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from third_party import TOKEN, free_port, scim2_server  # noqa: E402

from scimcert import transcript  # noqa: E402

PEER = """
import json, sys, httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
sent = []
http = httpx2.Client(base_url=sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]},
                     event_hooks={"request": [sent.append]})
client = SyncSCIMClient(http)
client.discover()
results = check_server(client, raise_exceptions=False)
print(json.dumps({"requests": len(sent), "results": len(results)}))
"""


def user_environment(**extra: str) -> dict:
    """This environment as a user's shell has it: no SCIM_/PYTEST_ settings of ours, and Python's bytecode
    cache on (PYTHONDONTWRITEBYTECODE, if this shell sets it, would make pytest rewrite and compile every
    plugin module again on each run)."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SCIM_", "PYTEST_")) and k != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, **extra}


def scimcert(base: str) -> tuple[float, int, int]:
    environment = user_environment(SCIM_BASE_URL=base, SCIM_TOKEN=TOKEN)
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--reports-dir",
                        reports], cwd=ROOT, env=environment, capture_output=True, check=False)
        seconds = time.perf_counter() - started
        requests = sum(1 for _ in transcript.records(Path(reports)))
        summary = json.loads((Path(reports) / "conformance.json").read_text())["summary"]
    return seconds, requests, sum(summary["requirementResults"].values())


def peer(base: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-c", PEER, base, TOKEN], capture_output=True, text=True, check=True,
                              env=user_environment())
    seconds = time.perf_counter() - started
    counts = json.loads(finished.stdout.strip().splitlines()[-1])
    return seconds, counts["requests"], counts["results"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="runs of each tool, in turn (default 5)")
    args = parser.parse_args()
    port = free_port()
    command, _, base = scim2_server(Path(tempfile.gettempdir()), port)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        runs: dict[str, list[tuple[float, int, int]]] = {"scimcert": [], "scim2-tester": []}
        for pair in range(args.pairs):
            runs["scimcert"].append(scimcert(base))
            runs["scim2-tester"].append(peer(base))
            print(f"pair {pair + 1}: scimcert {runs['scimcert'][-1][0]:.1f} s, "
                  f"scim2-tester {runs['scim2-tester'][-1][0]:.1f} s", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    medians = {tool: statistics.median(r[0] for r in found) for tool, found in runs.items()}
    print(f"{'tool':<13} {'median s':>8} {'requests':>8} {'results':>8}")
    for tool, found in runs.items():
        print(f"{tool:<13} {medians[tool]:>8.2f} {found[-1][1]:>8} {found[-1][2]:>8}")
    ratio = medians["scimcert"] / medians["scim2-tester"]
    results = runs["scimcert"][-1][2] / runs["scim2-tester"][-1][2]
    print(f"ratio scimcert / scim2-tester: {ratio:.2f} (goal <= 1.0), judging {results:.1f}x the results (goal >= 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
