"""The reference server's input bounds (docs/reference-server.md, "Limits"): each crossing answers a SCIM
error, strict integers in paging, per-request state that stays bounded, and no request that holds up another:
while the most expensive requests the limits allow are being processed, a GET of a user answers within 1 s."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import scim_client, unique_user_name, user_body

from scimcert.reference import ReferenceServer
from scimcert.reference.app import ARRIVALS_KEPT
from scimcert.reference.tenant import Options

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _emails(count: int, user_name: str) -> list[dict]:
    return [{"value": user_name, "type": "work", "primary": True},
            *({"value": f"v{i}.{user_name}", "type": f"t{i}"} for i in range(count - 1))]


def _value_filter_patch(count: int) -> dict:
    """`count` value-filter replaces: each one a pass over the user's emails (the costliest PATCH shape)."""
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": f'emails[type eq "t{i % 90}"].display', "value": f"d{i}"} for i in range(count)]}


def test_a_patch_with_more_operations_than_allowed_is_refused(fresh_server):
    limit = Options().maxOperations
    with scim_client(fresh_server) as c:
        name = unique_user_name()
        user = c.post("/Users", json=user_body(name, emails=_emails(Options().maxValues, name))).json()
        refused = c.patch(f"/Users/{user['id']}", json=_value_filter_patch(limit + 1))
        allowed = c.patch(f"/Users/{user['id']}", json=_value_filter_patch(limit))
    assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidValue")
    assert str(limit) in refused.json()["detail"]
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize("write", ["create", "put", "patch"])
def test_more_values_than_allowed_are_refused(fresh_server, write):
    limit = Options().maxValues
    with scim_client(fresh_server) as c:
        name = unique_user_name()
        if write == "create":
            answer = c.post("/Users", json=user_body(name, emails=_emails(limit + 1, name)))
        else:
            user = c.post("/Users", json=user_body(name)).json()
            answer = c.put(f"/Users/{user['id']}", json=user_body(name, emails=_emails(limit + 1, name))) \
                if write == "put" else c.patch(f"/Users/{user['id']}", json={"schemas": [PATCH_OP], "Operations": [
                    {"op": "add", "path": "emails", "value": _emails(limit + 1, name)[1:]}]})
        assert (answer.status_code, answer.json()["scimType"]) == (400, "invalidValue")
        assert c.post("/Users", json=user_body(unique_user_name(), emails=_emails(limit, name))).status_code == 201


@pytest.mark.parametrize("raw", ["1_0", "٣", " 2 ", "+3", "1e2", "0x10", "9" * 5000])
def test_paging_integers_are_decimal_ascii_digits(fresh_server, raw):
    with scim_client(fresh_server) as c:
        for name in ("startIndex", "count"):
            answer = c.get("/Users", params={name: raw})
            assert (answer.status_code, answer.json()["scimType"]) == (400, "invalidValue"), (name, raw)
        assert c.get("/Users", params={"startIndex": "-3", "count": "007"}).status_code == 200


def test_per_request_state_stays_bounded(fresh_server):
    with scim_client(fresh_server) as c:
        for method in ("GET", "BREW", "PROPFIND", "X-ANY"):
            c.request(method, "/Users")
    state = fresh_server.state
    assert state.arrivals.maxlen == ARRIVALS_KEPT
    assert set(state.requests_by_method) <= {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"}


def test_the_costliest_requests_allowed_do_not_hold_up_a_get():
    """Four PATCHes of the most operations allowed, each over a user with the most emails allowed, and a
    filter scanning a tenant of 20,000 users run together; a GET of another user meanwhile answers within 1 s."""
    options = Options()
    with ReferenceServer(seed_users=20_000) as server, scim_client(server) as c:
        target = c.post("/Users", json=user_body()).json()
        heavy = []
        for _ in range(4):
            name = unique_user_name()
            heavy.append(c.post("/Users", json=user_body(name, emails=_emails(options.maxValues, name))).json()["id"])
        with ThreadPoolExecutor(8) as pool, scim_client(server) as side:
            busy = [pool.submit(side.patch, f"/Users/{i}", json=_value_filter_patch(options.maxOperations)) for i in heavy]
            busy.append(pool.submit(side.get, "/Users", params={"filter": 'title co "nobody"', "count": "100"}))
            time.sleep(0.02)
            started = time.monotonic()
            read = c.get(f"/Users/{target['id']}")
            took = time.monotonic() - started
            assert all(f.result().status_code == 200 for f in busy)
    assert read.status_code == 200 and took < 1.0, took
