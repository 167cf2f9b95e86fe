"""Groups under concurrency, over real HTTP: no lost membership update, one winner of a displayName race, users
deleted while being added to groups leave no dangling member (the membership lock, groups.py), and a PATCH of a
group of 10,000 members holds up neither the event loop nor, for long, a read of a user.

As in test_reference_concurrency.py, each race fires its requests from a pool of threads, one connection per
thread, released together by a barrier.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import create_user, scim_client, unique_user_name
from test_reference_concurrency import assert_overlapped, case_variants, parallel, patch_body

from scimcert.reference import ReferenceServer


def test_parallel_adds_of_different_members_lose_none(fresh_server):
    """Fifty PATCHes, each adding its own member to one group at once: every member is in, the version moved on."""
    with scim_client(fresh_server) as c:
        members = [create_user(c)["id"] for _ in range(50)]
        group = c.post("/Groups", json={"displayName": "Racing team"}).json()
    calls = [lambda client, m=m: client.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "add", "path": "members", "value": [{"value": m}]})) for m in members]
    responses = parallel(fresh_server, calls)
    assert [r.status_code for r in responses] == [204] * 50
    assert_overlapped(fresh_server)
    with scim_client(fresh_server) as c:
        final = c.get(f"/Groups/{group['id']}").json()
    assert sorted(m["value"] for m in final["members"]) == sorted(members)
    assert len({r.headers["etag"] for r in responses}) == 50  # each write its own version


def test_parallel_creates_of_one_display_name_admit_exactly_one(fresh_server):
    """Fifty POSTs of case variants of one displayName at once: one 201, the rest 409 uniqueness."""
    variants = case_variants("Platform Engineering Guild", 50)
    responses = parallel(fresh_server, [lambda c, name=name: c.post("/Groups", json={"displayName": name})
                                        for name in variants])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 49
    assert {r.json().get("scimType") for r in responses if r.status_code == 409} == {"uniqueness"}
    with scim_client(fresh_server) as c:
        assert c.get("/Groups", params={"filter": 'displayName eq "platform engineering guild"'}).json()["totalResults"] == 1


def test_users_deleted_while_added_to_groups_leave_no_dangling_member(fresh_server):
    """Each of 25 users is deleted while a PATCH adds it to a group: whichever comes first, no group ends with a
    member that is not a user, and no surviving member misses its group."""
    with scim_client(fresh_server) as c:
        doomed = [create_user(c)["id"] for _ in range(25)]
        group = c.post("/Groups", json={"displayName": "Shifting team"}).json()
    calls = []
    for user_id in doomed:
        calls.append(lambda client, u=user_id: client.delete(f"/Users/{u}"))
        calls.append(lambda client, u=user_id: client.patch(f"/Groups/{group['id']}", json=patch_body(
            {"op": "add", "path": "members", "value": [{"value": u}]})))
    responses = parallel(fresh_server, calls)
    assert all(r.status_code in (204, 400) for r in responses), [r.text for r in responses if r.status_code >= 500]
    assert_overlapped(fresh_server)
    with scim_client(fresh_server) as c:
        members = [m["value"] for m in c.get(f"/Groups/{group['id']}").json().get("members", [])]
        assert all(c.get(f"/Users/{m}").status_code == 200 for m in members)
    assert set(fresh_server.state.groups.memberships.groups_of) == set(members)


def test_a_big_group_patch_holds_up_neither_the_loop_nor_a_user_read():
    """A PATCH of a group of 10,000 members with 50 operations, each a pass over the members (about 0.3 s of work;
    the 100 allowed take about 0.6 s), runs in the thread pool: the event loop answers /ServiceProviderConfig before
    that PATCH is done, and a GET of a user, which waits for the membership lock, within 1 s."""
    with ReferenceServer(seed_users=10_000) as server, scim_client(server) as c:
        ids = [u["id"] for u in server.state.store.query(None, 1, 10_000)[1]]
        group = c.post("/Groups", json={"displayName": "Everyone", "members": [{"value": i} for i in ids]})
        assert group.status_code == 201, group.text
        user = create_user(c, userName=unique_user_name())
        heavy = patch_body(*({"op": "remove", "path": f'members[value eq "nobody-{n}"]'}
                             for n in range(50)))
        done = threading.Event()
        with ThreadPoolExecutor(1) as pool, scim_client(server) as side:
            def patch():
                try:
                    return side.patch(f"/Groups/{group.json()['id']}", json=heavy)
                finally:
                    done.set()
            busy = pool.submit(patch)
            time.sleep(0.05)
            loop_answer = c.get("/ServiceProviderConfig")
            loop_answered_first = not done.is_set()
            started = time.monotonic()
            read = c.get(f"/Users/{user['id']}")
            took = time.monotonic() - started
            assert busy.result().status_code == 204
    assert loop_answer.status_code == 200 and loop_answered_first
    assert read.status_code == 200 and took < 1.0, took
