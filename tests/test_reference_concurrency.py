"""Concurrency of the reference server over real HTTP: uniqueness races, no lost updates, a mixed load.

Each test fires its requests from a pool of threads, one httpx client (one connection) per thread,
released together by a barrier; `server.state.peak_in_flight > 1` proves the server really had
several requests in flight at once.
"""

from __future__ import annotations

import random
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from helpers import SCIM_JSON, scim_client, unique_user_name, user_body

from scimcert.reference import ReferenceServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"

Call = Callable[[httpx.Client], httpx.Response]

# httpx builds an SSL context per client (~60 ms); the race clients share one instead.
_SSL = ssl.create_default_context()


def race_client(server: ReferenceServer) -> httpx.Client:
    """Like helpers.scim_client, cheap to create (shared SSL context), for one thread of a race."""
    return httpx.Client(base_url=server.base_url, verify=_SSL, timeout=30,
                        headers={"Authorization": f"Bearer {server.token}", "Accept": SCIM_JSON,
                                 "Content-Type": SCIM_JSON})


def parallel(server: ReferenceServer, calls: list[Call]) -> list[httpx.Response]:
    """Run every call at once, each on its own thread and connection; responses in call order.

    Connections are opened (a cheap GET each) before the barrier, so the calls themselves start together.
    """
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> httpx.Response:
        with race_client(server) as client:
            client.get("/ServiceProviderConfig")  # open the connection before the race
            barrier.wait(timeout=30)
            return call(client)

    server.state.peak_in_flight = 0
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_overlapped(server: ReferenceServer) -> None:
    assert server.state.peak_in_flight > 1, "the requests did not overlap on the server"


def patch_body(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def case_variants(text: str, count: int, seed: int = 7644) -> list[str]:
    """`count` distinct spellings of `text` differing only in letter case (the original first)."""
    rng = random.Random(seed)
    variants = [text]
    seen = {text}
    while len(variants) < count:
        variant = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
        if variant not in seen:
            seen.add(variant)
            variants.append(variant)
    return variants


def find_by_user_name(client: httpx.Client, user_name: str) -> dict:
    response = client.get("/Users", params={"filter": f'userName eq "{user_name}"'})
    assert response.status_code == 200, response.text
    return response.json()


def list_all(client: httpx.Client) -> list[dict]:
    """Every user, page by page (count=100)."""
    users, start = [], 1
    while True:
        page = client.get("/Users", params={"startIndex": start, "count": 100}).json()
        users.extend(page["Resources"])
        if not page["Resources"] or start + len(page["Resources"]) > page["totalResults"]:
            return users
        start += len(page["Resources"])


# ---------------------------------------------------------------------------------------------
# Uniqueness under a race


def _assert_one_winner(server: ReferenceServer, responses: list[httpx.Response], user_name: str) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (len(responses) - 1), statuses
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["schemas"] == [ERROR_URN]
            assert body["scimType"] == "uniqueness"
    assert_overlapped(server)
    winner = next(r.json() for r in responses if r.status_code == 201)
    with scim_client(server) as client:
        for spelling in (user_name, user_name.lower(), user_name.upper()):
            found = find_by_user_name(client, spelling)
            assert found["totalResults"] == 1, found
            assert [u["id"] for u in found["Resources"]] == [winner["id"]]
        assert sum(u["userName"].casefold() == user_name.casefold() for u in list_all(client)) == 1


def test_parallel_creates_of_one_user_name_admit_exactly_one(fresh_server):
    user_name = unique_user_name(stem="Race")
    body = user_body(user_name)
    posts_before = fresh_server.state.requests_by_method.get("POST", 0)
    responses = parallel(fresh_server, [lambda c: c.post("/Users", json=body)] * 50)
    assert fresh_server.state.requests_by_method["POST"] == posts_before + 50  # each one reached the server once
    _assert_one_winner(fresh_server, responses, user_name)


def test_parallel_creates_of_case_variants_admit_exactly_one(fresh_server):
    user_name = unique_user_name(stem="Case.Variant.Race")
    variants = case_variants(user_name, 50)
    calls = [lambda c, name=name: c.post("/Users", json=user_body(name)) for name in variants]
    responses = parallel(fresh_server, calls)
    _assert_one_winner(fresh_server, responses, user_name)


def test_parallel_renames_onto_one_user_name_admit_exactly_one(fresh_server):
    """20 users PATCHed at once to the same new userName (case variants): one 200, 19 × 409, names intact."""
    with scim_client(fresh_server) as client:
        users = [client.post("/Users", json=user_body()).json() for _ in range(20)]
    target = unique_user_name(stem="Rename.Target")
    variants = case_variants(target, 20)
    calls = [
        lambda c, u=u, name=name: c.patch(f"/Users/{u['id']}", json=patch_body(
            {"op": "replace", "path": "userName", "value": name},
            {"op": "replace", "path": "emails", "value": [{"value": name, "type": "work", "primary": True}]}))
        for u, name in zip(users, variants, strict=True)
    ]
    responses = parallel(fresh_server, calls)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, statuses
    assert_overlapped(fresh_server)
    with scim_client(fresh_server) as client:
        assert find_by_user_name(client, target)["totalResults"] == 1
        for user, response in zip(users, responses, strict=True):
            current = client.get(f"/Users/{user['id']}").json()
            expected = response.json()["userName"] if response.status_code == 200 else user["userName"]
            assert current["userName"] == expected
            assert find_by_user_name(client, expected)["Resources"][0]["id"] == user["id"]


# ---------------------------------------------------------------------------------------------
# No lost update


CORE_STRINGS = ["displayName", "nickName", "title", "userType", "preferredLanguage", "locale", "timezone",
                "profileUrl", "externalId"]
NAME_PARTS = ["middleName", "honorificPrefix", "honorificSuffix", "formatted"]
ENTERPRISE_STRINGS = ["employeeNumber", "costCenter", "organization", "division", "department"]


def _attribute_updates() -> list[tuple[str, str, Callable[[dict], object]]]:
    """(PATCH path, value, how to read it back from a user) for 20 distinct attributes."""
    updates = []
    for name in CORE_STRINGS:
        value = f"{name}-concurrent"
        updates.append((name, value if name != "profileUrl" else "https://example.com/p/1",
                        lambda u, name=name: u.get(name)))
    for part in NAME_PARTS:
        updates.append((f"name.{part}", f"{part}-concurrent", lambda u, part=part: u.get("name", {}).get(part)))
    for name in ENTERPRISE_STRINGS:
        updates.append((f"{ENTERPRISE}:{name}", f"{name}-concurrent",
                        lambda u, name=name: u.get(ENTERPRISE, {}).get(name)))
    updates.append((f"{ENTERPRISE}:manager", {"value": "manager-42"},
                    lambda u: {"value": u.get(ENTERPRISE, {}).get("manager", {}).get("value")}))
    updates.append(("phoneNumbers", [{"value": "+1 555 0100", "type": "work"}],
                    lambda u: [{k: v for k, v in p.items() if k in ("value", "type")} for p in u.get("phoneNumbers", [])]))
    return updates


def test_parallel_patches_of_different_attributes_lose_no_update(fresh_server):
    updates = _attribute_updates()
    assert len(updates) >= 20
    with scim_client(fresh_server) as client:
        user = client.post("/Users", json=user_body()).json()
    calls = [
        lambda c, path=path, value=value: c.patch(f"/Users/{user['id']}",
                                                  json=patch_body({"op": "replace", "path": path, "value": value}))
        for path, value, _ in updates
    ]
    responses = parallel(fresh_server, calls)
    assert [r.status_code for r in responses] == [200] * len(updates), [r.text for r in responses if r.status_code != 200]
    assert_overlapped(fresh_server)
    versions = [r.json()["meta"]["version"] for r in responses]
    assert len(set(versions)) == len(versions), versions
    assert [r.headers["ETag"] for r in responses] == versions
    assert user["meta"]["version"] not in versions
    with scim_client(fresh_server) as client:
        final = client.get(f"/Users/{user['id']}").json()
    for path, value, read in updates:
        assert read(final) == value, (path, final)
    assert final["userName"] == user["userName"]
    assert final["name"]["givenName"] == user["name"]["givenName"]
    # The last write is the final state: its version is the newest one handed out.
    assert final["meta"]["version"] in versions


def test_parallel_patches_with_one_if_match_admit_exactly_one(fresh_server):
    """20 PATCHes all conditioned on the same version: the check-then-write is atomic, one wins."""
    with scim_client(fresh_server) as client:
        user = client.post("/Users", json=user_body()).json()
    version = user["meta"]["version"]
    calls = [
        lambda c, n=n: c.patch(f"/Users/{user['id']}", headers={"If-Match": version},
                               json=patch_body({"op": "replace", "path": "displayName", "value": f"Writer {n}"}))
        for n in range(20)
    ]
    responses = parallel(fresh_server, calls)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19, statuses
    assert_overlapped(fresh_server)
    winner = next(r.json() for r in responses if r.status_code == 200)
    with scim_client(fresh_server) as client:
        final = client.get(f"/Users/{user['id']}").json()
    assert final["displayName"] == winner["displayName"]
    assert final["meta"]["version"] == winner["meta"]["version"]


def test_parallel_deletes_of_one_user_admit_exactly_one(fresh_server):
    with scim_client(fresh_server) as client:
        user = client.post("/Users", json=user_body()).json()
    responses = parallel(fresh_server, [lambda c: c.delete(f"/Users/{user['id']}")] * 20)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [204] + [404] * 19, statuses
    assert_overlapped(fresh_server)
    with scim_client(fresh_server) as client:
        assert client.get(f"/Users/{user['id']}").status_code == 404
        assert find_by_user_name(client, user["userName"])["totalResults"] == 0
        # The userName is free again.
        assert client.post("/Users", json=user_body(user["userName"])).status_code == 201


# ---------------------------------------------------------------------------------------------
# A mixed load


def test_mixed_load_never_fails_and_leaves_the_store_consistent(tenant):
    with ReferenceServer(tenant, seed_users=200) as server:
        with scim_client(server) as client:
            before = client.get("/Users", params={"count": 0}).json()["totalResults"]
            users = [client.post("/Users", json=user_body()).json() for _ in range(60)]
        put_users, patch_users, delete_users, get_users = users[:15], users[15:30], users[30:45], users[45:]
        new_names = [unique_user_name(stem="Mixed.New") for _ in range(15)]

        def put(c, u):
            body = user_body(u["userName"], displayName="Replaced", title="PUT")
            return c.put(f"/Users/{u['id']}", json=body)

        def patch(c, u):
            return c.patch(f"/Users/{u['id']}", json=patch_body(
                {"op": "replace", "path": "displayName", "value": "Patched"},
                {"op": "add", "path": f"{ENTERPRISE}:department", "value": "PATCH"}))

        calls: list[tuple[str, Call]] = []
        calls += [("put", lambda c, u=u: put(c, u)) for u in put_users]
        calls += [("patch", lambda c, u=u: patch(c, u)) for u in patch_users]
        calls += [("delete", lambda c, u=u: c.delete(f"/Users/{u['id']}")) for u in delete_users]
        calls += [("get", lambda c, u=u: c.get(f"/Users/{u['id']}")) for u in get_users]
        calls += [("post", lambda c, n=n: c.post("/Users", json=user_body(n))) for n in new_names]
        calls += [("list", lambda c, s=s: c.get("/Users", params={"startIndex": s, "count": 100}))
                  for s in (1, 50, 150, 250)]
        calls += [("filter", lambda c, u=u: c.get("/Users", params={"filter": f'userName eq "{u["userName"].upper()}"'}))
                  for u in get_users[:5]]
        random.Random(7645).shuffle(calls)

        responses = parallel(server, [call for _, call in calls])
        assert_overlapped(server)
        assert all(r.status_code < 500 for r in responses), [(k, r.status_code, r.text) for (k, _), r in zip(calls, responses, strict=True) if r.status_code >= 500]
        expected = {"put": 200, "patch": 200, "delete": 204, "get": 200, "post": 201, "list": 200, "filter": 200}
        for (kind, _), response in zip(calls, responses, strict=True):
            assert response.status_code == expected[kind], (kind, response.status_code, response.text)
            if kind == "list":
                page = response.json()
                assert page["itemsPerPage"] == len(page["Resources"])
                assert before + 45 <= page["totalResults"] <= before + 75
            if kind == "filter":
                assert response.json()["totalResults"] == 1

        with scim_client(server) as client:
            listed = list_all(client)
            ids = [u["id"] for u in listed]
            assert len(ids) == len(set(ids)), "a user is listed twice"
            total = client.get("/Users", params={"count": 0}).json()["totalResults"]
            assert total == before + 60 - 15 + 15 == len(ids)
            assert not {u["id"] for u in delete_users} & set(ids)
            for u in delete_users:
                assert client.get(f"/Users/{u['id']}").status_code == 404
            current = {u["id"]: u for u in listed}
            for u in put_users:
                assert (current[u["id"]]["displayName"], current[u["id"]]["title"]) == ("Replaced", "PUT")
            for u in patch_users:
                assert current[u["id"]]["displayName"] == "Patched"
                assert current[u["id"]][ENTERPRISE]["department"] == "PATCH"
            for u in get_users:
                assert current[u["id"]]["meta"]["version"] == u["meta"]["version"]
            for name in new_names:
                assert find_by_user_name(client, name)["totalResults"] == 1


@pytest.mark.parametrize("rounds", [3])
def test_repeated_mixed_rounds_keep_totals_exact(fresh_server, rounds):
    """Creates and deletes racing with full listings: the total always equals creates minus deletes."""
    with scim_client(fresh_server) as client:
        base = client.get("/Users", params={"count": 0}).json()["totalResults"]
    alive: list[dict] = []
    for round_ in range(rounds):
        doomed, alive = alive[: len(alive) // 2], alive[len(alive) // 2:]
        calls: list[Call] = [lambda c: c.post("/Users", json=user_body())] * 20
        calls += [lambda c, u=u: c.delete(f"/Users/{u['id']}") for u in doomed]
        calls += [lambda c: c.get("/Users", params={"count": 100})] * 5
        responses = parallel(fresh_server, calls)
        assert all(r.status_code in (200, 201, 204) for r in responses), [r.text for r in responses if r.status_code >= 300]
        alive += [r.json() for r in responses if r.status_code == 201]
        with scim_client(fresh_server) as client:
            assert client.get("/Users", params={"count": 0}).json()["totalResults"] == base + len(alive), round_
            listed = {u["id"] for u in list_all(client)}
            assert {u["id"] for u in alive} <= listed
            assert not {u["id"] for u in doomed} & listed
