"""`scimcert sweep`: the users of killed runs are found and removed, and nobody else's are touched.

Each test starts a reference server (correct or with a fault), puts users on it, runs
`python -m scimcert sweep` as a user would (a subprocess with a clean SCIM_* environment), and then
reads what is left through the server's HTTP API.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import all_users, create_user, scim_client
from suite_runs import sweep

from scimcert import cleanup as cleanup_module
from scimcert.cleanup import Tracker, remove_user
from scimcert.client import Exchange as ClientExchange
from scimcert.client import ScimClient
from scimcert.redact import Redactor
from scimcert.reference import ReferenceServer
from scimcert.reference.chaos import Chaos
from scimcert.reference.faults import all_users as all_stored
from scimcert.reference.faults import error, layers_for
from scimcert.reference.layers import Answer, Exchange, Rewrite

RUN_A, RUN_B = "a1b2c3", "d4e5f6"
RUN_A_USERS = [f"Scimcert.{RUN_A}.Zoe.1f2e1@example.com", f"Scimcert.{RUN_A}.Lukasz.1f2e2@example.org",
               f"scimcert.{RUN_A}.Jose.1f2e3@example.com"]  # a target may store the case differently
RUN_B_USERS = [f"Scimcert.{RUN_B}.Ada.77a1@example.com", f"SCIMCERT.{RUN_B}.Grace.77a2@example.com"]
LOOKALIKE = f"Scimcert.{RUN_A}0.Other.1@example.com"  # another run whose tag merely starts like RUN_A
ORDINARY = ["Scimcert@example.com", "Scimcertified.Person@example.com", "Jo.Scimcert.a1b2c3@example.com",
            "Grace.Hopper@example.com"]
LEFT_BEHIND = [*RUN_A_USERS, *RUN_B_USERS, LOOKALIKE]
ANY_AGE = ("--older-than", "0")  # users made a moment ago: without it, a sweep spares them (runs in progress)


# ---- helpers --------------------------------------------------------------------------------

def populate(server: ReferenceServer, names: Sequence[str] = (*LEFT_BEHIND, *ORDINARY)) -> dict[str, str]:
    """Create users named `names`; userName → id."""
    with scim_client(server) as c:
        return {name: create_user(c, user_name=name)["id"] for name in names}


def users_on(server: ReferenceServer) -> dict[str, dict]:
    """Every user the server lists, by userName."""
    with scim_client(server) as c:
        return {u["userName"]: u for u in all_users(c)}


def summary(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]


def refuse_sw() -> Rewrite:
    """A target that filters on `eq` only: any `sw` filter answers 400 invalidFilter."""
    def on_request(ex: Exchange) -> Answer | None:
        expression = ex.param("filter") if ex.is_list else None
        if expression is not None and " sw " in expression.lower():
            return error(400, "Only the eq operator is supported", "invalidFilter")
        return None
    return Rewrite(on_request)


def refuse_patch() -> Rewrite:
    """PATCH fails with a 500: with DELETE unsupported too, users cannot be removed at all."""
    return Rewrite(lambda ex: error(500, "Internal Server Error") if ex.method == "PATCH" else None)


# ---- removing -------------------------------------------------------------------------------

def test_sweep_removes_exactly_the_prefixed_users(tenant):
    with ReferenceServer(tenant) as server:
        ids = populate(server)
        before = users_on(server)
        result = sweep(server, *ANY_AGE)
        after = users_on(server)
    assert result.returncode == 0, result.stderr
    assert set(after) == set(before) - set(LEFT_BEHIND)
    assert set(ORDINARY) <= set(after) and "Ada.Lovelace@example.com" in after  # the tenant's own user too
    for name in LEFT_BEHIND:
        assert f"{name}  id {ids[name]}  deleted" in result.stdout.splitlines()
    assert not any(name in result.stdout for name in ORDINARY)
    assert summary(result) == f"found {len(LEFT_BEHIND)}, deleted {len(LEFT_BEHIND)}, deactivated 0, left 0"


def test_run_tag_restricts_the_sweep_to_one_run(tenant):
    with ReferenceServer(tenant) as server:
        populate(server)
        result = sweep(server, "--run-tag", RUN_A)
        after = users_on(server)
    assert result.returncode == 0, result.stderr
    assert not set(RUN_A_USERS) & set(after)
    assert set(RUN_B_USERS) | {LOOKALIKE} | set(ORDINARY) <= set(after)
    assert summary(result) == f"found {len(RUN_A_USERS)}, deleted {len(RUN_A_USERS)}, deactivated 0, left 0"


def test_dry_run_lists_and_changes_nothing(tenant):
    with ReferenceServer(tenant) as server:
        ids = populate(server)
        before = users_on(server)
        result = sweep(server, "--dry-run", *ANY_AGE)
        after = users_on(server)
    assert result.returncode == 0, result.stderr
    assert after == before
    for name in LEFT_BEHIND:
        assert f"{name}  id {ids[name]}  would be removed" in result.stdout.splitlines()
    assert "dry run" in summary(result) and summary(result).startswith(f"found {len(LEFT_BEHIND)},")


def test_delete_unsupported_users_end_deactivated(tenant):
    with ReferenceServer(tenant, layers=layers_for(["delete-unsupported-405"])) as server:
        ids = populate(server)
        result = sweep(server, *ANY_AGE)
        after = users_on(server)
    assert result.returncode == 0, result.stderr  # nothing is left active
    assert set(LEFT_BEHIND) | set(ORDINARY) <= set(after)  # DELETE really was refused
    assert all(after[name]["active"] is False for name in LEFT_BEHIND)
    assert all(after[name]["active"] is True for name in ORDINARY)
    for name in LEFT_BEHIND:
        assert f"{name}  id {ids[name]}  deactivated (DELETE unsupported)" in result.stdout.splitlines()
    assert summary(result) == f"found {len(LEFT_BEHIND)}, deleted 0, deactivated {len(LEFT_BEHIND)}, left 0"


def test_users_that_cannot_be_removed_exit_1(tenant):
    with ReferenceServer(tenant, layers=[*layers_for(["delete-unsupported-405"]), refuse_patch()]) as server:
        populate(server, RUN_B_USERS)
        result = sweep(server, *ANY_AGE)
        after = users_on(server)
    assert result.returncode == 1
    assert all(after[name]["active"] is True for name in RUN_B_USERS)
    assert result.stdout.count("  left active") == len(RUN_B_USERS)
    assert summary(result) == f"found {len(RUN_B_USERS)}, deleted 0, deactivated 0, left {len(RUN_B_USERS)}"


# ---- finding --------------------------------------------------------------------------------

def test_a_refused_sw_filter_falls_back_to_walking_every_page(tenant):
    """150 ordinary users: the walk takes two pages of 100 and still touches only the prefixed users."""
    with ReferenceServer(tenant, layers=[refuse_sw()], seed_users=150) as server:
        populate(server)
        before = users_on(server)
        result = sweep(server, *ANY_AGE)
        after = users_on(server)
    assert len(before) > 100 + len(LEFT_BEHIND)
    assert result.returncode == 0, result.stderr
    assert "refused (400)" in result.stderr and "walking" in result.stderr
    assert set(after) == set(before) - set(LEFT_BEHIND)
    assert summary(result) == f"found {len(LEFT_BEHIND)}, deleted {len(LEFT_BEHIND)}, deactivated 0, left 0"


def test_a_filter_the_target_ignores_is_checked_client_side(tenant):
    """filter-ignored: the `sw` filter returns everyone; only the prefixed users are removed."""
    with ReferenceServer(tenant, layers=layers_for(["filter-ignored"])) as server:
        populate(server)
        before = users_on(server)
        result = sweep(server, *ANY_AGE)
        after = users_on(server)
    assert result.returncode == 0, result.stderr
    assert set(after) == set(before) - set(LEFT_BEHIND)


def _html_pages(ex: Exchange, answer: Answer) -> None:
    if ex.is_list:
        answer.replace(Answer(200, answer.headers, b"<html><body>Users</body></html>"))
        answer.headers["content-type"] = "text/html"


def _no_resources(ex: Exchange, answer: Answer) -> None:
    body = answer.body
    if ex.is_list and isinstance(body, dict):
        body.pop("Resources", None)
        answer.body = body


def _first_page_always(ex: Exchange) -> None:
    if ex.is_list:
        ex.set_param("startIndex", "1")


@pytest.mark.parametrize(("layer", "problem"), [
    (Rewrite(on_response=_html_pages), "is not JSON"),
    (Rewrite(on_response=_no_resources), "has no Resources list"),
    (Rewrite(_first_page_always), "no progress"),
], ids=["not-json", "no-resources", "startIndex-ignored"])
def test_a_malformed_listing_stops_the_walk_safely(tenant, layer, problem):
    """Walking (the `sw` filter refused) through 150 ordinary users first: the walk stops at the bad
    page, says so, exits 1 and removes nobody (its listing is read from the store: the HTTP one is broken)."""
    with ReferenceServer(tenant, layers=[refuse_sw(), layer], seed_users=150) as server:
        populate(server)
        result = sweep(server, *ANY_AGE)
        stored = {u["userName"] for u in all_stored(server.state.store)}
    assert result.returncode == 1, result.stdout
    assert problem in result.stderr and "stopped early" in result.stderr
    assert summary(result) == "found 0, deleted 0, deactivated 0, left 0"
    assert set(LEFT_BEHIND) | set(ORDINARY) <= stored


# ---- configuration and secrets --------------------------------------------------------------

def test_missing_token_is_a_usage_error(tenant):
    with ReferenceServer(tenant) as server:
        populate(server, RUN_A_USERS)
        result = sweep(server, token=None)
        after = users_on(server)
    assert result.returncode == 2
    assert "SCIM_TOKEN" in result.stderr and result.stdout == ""
    assert set(RUN_A_USERS) <= set(after)


def test_missing_base_url_is_a_usage_error():
    result = sweep(None, token="some-token-value")
    assert result.returncode == 2
    assert "SCIM_BASE_URL" in result.stderr and result.stdout == ""


def test_a_token_in_the_target_file_is_refused(tmp_path, tenant):
    with ReferenceServer(tenant) as server:
        target = tmp_path / "target.toml"
        target.write_text(f'base_url = "{server.base_url}"\ntoken = "{server.token}"\n')
        refused = sweep(None, "--target", str(target), token=server.token)
        target.write_text(f'base_url = "{server.base_url}"\n')
        populate(server, RUN_B_USERS)
        swept = sweep(None, "--target", str(target), *ANY_AGE, token=server.token)
        after = users_on(server)
    assert refused.returncode == 2 and "tokens" in refused.stderr
    assert swept.returncode == 0, swept.stderr
    assert not set(RUN_B_USERS) & set(after)


def test_a_refused_token_is_reported_and_never_printed(tenant):
    wrong = "wrong-secret-token-5d1f0c9e"
    with ReferenceServer(tenant) as server:
        populate(server, RUN_A_USERS)
        result = sweep(server, token=wrong)  # sweep() asserts `wrong` appears in no output
        after = users_on(server)
    assert result.returncode == 1
    assert "refused the token" in result.stderr and "401" in result.stderr
    assert set(RUN_A_USERS) <= set(after)


# ---- the shared removal (cleanup.remove_user) -----------------------------------------------

@pytest.mark.parametrize(("faults", "state", "active"), [
    ([], None, None),
    (["delete-unsupported-405"], "deactivated (DELETE unsupported)", False),
])
def test_tracker_clean_removes_through_remove_user(tenant, faults, state, active):
    """The run's own cleanup: deleted users are forgotten; deactivated ones are recorded as leftovers."""
    tracker = Tracker()
    with ReferenceServer(tenant, layers=layers_for(faults)) as server:
        client = ScimClient(server.base_url, server.token, redactor=Redactor([server.token]),
                            timeout=10, listeners=[tracker.observe])
        try:
            created = [client.raw("POST", "/Users", body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                          "userName": name}) for name in RUN_B_USERS]
            assert [c.status for c in created] == [201, 201] and len(tracker.created) == 2
            tracker.clean(client)
            again = remove_user(client, str(created[0].json["id"]))
        finally:
            client.close()
        after = users_on(server)
    if state is None:
        assert tracker.deleted == 2 and tracker.leftovers == [] and not set(RUN_B_USERS) & set(after)
        assert (again.outcome, again.removed) == ("gone", True)
    else:
        assert tracker.deleted == 0 and [u["state"] for u in tracker.leftovers] == [state, state]
        assert {u["userName"] for u in tracker.leftovers} == set(RUN_B_USERS)
        assert all(after[name]["active"] is active for name in RUN_B_USERS)
        assert (again.outcome, again.removed) == ("deactivated", False)
    assert tracker.created == {}


def test_an_unusable_run_tag_is_a_usage_error(tenant):
    """A tag goes into a filter: anything but letters and digits is refused before any request."""
    with ReferenceServer(tenant) as server:
        populate(server, RUN_A_USERS)
        result = sweep(server, "--run-tag", 'x" or userName pr "')
        after = users_on(server)
    assert result.returncode == 2 and "--run-tag" in result.stderr
    assert set(RUN_A_USERS) <= set(after)



def test_cleanup_stops_at_once_when_the_target_refuses_connections(tenant):
    """A target that is gone (connection refused) gets one DELETE, not one per user with retries: every user
    is listed as a leftover with why, and users whose create got no answer as possibly created."""
    tracker = Tracker()
    with ReferenceServer(tenant) as server:
        base_url, token = server.base_url, server.token
        client = ScimClient(base_url, token, redactor=Redactor([token]), timeout=10, listeners=[tracker.observe])
        created = [client.raw("POST", "/Users", body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                      "userName": name}) for name in RUN_B_USERS]
        assert [c.status for c in created] == [201, 201]
    tracker.unanswered.append("never.answered@example.com")
    sent = []
    tracker_client = ScimClient(base_url, token, redactor=Redactor([token]), timeout=10,
                                listeners=[tracker.observe, sent.append])
    started = time.monotonic()
    try:
        tracker.clean(tracker_client)
    finally:
        tracker_client.close()
        client.close()
    assert time.monotonic() - started < 5
    assert [e.method for e in sent] == ["GET"]  # the lookup was refused: nothing after it
    states = {u["userName"]: u["state"] for u in tracker.leftovers}
    assert states["never.answered@example.com"].startswith("possibly created")
    assert all(s == "not deleted: the target refused connections" for name, s in states.items() if name in RUN_B_USERS)
    assert {name for name in states} == {*RUN_B_USERS, "never.answered@example.com"}


def test_a_create_that_never_connected_is_not_a_possible_leftover():
    """A refused connection (or one not made in time) cannot have created a user; a create cut off after it
    was sent (a reset, a read timeout) may have, so its userName is looked up at cleanup."""
    tracker = Tracker()
    for index, failure in enumerate(["ConnectError: [Errno 111] Connection refused", "ConnectTimeout: timed out",
                                   "ReadTimeout: timed out", "RemoteProtocolError: Server disconnected"]):
        body = f'{{"userName": "Scimcert.{RUN_A}.N.{index}@example.com"}}'
        tracker.observe(ClientExchange(label="create", method="POST", url="http://127.0.0.1:9/scim/v2/Users",
                                  request_headers={}, request_body=body, error=failure))
    assert tracker.unanswered == [f"Scimcert.{RUN_A}.N.2@example.com", f"Scimcert.{RUN_A}.N.3@example.com"]


# ---- ages: a run in progress keeps its users --------------------------------------------------

def aged(hours: dict[str, float]) -> Rewrite:
    """meta.created of the named users, as listings show it, set `hours` ago; None drops their meta."""
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if not ex.is_list or not isinstance(body, dict):
            return
        for user in body.get("Resources", []):
            if user.get("userName") in hours:
                if hours[user["userName"]] is None:
                    user.pop("meta", None)
                else:
                    then = datetime.now(timezone.utc) - timedelta(hours=hours[user["userName"]])
                    user["meta"]["created"] = then.isoformat().replace("+00:00", "Z")
        answer.body = body
    return Rewrite(on_response=on_response)


def test_without_a_tag_users_newer_than_an_hour_are_spared(tenant):
    """No --run-tag, no --ledger: only users created more than --older-than ago (default 1 hour) go, so the
    users of a run still going on the same tenant stay."""
    old, young = RUN_A_USERS[:2], [RUN_A_USERS[2], *RUN_B_USERS]
    with ReferenceServer(tenant, layers=[aged({name: 3.0 for name in old})]) as server:
        populate(server, [*old, *young])
        result = sweep(server)
        after = users_on(server)
        shorter = sweep(server, "--older-than", "90m", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not set(old) & set(after) and set(young) <= set(after)
    assert sum("spared (newer than --older-than 1 h)" in line for line in result.stdout.splitlines()) == len(young)
    assert summary(result) == f"found {len(old) + len(young)}, deleted {len(old)}, deactivated 0, left 0, " \
                              f"spared {len(young)}"
    assert "created more than 1 h ago" in result.stdout.splitlines()[0]
    assert summary(shorter) == f"found {len(young)}, would remove 0, spared {len(young)} (dry run: nothing was changed)"


def test_users_of_unknown_age_need_force(tenant):
    """A target without meta.created: the sweep cannot tell a killed run's users from a running one's. It
    lists them, spares them and exits 1 asking for --force; --force removes them."""
    with ReferenceServer(tenant, layers=[aged({name: None for name in RUN_B_USERS})]) as server:
        populate(server, RUN_B_USERS)
        dry = sweep(server, "--dry-run")
        spared = sweep(server)
        kept = users_on(server)
        forced = sweep(server, "--force")
        after = users_on(server)
    assert dry.returncode == 1 and spared.returncode == 1
    assert "age unknown (no meta.created): spared; --force removes it" in dry.stdout and "--force" in dry.stderr
    assert set(RUN_B_USERS) <= set(kept)
    assert summary(spared) == f"found {len(RUN_B_USERS)}, deleted 0, deactivated 0, left 0, unknown age 2"
    assert forced.returncode == 0, forced.stderr
    assert not set(RUN_B_USERS) & set(after)


@pytest.mark.parametrize("given", ["an hour", "-5m", "2w", ""])
def test_an_unusable_age_is_a_usage_error(tenant, given):
    with ReferenceServer(tenant) as server:
        populate(server, RUN_A_USERS)
        result = sweep(server, "--older-than", given)
        after = users_on(server)
    assert result.returncode == 2 and "--older-than" in result.stderr
    assert set(RUN_A_USERS) <= set(after)


# ---- the ledger of a killed run -------------------------------------------------------------------

def ledger_of(folder: Path, names: Sequence[str], tag: str = RUN_A, cut: str = "") -> Path:
    """A ledger as a run writes it (scimcert/ledger.py), naming `names`, with `cut` as a last line a crash
    interrupted."""
    path = folder / f"ledger-{tag}.jsonl"
    path.write_text("".join(json.dumps({"run": tag, "userName": n}, ensure_ascii=False) + "\n" for n in names) + cut,
                    "utf-8")
    return path


def test_the_ledger_names_exactly_the_users_removed(tenant, tmp_path):
    """The ledger of run A names two of its users, one it never got to create, and one whose userName does
    not start with the prefix (the target stored what was sent): exactly those that exist go; A's third user,
    a look-alike run, run B and ordinary users stay. A crash-cut last line is skipped."""
    outside = "Ｓcimcert.fullwidth.1@example.com"  # RFC 7644 §5 PRECIS probes send such names
    named_in_ledger = [*RUN_A_USERS[:2], f"Scimcert.{RUN_A}.Never.9@example.com", outside]
    with ReferenceServer(tenant) as server:
        populate(server, [*LEFT_BEHIND, *ORDINARY, outside])
        ledger = ledger_of(tmp_path, named_in_ledger, cut='{"run": "a1b2c3", "userNa')
        result = sweep(server, "--ledger", str(ledger))
        after = users_on(server)
    assert result.returncode == 0, result.stderr
    assert not {*RUN_A_USERS[:2], outside} & set(after)
    assert {RUN_A_USERS[2], *RUN_B_USERS, LOOKALIKE, *ORDINARY} <= set(after)
    assert "the 4 user(s) and 0 group(s) named in" in result.stdout.splitlines()[0]
    assert summary(result) == "found 3, deleted 3, deactivated 0, left 0"


GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
RUN_A_GROUPS = [f"Scimcert.{RUN_A}.Design Systems 1f2e4", f"scimcert.{RUN_A}.R&D Platform 1f2e5"]
OTHER_GROUPS = [f"Scimcert.{RUN_B}.Data Eng 77a3", "Design Systems", f"Team Scimcert.{RUN_A}."]


def groups_on(server: ReferenceServer) -> dict[str, dict]:
    """Every group the server lists, by displayName."""
    with scim_client(server) as c:
        return {g["displayName"]: g for g in c.get("/Groups?count=100").json()["Resources"]}


@pytest.mark.parametrize("how", ["run-tag", "ledger"])
def test_a_runs_groups_go_first_and_nobody_elses(tenant, tmp_path, how):
    """A killed run leaves groups (with its users as members): the sweep removes the run's groups, listed with
    `displayName sw` (or named in its ledger), before its users; other runs' and ordinary groups stay, and a user
    of the run that is a member of another run's group is still removed (and leaves that group)."""
    with ReferenceServer(tenant) as server:
        ids = populate(server, [*RUN_A_USERS, *RUN_B_USERS])
        with scim_client(server) as c:
            for name in [*RUN_A_GROUPS, *OTHER_GROUPS]:
                members = [{"value": ids[u]} for u in (RUN_A_USERS if name in RUN_A_GROUPS else RUN_A_USERS[:1])]
                created = c.post("/Groups", json={"schemas": [GROUP_URN], "displayName": name, "members": members})
                assert created.status_code == 201, created.text
        if how == "ledger":
            ledger = tmp_path / f"ledger-{RUN_A}.jsonl"
            ledger.write_text("".join(json.dumps({"run": RUN_A, key: n}) + "\n" for key, names in
                                      (("userName", RUN_A_USERS), ("displayName", RUN_A_GROUPS)) for n in names))
            result = sweep(server, "--ledger", str(ledger))
        else:
            result = sweep(server, "--run-tag", RUN_A)
        groups, users = groups_on(server), users_on(server)
    assert result.returncode == 0, result.stderr
    assert set(groups) == set(OTHER_GROUPS) and not set(RUN_A_USERS) & set(users)
    assert all(g.get("members", []) == [] for g in groups.values())  # the run's user left the others' groups
    lines = result.stdout.splitlines()
    group_lines = [i for i, line in enumerate(lines) if line.startswith("group ")]
    user_lines = [i for i, line in enumerate(lines) if line.split("  ")[0] in RUN_A_USERS]
    assert len(group_lines) == 2 and len(user_lines) == 3 and max(group_lines) < min(user_lines)
    assert summary(result) == "found 5, deleted 5, deactivated 0, left 0"


def test_groups_a_target_will_not_delete_are_emptied_and_reported_left(tenant):
    """Asana cannot delete teams (groupDelete refused: 405): the sweep takes the members out, so the users can
    go, and reports the group left with why; the exit status says something was left."""
    refusing = dataclasses.replace(tenant, options=dataclasses.replace(tenant.options, groupDelete="refused"))
    with ReferenceServer(refusing) as server:
        ids = populate(server, RUN_A_USERS)
        with scim_client(server) as c:
            c.post("/Groups", json={"schemas": [GROUP_URN], "displayName": RUN_A_GROUPS[0],
                                    "members": [{"value": i} for i in ids.values()]})
        result = sweep(server, "--run-tag", RUN_A)
        groups, users = groups_on(server), users_on(server)
    assert result.returncode == 1
    assert list(groups) == [RUN_A_GROUPS[0]] and groups[RUN_A_GROUPS[0]].get("members", []) == []
    assert not set(RUN_A_USERS) & set(users)
    assert any(line.startswith(f"group {RUN_A_GROUPS[0]}") and "does not delete groups" in line
               for line in result.stdout.splitlines())
    assert summary(result) == f"found {len(RUN_A_USERS) + 1}, deleted {len(RUN_A_USERS)}, deactivated 0, left 1"


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read the ledger"),
    ("", "not a scimcert ledger"),
    ('{"run": "x\\" or userName pr \\"", "userName": "Scimcert.x.A.1@example.com"}\n', "not a scimcert ledger"),
], ids=["missing", "empty", "hostile-tag"])
def test_an_unusable_ledger_is_a_usage_error(tenant, tmp_path, content, message):
    ledger = tmp_path / "ledger-a1b2c3.jsonl"
    if content is not None:
        ledger.write_text(content)
    with ReferenceServer(tenant) as server:
        populate(server, RUN_A_USERS)
        result = sweep(server, "--ledger", str(ledger))
        both = sweep(server, "--ledger", str(ledger), "--run-tag", RUN_A)
        after = users_on(server)
    assert result.returncode == 2 and message in result.stderr
    assert both.returncode == 2 and "not allowed with" in both.stderr
    assert set(RUN_A_USERS) <= set(after)


def test_cleanup_keeps_its_time_bound_and_says_how_far_it_got(tenant, monkeypatch):
    """Cleanup against a slow target (100 ms a request) with a 0.45 s bound, eight removals at a time: it stops
    in time, lists the users it did not get to with why, and prints where it starts, how far it got, and what
    it left."""
    monkeypatch.setattr(cleanup_module, "PROGRESS_EVERY", 0.0)
    tracker, lines = Tracker(), []
    with ReferenceServer(tenant, layers=[Chaos(latency_ms=100)]) as server:
        client = ScimClient(server.base_url, server.token, redactor=Redactor([server.token]), timeout=10,
                            listeners=[tracker.observe])
        try:
            names = [f"Scimcert.{RUN_A}.Slow.{n}@example.com" for n in range(60)]
            for name in names:
                client.raw("POST", "/Users", body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                   "userName": name})
            started = time.monotonic()
            tracker.clean(client, until=started + 0.45, say=lines.append)
            took = time.monotonic() - started
        finally:
            client.close()
        after = users_on(server)
    assert took < 0.45 + 0.5  # the bound, and the DELETEs on the wire when it passed
    late = [u for u in tracker.leftovers if u["state"] == "not deleted: cleanup ran out of time"]
    assert 0 < len(late) < len(names) and {u["userName"] for u in late} == set(names) & set(after)
    assert lines[0] == "cleanup: removing 60 user(s) the run created (bound 0.45 s)"
    assert "cleanup: 1/60 handled, 0 left so far" in lines
    assert lines[-1].startswith("cleanup: done in ") and lines[-1].endswith(f"{len(late)} left on the target")
