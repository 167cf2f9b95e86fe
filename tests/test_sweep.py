"""`scimcert sweep`: the users of killed runs are found and removed, and nobody else's are touched.

Each test starts a reference server (correct or with a fault), puts users on it, runs
`python -m scimcert sweep` as a user would (a subprocess with a clean SCIM_* environment), and then
reads what is left through the server's HTTP API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest
from helpers import all_users, create_user, scim_client
from suite_runs import ROOT

from scimcert.cleanup import Tracker, remove_user
from scimcert.client import ScimClient
from scimcert.redact import Redactor
from scimcert.reference import ReferenceServer, Tenant
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
TENANT_TOKENS = [*Tenant.load().active_tokens, *Tenant.load().revoked_tokens]


# ---- helpers --------------------------------------------------------------------------------

def sweep(server: ReferenceServer | None, *args: str, token: str | None = "default") -> subprocess.CompletedProcess:
    """`python -m scimcert sweep ARGS` against `server` (SCIM_BASE_URL and SCIM_TOKEN set unless None),
    from the repository root, with no other SCIM_* variable of this process. Asserts the token never shows."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_"))}
    if server is not None:
        environment["SCIM_BASE_URL"] = server.base_url
    if token is not None:
        environment["SCIM_TOKEN"] = server.token if token == "default" else token
    finished = subprocess.run([sys.executable, "-m", "scimcert", "sweep", *args], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=120)
    secrets = {environment.get("SCIM_TOKEN"), *TENANT_TOKENS} - {None, ""}
    for secret in secrets:
        assert secret not in finished.stdout + finished.stderr, "the token was printed"
    return finished


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
        result = sweep(server)
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
        result = sweep(server, "--dry-run")
        after = users_on(server)
    assert result.returncode == 0, result.stderr
    assert after == before
    for name in LEFT_BEHIND:
        assert f"{name}  id {ids[name]}  would be removed" in result.stdout.splitlines()
    assert "dry run" in summary(result) and summary(result).startswith(f"found {len(LEFT_BEHIND)},")


def test_delete_unsupported_users_end_deactivated(tenant):
    with ReferenceServer(tenant, layers=layers_for(["delete-unsupported-405"])) as server:
        ids = populate(server)
        result = sweep(server)
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
        result = sweep(server)
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
        result = sweep(server)
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
        result = sweep(server)
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
        result = sweep(server)
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
        swept = sweep(None, "--target", str(target), token=server.token)
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
    assert [e.method for e in sent] == ["GET", "DELETE"]  # the lookup, then one DELETE; nothing after the refusal
    states = {u["userName"]: u["state"] for u in tracker.leftovers}
    assert states["never.answered@example.com"].startswith("possibly created")
    assert sorted(s for name, s in states.items() if name in RUN_B_USERS)[1] == "not deleted: the target refused connections"
    assert {name for name in states} == {*RUN_B_USERS, "never.answered@example.com"}
