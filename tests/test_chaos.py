"""Chaos: a target that dies in the middle of a run, and a run killed with SIGKILL.

Each test starts a reference server in this process (so that what is really left on it can be read from
its store, also after it stopped answering), runs the suite against it as a user would (a subprocess), and
breaks one of the two in the middle of the run.
"""

from __future__ import annotations

import json
import signal
import time

from suite_runs import external, start_suite, stored_users, sweep

from scimcert.data import run_tag, user_name_prefix
from scimcert.ledger import read
from scimcert.reference import ReferenceServer
from scimcert.reference.chaos import Chaos
from scimcert.schemas import errors

KILLED_SEED, CONCURRENT_SEED = 1234567, 7654321
SLOW = 20  # ms of latency: the run lasts long enough to be caught in the middle


def wait_for_users(server: ReferenceServer, prefix: str, at_least: int, within: float = 60) -> dict[str, str]:
    """The run's users on `server` once it has at least `at_least` of them."""
    deadline = time.monotonic() + within
    while len(stored_users(server, prefix)) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    found = stored_users(server, prefix)
    assert len(found) >= at_least, f"the run created only {len(found)} users in {within} s"
    return found


def test_a_target_that_dies_mid_run_ends_the_run_within_15_s_with_its_leftovers_listed(tmp_path):
    """The target stops answering (connection refused) while the run creates users. The run ends within 15 s,
    fails, and lists as possibly remaining exactly the users still on the target (read from its store), in
    the console, cleanup.json, conformance.json and the HTML alike; its ledger is kept for the sweep."""
    prefix = user_name_prefix(run_tag(KILLED_SEED))
    server = ReferenceServer(layers=[Chaos(latency_ms=SLOW)], seed_users=150).start()
    try:
        process = start_suite(tmp_path, "--idp", "okta", "--seed", str(KILLED_SEED), env=external(server))
        wait_for_users(server, prefix, 8)
    finally:
        server.stop()
    killed = time.monotonic()
    output, _ = process.communicate(timeout=120)
    took = time.monotonic() - killed
    remaining = stored_users(server, prefix)  # the truth: what the dead target still holds
    assert took < 15, f"the run took {took:.1f} s after its target died"
    assert process.returncode == 1, output[-3000:]
    document = json.loads((tmp_path / "conformance.json").read_text("utf-8"))
    assert errors("conformance.schema.json", document) == []
    assert [c["nodeid"] for c in document["checks"] if c["outcome"] == "error"] == []
    cleanup = document["cleanup"]
    users_left = [u for u in cleanup["leftovers"] if u["resourceType"] == "User"]  # groups have their own lines
    by_id = {u["id"]: u for u in users_left if u["id"] is not None}
    unknown = {u["userName"] for u in users_left if u["id"] is None}
    assert remaining, "the target died with none of the run's users on it: nothing was tested"
    assert all(user_id in by_id or name in unknown for user_id, name in remaining.items())  # none is missing
    assert set(by_id) <= set(remaining)  # and none listed by id is gone
    assert all(u["state"] for u in cleanup["leftovers"])
    assert all(u["state"].startswith("possibly created") for u in cleanup["leftovers"] if u["id"] is None)
    per_process = json.loads((tmp_path / "cleanup.json").read_text("utf-8"))["leftovers"]
    html = (tmp_path / "conformance.html").read_text("utf-8")
    console = output.splitlines()
    shown = [f"{u['resourceType']} {u.get('userName', u.get('displayName'))} "
             f"(id {u['id'] if u['id'] is not None else 'unknown'}): {u['state']}" for u in cleanup["leftovers"]]
    assert per_process == cleanup["leftovers"]
    assert all(f"  {line}" in console for line in shown), output[-3000:]
    assert html.count("<li class=leftover>") == len(shown)
    assert all(line.replace("'", "&#x27;").replace('"', "&quot;") in html for line in shown)
    assert cleanup["ledger"] == str(tmp_path / f"ledger-{run_tag(KILLED_SEED)}.jsonl")
    ledger = read(tmp_path / cleanup["ledger"])  # the group checks walk first: groups may be left too
    assert {u["userName"] for u in users_left} <= set(ledger.user_names)
    assert {g["displayName"] for g in cleanup["leftovers"] if g["resourceType"] == "Group"} <= set(ledger.display_names)
    assert f"scimcert sweep --ledger {cleanup['ledger']}" in output


def test_a_killed_run_is_swept_by_its_ledger_and_a_concurrent_run_keeps_its_users(tmp_path):
    """Two runs share a tenant. Run A is killed with SIGKILL in the middle: no cleanup, no report, only its
    ledger. Run B is paused in the middle (SIGSTOP), a run in progress. `scimcert sweep --ledger` of A's
    ledger leaves none of A's users; a sweep without tag spares B's (created less than an hour ago); B's
    users are untouched by both, and B, resumed, cleans up after itself."""
    killed_tag, concurrent_tag = run_tag(KILLED_SEED), run_tag(CONCURRENT_SEED)
    with ReferenceServer(layers=[Chaos(latency_ms=SLOW)], seed_users=150) as server:
        concurrent = start_suite(tmp_path / "b", "--idp", "okta", "--seed", str(CONCURRENT_SEED), env=external(server))
        killed = start_suite(tmp_path / "a", "--idp", "okta", "--seed", str(KILLED_SEED), env=external(server))
        try:
            wait_for_users(server, user_name_prefix(killed_tag), 8)
            killed.send_signal(signal.SIGKILL)
            killed.communicate(timeout=30)
            wait_for_users(server, user_name_prefix(concurrent_tag), 3)
            concurrent.send_signal(signal.SIGSTOP)
            time.sleep(0.5)  # a request B had on the wire is answered before B's users are counted
            left_by_a = stored_users(server, user_name_prefix(killed_tag))
            kept_by_b = stored_users(server, user_name_prefix(concurrent_tag))
            ledger = tmp_path / "a" / f"ledger-{killed_tag}.jsonl"
            by_ledger = sweep(server, "--ledger", str(ledger))
            after_ledger = stored_users(server)
            without_tag = sweep(server)
            after_sweep = stored_users(server)
        finally:
            concurrent.send_signal(signal.SIGCONT)
        output, _ = concurrent.communicate(timeout=300)
        after_b = stored_users(server)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "a" / "conformance.json").exists()  # killed: no report, only the ledger
    assert left_by_a, "the killed run left no user: nothing was swept"
    assert set(left_by_a.values()) <= set(read(ledger).user_names)
    assert by_ledger.returncode == 0, by_ledger.stdout + by_ledger.stderr
    assert not set(left_by_a) & set(after_ledger)
    assert stored_users(server, user_name_prefix(killed_tag)) == {}
    assert {i: n for i, n in after_ledger.items() if i in kept_by_b} == kept_by_b
    assert without_tag.returncode == 0, without_tag.stdout + without_tag.stderr
    assert {i: n for i, n in after_sweep.items() if i in kept_by_b} == kept_by_b
    assert sum("spared (newer than --older-than 1 h)" in line and not line.startswith("group ")
               for line in without_tag.stdout.splitlines()) == len(after_ledger)  # B's users (and its groups)
    assert concurrent.returncode in (0, 1), output[-3000:]
    assert not {i for i, n in after_b.items() if n.lower().startswith(user_name_prefix(concurrent_tag).lower())}
    assert "cleanup: every user and group the run created is gone" in output
    assert not (tmp_path / "b" / f"ledger-{concurrent_tag}.jsonl").exists()  # nothing left: no ledger kept
