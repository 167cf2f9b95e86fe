"""scimcert against scim2-tester, in turn, on the same scim2-server.

    python bench/vs_peers.py [--pairs 5]

Starts scim2-server (a dev dependency) on a free loopback port, then runs, in turn and `--pairs` times
each, as a user would (a fresh process each, start-up included, with Python's bytecode cache on):
- scimcert: `pytest suites -q` with all three profiles against it;
- scim2-tester: `check_server` over scim2-client's HTTP engine, everything it checks.

It prints both medians, their ratio (scimcert / scim2-tester), and each tool's requests (counted on
the wire: scimcert's transcript, an httpx event hook for scim2-tester) and results judged (scimcert's
requirement results, scim2-tester's CheckResults), with those each skipped apart: a skipped result
judged nothing and is not counted. Issue 14's goal: a ratio of at most 1.0 while judging at least 5
times as many results.

Where the time goes, per tool (medians): the CPU seconds of the tool's own process (its client) and of
the scim2-server process while the tool ran (read from /proc on Linux). scim2-server answers in Python
threads that share one core (the GIL), so its CPU seconds for a tool's requests are a floor under that
tool's wall time, whatever the client does; and both processes' CPU seconds spread over the machine's
cores are another. Prints figures; asserts nothing.
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
from typing import NamedTuple

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
judged = [result for result in results if result.status.name != "SKIPPED"]
print(json.dumps({"requests": len(sent), "results": len(judged), "skipped": len(results) - len(judged)}))
"""


def user_environment(**extra: str) -> dict:
    """This environment as a user's shell has it: no SCIM_/PYTEST_ settings of ours, and Python's bytecode
    cache on (PYTHONDONTWRITEBYTECODE, if this shell sets it, would make pytest rewrite and compile every
    plugin module again on each run)."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SCIM_", "PYTEST_")) and k != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, **extra}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far (Linux /proc), None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of this process's finished children (each tool runs as one)."""
    times = os.times()
    return times.children_user + times.children_system


class Run(NamedTuple):
    seconds: float
    requests: int
    results: int  # judged: passed, warned, failed or errored; a result the tool skipped judged nothing
    skipped: int
    tool_cpu: float
    server_cpu: float | None  # the server's CPU seconds while the tool ran; None without /proc


def measured(tool, base: str, server: int) -> Run:
    client, served = children_cpu(), cpu_seconds(server)
    seconds, requests, results, skipped = tool(base)
    after = cpu_seconds(server)
    return Run(seconds, requests, results, skipped, children_cpu() - client,
               None if served is None or after is None else after - served)


def median(runs: list[Run], field: str) -> float | None:
    values = [getattr(run, field) for run in runs]
    return None if None in values else statistics.median(values)


def scimcert(base: str) -> tuple[float, int, int, int]:
    environment = user_environment(SCIM_BASE_URL=base, SCIM_TOKEN=TOKEN)
    with tempfile.TemporaryDirectory() as reports:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--reports-dir",
                        reports], cwd=ROOT, env=environment, capture_output=True, check=False)
        seconds = time.perf_counter() - started
        requests = sum(1 for _ in transcript.records(Path(reports)))
        results = json.loads((Path(reports) / "conformance.json").read_text())["summary"]["requirementResults"]
    skipped = results.get("skipped", 0)
    return seconds, requests, sum(results.values()) - skipped, skipped


def peer(base: str) -> tuple[float, int, int, int]:
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-c", PEER, base, TOKEN], capture_output=True, text=True, check=True,
                              env=user_environment())
    seconds = time.perf_counter() - started
    counts = json.loads(finished.stdout.strip().splitlines()[-1])
    return seconds, counts["requests"], counts["results"], counts["skipped"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="runs of each tool, in turn (default 5)")
    args = parser.parse_args()
    port = free_port()
    command, _, base = scim2_server(Path(tempfile.gettempdir()), port)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        runs: dict[str, list[Run]] = {"scimcert": [], "scim2-tester": []}
        for pair in range(args.pairs):
            runs["scimcert"].append(measured(scimcert, base, server.pid))
            runs["scim2-tester"].append(measured(peer, base, server.pid))
            print(f"pair {pair + 1}: scimcert {runs['scimcert'][-1].seconds:.1f} s, "
                  f"scim2-tester {runs['scim2-tester'][-1].seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    medians = {tool: median(found, "seconds") for tool, found in runs.items()}
    client = {tool: median(found, "tool_cpu") for tool, found in runs.items()}
    served = {tool: median(found, "server_cpu") for tool, found in runs.items()}
    last = {tool: found[-1] for tool, found in runs.items()}  # the counts printed are the last run's
    print(f"{'tool':<13} {'median s':>8} {'requests':>8} {'judged':>8} {'skipped':>8} {'tool CPU s':>10} "
          f"{'server CPU s':>12}")
    for tool in runs:
        server_cpu = "n/a" if served[tool] is None else f"{served[tool]:.2f}"
        print(f"{tool:<13} {medians[tool]:>8.2f} {last[tool].requests:>8} {last[tool].results:>8} "
              f"{last[tool].skipped:>8} {client[tool]:>10.2f} {server_cpu:>12}")
    ratio = medians["scimcert"] / medians["scim2-tester"]
    results = last["scimcert"].results / last["scim2-tester"].results
    print(f"ratio scimcert / scim2-tester: {ratio:.2f} (goal <= 1.0), judging {results:.1f}x the results (goal >= 5)")
    per_result = {tool: 1000 * medians[tool] / last[tool].results for tool in runs}
    print(f"per judged result: scimcert {per_result['scimcert']:.1f} ms, scim2-tester "
          f"{per_result['scim2-tester']:.1f} ms (ratio {per_result['scimcert'] / per_result['scim2-tester']:.2f})")
    if served["scimcert"] is not None:
        each = {tool: 1000 * served[tool] / last[tool].requests for tool in runs}
        print(f"floor: scim2-server spent {served['scimcert']:.2f} s of CPU answering scimcert's requests "
              f"({each['scimcert']:.2f} ms each; scim2-tester's: {each['scim2-tester']:.2f} ms), on one core: "
              f"no client sending them can finish under {served['scimcert'] / medians['scim2-tester']:.2f}x "
              f"scim2-tester's wall time")
        cores = os.cpu_count() or 1
        both = client["scimcert"] + served["scimcert"]
        print(f"floor: scimcert's run took {both:.2f} s of CPU (its own {client['scimcert']:.2f} s and the server's), "
              f"at best {both / cores:.2f} s on this machine's {cores} cores: "
              f"{both / cores / medians['scim2-tester']:.2f}x scim2-tester's wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
