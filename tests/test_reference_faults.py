"""Every fault of the reference server really changes its behaviour, and nothing else breaks.

Each fault has a scenario here: a few requests over real HTTP whose observation is run against the
correct server and against a server with just that fault, with the expected observation on each
side (a value, or a predicate). A new fault without a scenario fails `test_every_fault_has_a_scenario`.
Every faulty server also runs an IdP-like smoke flow that must never answer 5xx, except where the
fault's description claims a 500.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import unicodedata
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from helpers import (
    ENTERPRISE_USER,
    ERROR_URN,
    anonymous_client,
    create_user,
    faulty_server,
    filter_url,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

from scimcert.reference import ReferenceServer, Tenant
from scimcert.reference.faults import CAPABILITIES, FAULTS, layers_for
from scimcert.reference.layers import Rewrite

SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
CORE_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
MISSING_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Case:
    scenario: Callable[[httpx.Client, ReferenceServer], Any]
    correct: Any  # the observation on the correct server: a value, or a predicate
    faulty: Any  # the observation with the fault: a value, or a predicate


SCENARIOS: dict[str, Case] = {}


def case(name: str, correct: Any, faulty: Any):
    def register(scenario):
        assert name not in SCENARIOS, name
        SCENARIOS[name] = Case(scenario, correct, faulty)
        return scenario
    return register


def matches(observed: Any, expected: Any) -> bool:
    return expected(observed) if callable(expected) else observed == expected


# ---- small request helpers ----------------------------------------------------------------

def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def new_user(c: httpx.Client, **extra) -> dict:
    """Create a user (the body as JSON with the default SCIM content type); returns the response body."""
    response = c.post("/Users", json=user_body(**extra))
    assert response.status_code in (200, 201), response.text
    return response.json()


def same_stem_users(c: httpx.Client, count: int) -> tuple[list[dict], str]:
    """`count` users whose userNames share a fresh prefix, in creation order, and the filter finding them."""
    stem = f"Stem{uuid.uuid4().hex[:10]}"
    users = [new_user(c, user_name=f"{stem}.{i}@example.com") for i in range(count)]
    return users, f'userName sw "{stem}"'


def list_users(c: httpx.Client, expression: str | None = None, **params) -> httpx.Response:
    if expression is None:
        return c.get("/Users", params=params)
    return c.get(filter_url(expression, **params))


def total_found(c: httpx.Client, expression: str) -> int | None:
    body = json_or_none(list_users(c, expression))
    return body.get("totalResults") if isinstance(body, dict) else None


def patch(c: httpx.Client, user_id: Any, *operations: dict, **headers: str) -> httpx.Response:
    return c.patch(f"/Users/{user_id}", json=patch_body(*operations), headers=headers)


def replace(path: str, value: Any, op: str = "replace") -> dict:
    return {"op": op, "path": path, "value": value}


def active_of(c: httpx.Client, user_id: Any) -> Any:
    return c.get(f"/Users/{user_id}").json().get("active", "absent")


def users_request(server: ReferenceServer, authorization: str | None) -> httpx.Response:
    with anonymous_client(server, authorization) as c:
        return c.get("/Users")


# ---- token ---------------------------------------------------------------------------------

@case("auth-any-bearer-accepted", correct=401, faulty=200)
def _(c, server):
    return users_request(server, "Bearer not-a-token-of-this-tenant").status_code


@case("auth-token-prefix-accepted", correct=(401, 200), faulty=(200, 200))
def _(c, server):
    return (users_request(server, f"Bearer {server.token}extra").status_code,
            users_request(server, f"Bearer {server.token}").status_code)


@case("auth-challenge-basic", correct="bearer", faulty="basic")
def _(c, server):
    challenge = users_request(server, "Bearer not-a-token").headers.get("www-authenticate", "")
    return challenge.split(" ")[0].lower()


@case("auth-revoked-token-accepted", correct=401, faulty=200)
def _(c, server):
    return users_request(server, f"Bearer {server.tenant.revoked_tokens[0]}").status_code


@case("auth-anonymous-allowed", correct=401, faulty=200)
def _(c, server):
    return users_request(server, None).status_code


@case("auth-basic-accepted", correct=401, faulty=200)
def _(c, server):
    return users_request(server, "Basic dXNlcjpwYXNzd29yZA==").status_code


@case("auth-no-www-authenticate", correct=(401, True), faulty=(401, False))
def _(c, server):
    response = users_request(server, "Bearer wrong")
    return response.status_code, response.headers.get("www-authenticate", "").startswith("Bearer")


@case("auth-403-for-bad-token", correct=(401, 401), faulty=(403, 403))
def _(c, server):
    return users_request(server, "Bearer wrong").status_code, users_request(server, None).status_code


@case("auth-401-html", correct=(401, "application/scim+json", True), faulty=(401, "text/html", False))
def _(c, server):
    response = users_request(server, "Bearer wrong")
    body = json_or_none(response)
    return response.status_code, media_type(response), isinstance(body, dict) and body.get("schemas") == [ERROR_URN]


# ---- import / paging -----------------------------------------------------------------------

@case("paging-numbers-as-strings", correct=("int", "int", "int"), faulty=("str", "str", "str"))
def _(c, server):
    body = list_users(c, count=1).json()
    return tuple(type(body[k]).__name__ for k in ("totalResults", "startIndex", "itemsPerPage"))


@case("paging-items-per-page-is-count", correct=(1, 1), faulty=(1, 5))
def _(c, server):
    user = new_user(c)
    body = list_users(c, f'userName eq "{user["userName"]}"', count=5).json()
    return len(body["Resources"]), body["itemsPerPage"]


@case("paging-items-per-page-is-total", correct=(1, 1), faulty=(1, 3))
def _(c, server):
    users, expression = same_stem_users(c, 3)
    body = list_users(c, expression, startIndex=1, count=1).json()
    return len(body["Resources"]), body["itemsPerPage"]


@case("paging-bounds-rejected", correct=(200, 1, 200, 0), faulty=(400, None, 400, None))
def _(c, server):
    start, negative = list_users(c, startIndex=0, count=1), list_users(c, count=-1)
    return (start.status_code, json_or_none(start).get("startIndex"), negative.status_code,
            json_or_none(negative).get("itemsPerPage"))


@case("paging-zero-based", correct=(0, 1), faulty=(1, 1))
def _(c, server):
    users, expression = same_stem_users(c, 3)
    body = list_users(c, expression, startIndex=1, count=1).json()
    names = [u["userName"] for u in users]
    return names.index(body["Resources"][0]["userName"]), body["startIndex"]


@case("paging-count-ignored", correct=(1, 2), faulty=(3, 3))
def _(c, server):
    _, expression = same_stem_users(c, 3)
    first = list_users(c, expression, startIndex=1, count=1).json()
    second = list_users(c, expression, startIndex=2, count=2).json()
    return len(first["Resources"]), len(second["Resources"])


@case("paging-empty-as-bare-array", correct=("dict", 0), faulty=("list", None))
def _(c, server):
    body = list_users(c, f'userName eq "nobody.{uuid.uuid4().hex}@example.com"').json()
    return type(body).__name__, body.get("totalResults") if isinstance(body, dict) else None


@case("paging-total-is-page-size", correct=3, faulty=1)
def _(c, server):
    _, expression = same_stem_users(c, 3)
    return list_users(c, expression, count=1).json()["totalResults"]


@case("paging-unstable-order", correct=True, faulty=False)
def _(c, server):
    """A walk in pages of one visits every user once, in a stable order."""
    users, expression = same_stem_users(c, 6)
    walked = [list_users(c, expression, startIndex=i, count=1).json()["Resources"][0]["id"] for i in range(1, 7)]
    again = [list_users(c, expression, startIndex=i, count=1).json()["Resources"][0]["id"] for i in range(1, 7)]
    return sorted(walked) == sorted(u["id"] for u in users) and walked == again


# ---- filter ---------------------------------------------------------------------------------

@case("filter-ignored", correct=1, faulty=lambda total: total > 1)
def _(c, server):
    user = new_user(c)
    return total_found(c, f'userName eq "{user["userName"]}"')


@case("filter-no-match-404", correct=(200, 0), faulty=(404, None))
def _(c, server):
    response = list_users(c, f'userName eq "nobody.{uuid.uuid4().hex}@example.com"')
    return response.status_code, json_or_none(response).get("totalResults")


@case("filter-username-case-sensitive", correct=(1, 409), faulty=(0, 201))
def _(c, server):
    user = new_user(c, user_name=unique_user_name(stem="Mixed.Case"))
    shouted = user["userName"].upper().replace("@EXAMPLE.COM", "@example.com")
    found = total_found(c, f'userName eq "{shouted}"')
    return found, c.post("/Users", json=user_body(shouted)).status_code


@case("filter-plus-not-decoded", correct=(200, 1), faulty=lambda seen: seen in {(200, 0), (400, None)})
def _(c, server):
    user = new_user(c)
    response = c.get(filter_url(f'userName eq "{user["userName"]}"', plus=True))
    body = json_or_none(response)
    return response.status_code, body.get("totalResults") if response.status_code == 200 else None


@case("filter-externalid-unsupported", correct=(200, 1, 200), faulty=(400, None, 200))
def _(c, server):
    """A filter on externalId is refused; the userName filter still works."""
    user = new_user(c, externalId=f"ext-{uuid.uuid4().hex[:10]}")
    response = list_users(c, f'externalId eq "{user["externalId"]}"')
    found = json_or_none(response).get("totalResults") if response.status_code == 200 else None
    return response.status_code, found, list_users(c, f'userName eq "{user["userName"]}"').status_code


@case("filter-externalid-case-insensitive", correct=(1, 0), faulty=(1, 1))
def _(c, server):
    external = f"Ext-{uuid.uuid4().hex[:6]}AbC"
    new_user(c, externalId=external)
    return total_found(c, f'externalId eq "{external}"'), total_found(c, f'externalId eq "{external.swapcase()}"')


@case("filter-invalid-500", correct=(400, "invalidFilter"), faulty=(500, None))
def _(c, server):
    response = list_users(c, "userName eq")
    return response.status_code, json_or_none(response).get("scimType")


@case("projection-ignored", correct=(False, False), faulty=(True, True))
def _(c, server):
    user = new_user(c)
    asked = c.get(f"/Users/{user['id']}", params={"attributes": "userName"}).json()
    excluded = c.get(f"/Users/{user['id']}", params={"excludedAttributes": "emails"}).json()
    return "emails" in asked, "emails" in excluded


@case("filter-left-to-right", correct=1, faulty=0)
def _(c, server):
    a, b = new_user(c), new_user(c)
    return total_found(c, f'userName eq "{a["userName"]}" or userName eq "{b["userName"]}" and userName eq "nobody"')


@case("too-many-wrong-error", correct=200, faulty=403)
def _(c, server):
    same_stem_users(c, 101)
    return list_users(c, "userName pr").status_code


@case("defaulted-usertype-unfilterable", correct=(None, None), faulty=("Employee", 0))
def _(c, server):
    user = new_user(c)
    found = total_found(c, f'userName eq "{user["userName"]}" and userType eq "Employee"') if "userType" in user else None
    return user.get("userType"), found


@case("projection-urn-names-ignored", correct=False, faulty=True)
def _(c, server):
    user = new_user(c)
    asked = c.get(f"/Users/{user['id']}", params={"attributes": f"{CORE_URN}:userName"}).json()
    return "emails" in asked


# ---- create ---------------------------------------------------------------------------------

@case("create-200-not-201", correct=201, faulty=200)
def _(c, server):
    return c.post("/Users", json=user_body()).status_code


@case("create-no-location", correct=True, faulty=False)
def _(c, server):
    response = c.post("/Users", json=user_body())
    return response.headers.get("location", "").endswith(f"/Users/{response.json()['id']}")


@case("country-as-name", correct="IE", faulty="Ireland")
def _(c, server):
    user = new_user(c, addresses=[{"type": "work", "country": "IE", "primary": True}])
    return c.get(f"/Users/{user['id']}").json()["addresses"][0]["country"]


@case("manager-id-dropped", correct="104231", faulty=None)
def _(c, server):
    body = user_body(**{ENTERPRISE_USER: {"manager": {"managerId": "104231"}}},
                     schemas=[CORE_URN, ENTERPRISE_USER])
    user = c.post("/Users", json=body).json()
    return (c.get(f"/Users/{user['id']}").json().get(ENTERPRISE_USER) or {}).get("manager", {}).get("value")


@case("create-answers-before-defaults", correct=(True, True), faulty=(False, True))
def _(c, server):
    body = {k: v for k, v in user_body().items() if k != "active"}
    created = c.post("/Users", json=body).json()
    return "active" in created, c.get(f"/Users/{created['id']}").json().get("active")


@case("create-lowercases-username", correct=(True, True), faulty=(False, False))
def _(c, server):
    name = unique_user_name(stem="Camel.Case")
    created = new_user(c, user_name=name)
    return created["userName"] == name, c.get(f"/Users/{created['id']}").json()["userName"] == name


@case("create-duplicate-allowed", correct=(409, 1, [204]), faulty=(201, 2, [204, 204]))
def _(c, server):
    body = user_body()
    c.post("/Users", json=body)
    second = c.post("/Users", json=body)
    found = list_users(c, f'userName eq "{body["userName"]}"').json()["Resources"]
    deleted = [c.delete(f"/Users/{u['id']}").status_code for u in found]
    return second.status_code, len(found), deleted


@case("create-duplicate-400", correct=(409, "uniqueness"), faulty=(400, None))
def _(c, server):
    body = user_body()
    c.post("/Users", json=body)
    again = c.post("/Users", json=body)
    return again.status_code, again.json().get("scimType")


@case("create-rejects-unknown-attributes", correct=201, faulty=400)
def _(c, server):
    body = user_body(password="Tr0ub4dor&3", groups=[], nickName="Zo", favouriteColour="teal")
    return c.post("/Users", json=body).status_code


@case("create-returns-password", correct=(False, False, False), faulty=(True, True, True))
def _(c, server):
    created = new_user(c, password="Tr0ub4dor&3")
    read = c.get(f"/Users/{created['id']}").json()
    listed = list_users(c, f'userName eq "{created["userName"]}"').json()["Resources"][0]
    return "password" in created, "password" in read, "password" in listed


@case("responses-masked-password", correct=(False, False, False), faulty=("********",) * 3)
def _(c, server):
    created = new_user(c)
    read = c.get(f"/Users/{created['id']}").json()
    listed = list_users(c, f'userName eq "{created["userName"]}"').json()["Resources"][0]
    return tuple(body.get("password", False) for body in (created, read, listed))


@case("create-accepts-missing-username", correct=400, faulty=201)
def _(c, server):
    return c.post("/Users", json={"schemas": [CORE_URN], "emails": [{"value": "nameless@example.com"}]}).status_code


@case("create-requires-core-schema-first", correct=201, faulty=400)
def _(c, server):
    body = user_body()
    body["schemas"] = [ENTERPRISE_USER, CORE_URN]
    return c.post("/Users", json=body).status_code


@case("filter-boolean-ordering-accepted", correct=(400, "invalidFilter"), faulty=(200, None))
def _(c, server):
    answer = list_users(c, "active gt true")
    return answer.status_code, answer.json().get("scimType")


@case("responses-schemas-core-only", correct=True, faulty=False)
def _(c, server):
    user = new_user(c, **{ENTERPRISE_USER: {"department": "R&D"}},
                    schemas=["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER])
    return ENTERPRISE_USER in c.get(f"/Users/{user['id']}").json()["schemas"]


@case("schemas-undeclared-extension", correct=True, faulty=False)
def _(c, server):
    """Every URI in a user's schemas is declared for the User resource type by GET /ResourceTypes."""
    users_type = next(t for t in c.get("/ResourceTypes").json()["Resources"] if t["endpoint"].strip("/") == "Users")
    declared = {users_type["schema"], *(e["schema"] for e in users_type.get("schemaExtensions", []))}
    return set(c.get(f"/Users/{new_user(c)['id']}").json()["schemas"]) <= declared


@case("external-id-invented", correct=(None, None), faulty=lambda seen: seen[0] is not None and seen[0] == seen[1])
def _(c, server):
    """A user created without an externalId: GET shows none (the faulty server shows its id as the externalId)."""
    user = new_user(c)
    read = c.get(f"/Users/{user['id']}").json()
    return read.get("externalId"), user["id"] if "externalId" in read else None


@case("null-stored-as-empty-string", correct=("absent", "absent", "absent"), faulty=("", "", ""))
def _(c, server):
    """title and nickName sent as null on POST, displayName as null on PUT: unassigned, not ""."""
    user = new_user(c, title=None, nickName=None)
    read = c.get(f"/Users/{user['id']}").json()
    put = c.put(f"/Users/{user['id']}", json=user_body(user["userName"], displayName=None)).json()
    return read.get("title", "absent"), read.get("nickName", "absent"), put.get("displayName", "absent")


@case("username-not-precis", correct=(409, 409, 200), faulty=(201, 201, 200))
def _(c, server):
    """RFC 7644 §5: a fullwidth letter, or the NFD form of an NFC userName, names the existing user."""
    name = unique_user_name(stem="Andr\u00e9")  # "André.<n>.<hex>@example.com", in NFC
    new_user(c, user_name=name)
    fullwidth = c.post("/Users", json=user_body("\uff21" + name[1:]))  # "Ａ" for "A"
    nfd = c.post("/Users", json=user_body(unicodedata.normalize("NFD", name)))
    return fullwidth.status_code, nfd.status_code, c.get("/Users").status_code


@case("meta-incomplete", correct=True, faulty=False)
def _(c, server):
    meta = c.get(f"/Users/{new_user(c)['id']}").json()["meta"]
    return {"created", "lastModified", "location"} <= set(meta)


@case("create-keeps-client-id", correct=False, faulty=True)
def _(c, server):
    body = user_body()
    body["id"] = f"client-{uuid.uuid4().hex[:8]}"
    created = c.post("/Users", json=body).json()
    return created["id"] == body["id"] and c.get(f"/Users/{body['id']}").status_code == 200


@case("create-drops-optional-attributes", correct=("Ada L", "en-GB", "work"), faulty=(None, None, None))
def _(c, server):
    user = new_user(c, displayName="Ada L", locale="en-GB")
    read = c.get(f"/Users/{user['id']}").json()
    return read.get("displayName"), read.get("locale"), read["emails"][0].get("type")


@case("create-integer-id", correct=("str", 200, 204), faulty=("int", 200, 204))
def _(c, server):
    created = new_user(c)
    user_id = created["id"]
    return type(user_id).__name__, c.get(f"/Users/{user_id}").status_code, c.delete(f"/Users/{user_id}").status_code


@case("create-rejects-scim-json", correct=(201, 201), faulty=(415, 201))
def _(c, server):
    scim = c.post("/Users", json=user_body(), headers={"Content-Type": "application/scim+json"})
    plain = c.post("/Users", json=user_body(), headers={"Content-Type": "application/json"})
    return scim.status_code, plain.status_code


@case("create-rejects-non-rfc-urns", correct=(201, 201, 201), faulty=(400, 400, 201))
def _(c, server):
    """OneLogin's urn:scim:schemas:core:2.0 and a misspelt extension URN are refused; the RFC URNs are not."""
    onelogin = c.post("/Users", json=user_body(schemas=["urn:scim:schemas:core:2.0"]))
    misspelt = c.post("/Users", json=user_body(schemas=[CORE_URN, ENTERPRISE_USER.replace(":User", "User")]))
    rfc = c.post("/Users", json=user_body(schemas=[CORE_URN, ENTERPRISE_USER]))
    return onelogin.status_code, misspelt.status_code, rfc.status_code


@case("create-rejects-emails-object", correct=(201, "one@example.com", 201), faulty=(400, None, 201))
def _(c, server):
    """emails as one object is refused (on POST); the array form is not."""
    name = unique_user_name()
    created = c.post("/Users", json=user_body(name, emails={"value": "one@example.com", "type": "work"}))
    emails = json_or_none(created).get("emails") if created.status_code == 201 else None
    return created.status_code, emails[0]["value"] if emails else None, c.post("/Users", json=user_body()).status_code


@case("create-drops-enterprise-extension", correct=("Research", "Research"), faulty=(None, None))
def _(c, server):
    created = new_user(c, **{ENTERPRISE_USER: {"department": "Research"}})
    read = c.get(f"/Users/{created['id']}").json()
    return created.get(ENTERPRISE_USER, {}).get("department"), read.get(ENTERPRISE_USER, {}).get("department")


# ---- update ---------------------------------------------------------------------------------

@case("put-rejects-read-only", correct=200, faulty=400)
def _(c, server):
    current = new_user(c)
    return c.put(f"/Users/{current['id']}", json={**current, "displayName": "Read Modify Write"}).status_code


@case("put-keeps-omitted", correct=(200, None), faulty=(200, "Lead"))
def _(c, server):
    created = new_user(c, title="Lead")
    replaced = c.put(f"/Users/{created['id']}", json=user_body(created["userName"]))
    return replaced.status_code, c.get(f"/Users/{created['id']}").json().get("title")


@case("put-ignored", correct=(200, "Lead"), faulty=(200, None))
def _(c, server):
    created = new_user(c)
    replaced = c.put(f"/Users/{created['id']}", json=user_body(created["userName"], title="Lead"))
    return replaced.status_code, c.get(f"/Users/{created['id']}").json().get("title")


@case("update-rejects-empty-values", correct=(200, 200, None), faulty=(400, 400, "Lead"))
def _(c, server):
    created = new_user(c, title="Lead")
    put = c.put(f"/Users/{created['id']}", json=user_body(created["userName"], title=""))
    patched = patch(c, created["id"], replace("title", ""))
    return put.status_code, patched.status_code, c.get(f"/Users/{created['id']}").json().get("title")


@case("patch-pathless-rejected", correct=(200, "Path Less"), faulty=(400, None))
def _(c, server):
    user = new_user(c)
    response = patch(c, user["id"], {"op": "replace", "value": {"displayName": "Path Less"}})
    return response.status_code, json_or_none(response).get("displayName")


@case("patch-op-case-sensitive", correct=200, faulty=400)
def _(c, server):
    user = new_user(c)
    return patch(c, user["id"], replace("displayName", "Entra Style", op="Replace")).status_code


@case("patch-ignored", correct=(200, "Patched"), faulty=(200, None))
def _(c, server):
    user = new_user(c)
    status = patch(c, user["id"], replace("displayName", "Patched")).status_code
    return status, c.get(f"/Users/{user['id']}").json().get("displayName")


@case("patch-protected-attributes-ignored", correct=400, faulty=200)
def _(c, server):
    return patch(c, new_user(c)["id"], {"op": "remove", "path": "userName"}).status_code


@case("pathless-id-applied", correct=(400, 200), faulty=(200, 404))
def _(c, server):
    user = new_user(c)
    answer = patch(c, user["id"], {"op": "replace", "value": {"id": "another-id", "title": "Lead"}})
    return answer.status_code, c.get(f"/Users/{user['id']}").status_code


@case("put-clears-missing-username", correct=(400, True), faulty=(200, False))
def _(c, server):
    user = new_user(c)
    body = {k: v for k, v in user_body(user["userName"]).items() if k != "userName"}
    status = c.put(f"/Users/{user['id']}", json=body).status_code
    return status, bool(c.get(f"/Users/{user['id']}").json().get("userName"))


@case("patch-schemas-not-required", correct=(400, None), faulty=(200, "Lead"))
def _(c, server):
    user = new_user(c)
    answer = c.patch(f"/Users/{user['id']}", json={"Operations": [replace("title", "Lead")]})
    return answer.status_code, c.get(f"/Users/{user['id']}").json().get("title")


@case("patch-remove-without-path-accepted", correct=(400, "noTarget"), faulty=(204, None))
def _(c, server):
    answer = patch(c, new_user(c)["id"], {"op": "remove"})
    return answer.status_code, json_or_none(answer).get("scimType") if answer.content else None


@case("patch-not-atomic", correct=(400, None), faulty=(200, "Halfway"))
def _(c, server):
    user = new_user(c)
    answer = patch(c, user["id"], replace("title", "Halfway"), replace("scimcertNoSuchAttribute", "x"))
    return answer.status_code, c.get(f"/Users/{user['id']}").json().get("title")


@case("patch-primary-ignored", correct=1, faulty=0)
def _(c, server):
    user = new_user(c)
    local, _, domain = user["userName"].partition("@")
    added = patch(c, user["id"], {"op": "add", "path": "emails",
                                  "value": [{"value": f"{local}.home@{domain}", "type": "home", "primary": True}]})
    return sum(1 for e in added.json()["emails"] if e.get("primary") and e["value"].startswith(f"{local}.home"))


@case("update-uniqueness-unchecked", correct=409, faulty=200)
def _(c, server):
    taken, other = new_user(c), new_user(c)
    return patch(c, other["id"], replace("userName", taken["userName"].upper())).status_code


@case("patch-replace-appends", correct=(1, 1), faulty=(2, 3))
def _(c, server):
    user = new_user(c)
    name = user["userName"]
    local, _, domain = name.partition("@")
    pathless = patch(c, user["id"], {"op": "replace", "value": {"emails": [{"value": f"{local}.a@{domain}", "primary": True}]}})
    with_path = patch(c, user["id"], replace("emails", [{"value": f"{local}.b@{domain}", "primary": True}]))
    return len(pathless.json()["emails"]), len(with_path.json()["emails"])


@case("patch-value-path-unsupported", correct=(200, "new@example.com"), faulty=(400, None))
def _(c, server):
    user = new_user(c)
    response = patch(c, user["id"], replace('emails[type eq "work"].value', "new@example.com"))
    emails = json_or_none(response).get("emails") or [{}]
    return response.status_code, emails[0].get("value") if response.status_code == 200 else None


@case("patch-dotted-keys-ignored", correct=(200, "Dotty", "Ops", "Keys"), faulty=(200, "Zoë", None, "Keys"))
def _(c, server):
    """Dotted and URN-qualified keys of a path-less value are dropped; plain keys still apply."""
    user = new_user(c)
    response = patch(c, user["id"], {"op": "replace", "value": {
        "name.givenName": "Dotty", f"{ENTERPRISE_USER}:department": "Ops", "displayName": "Keys"}})
    body = c.get(f"/Users/{user['id']}").json()
    return (response.status_code, body["name"]["givenName"], body.get(ENTERPRISE_USER, {}).get("department"),
            body.get("displayName"))


@case("patch-manager-string-rejected", correct=(200, 200, "m-2"), faulty=(200, 400, "m-1"))
def _(c, server):
    """The bare-id form of the manager is refused; the {"value": id} form is not."""
    user = new_user(c)
    manager = f"{ENTERPRISE_USER}:manager"
    as_object = patch(c, user["id"], replace(manager, {"value": "m-1"}, op="Add")).status_code
    as_string = patch(c, user["id"], replace(manager, "m-2", op="Replace")).status_code
    shown = c.get(f"/Users/{user['id']}").json().get(ENTERPRISE_USER, {}).get("manager", {}).get("value")
    return as_object, as_string, shown


@case("update-version-unchanged", correct=(True, 412), faulty=(False, 200))
def _(c, server):
    """The ETag changes with a write, so a write conditioned on the old one fails."""
    created = c.post("/Users", json=user_body())
    before = created.headers["etag"]
    after = patch(c, created.json()["id"], replace("displayName", "Versioned")).headers["etag"]
    stale = patch(c, created.json()["id"], replace("displayName", "Stale"), **{"If-Match": before})
    return before != after, stale.status_code


@case("replace-absent-refused", correct=(200, "Sam"), faulty=(400, None))
def _(c, server):
    user = new_user(c)
    answer = patch(c, user["id"], replace("nickName", "Sam"))
    return answer.status_code, c.get(f"/Users/{user['id']}").json().get("nickName")


@case("value-filter-no-match-ignored", correct=(400, "noTarget"), faulty=(200, None))
def _(c, server):
    answer = patch(c, new_user(c)["id"], replace('emails[type ne "work"].value', "other@example.com"))
    return answer.status_code, json_or_none(answer).get("scimType")


@case("noop-update-restamps", correct=(200, True), faulty=(200, False))
def _(c, server):
    user = new_user(c)
    answer = patch(c, user["id"], replace("emails", user["emails"], op="add"))
    return answer.status_code, answer.json()["meta"] == {**user["meta"]}


@case("add-existing-conflict", correct=(200, 1), faulty=(409, 1))
def _(c, server):
    user = new_user(c)
    answer = patch(c, user["id"], replace("emails", user["emails"], op="add"))
    return answer.status_code, len(c.get(f"/Users/{user['id']}").json()["emails"])


@case("put-body-id-refused", correct=(200, 200), faulty=(400, 200))
def _(c, server):
    user = new_user(c)
    answer = c.put(f"/Users/{user['id']}", json={**user, "id": str(uuid.uuid4())})
    return answer.status_code, c.put(f"/Users/{user['id']}", json=user).status_code  # Okta's PUT, id as read


@case("patch-answers-stale", correct="Patched", faulty=None)
def _(c, server):
    return patch(c, new_user(c)["id"], replace("title", "Patched")).json().get("title")


@case("put-stores-groups", correct=[], faulty=["g1"])
def _(c, server):
    user = new_user(c)
    body = {**user_body(user["userName"]), "groups": [{"value": "g1"}]}
    c.put(f"/Users/{user['id']}", json=body)
    return [g["value"] for g in c.get(f"/Users/{user['id']}").json().get("groups", [])]


@case("put-answers-empty", correct=(200, True), faulty=(200, False))
def _(c, server):
    user = new_user(c)
    answer = c.put(f"/Users/{user['id']}", json={**user, "title": "Put"})
    return answer.status_code, bool(answer.content)


@case("etag-only-on-get", correct=(True, True, True, True), faulty=(False, True, False, False))
def _(c, server):
    created = c.post("/Users", json=user_body())
    user = created.json()
    answers = (created, c.get(f"/Users/{user['id']}"), patch(c, user["id"], replace("title", "Tagged")),
               c.put(f"/Users/{user['id']}", json={**user, "title": "Retagged"}))
    return tuple("etag" in answer.headers for answer in answers)


# ---- deactivate -----------------------------------------------------------------------------

@case("deactivate-ignored", correct=(200, False), faulty=(200, True))
def _(c, server):
    user = new_user(c)
    status = patch(c, user["id"], replace("active", False)).status_code
    return status, active_of(c, user["id"])


@case("deactivate-deletes", correct=(200, 1), faulty=(204, 0))
def _(c, server):
    user = new_user(c)
    status = c.put(f"/Users/{user['id']}", json=user_body(user["userName"], active=False)).status_code
    return status, total_found(c, f'userName eq "{user["userName"]}"')


@case("deactivate-hidden", correct=(1, 200), faulty=(0, 200))
def _(c, server):
    user = new_user(c)
    patch(c, user["id"], {"op": "replace", "value": {"active": False}})
    return total_found(c, f'userName eq "{user["userName"]}"'), c.get(f"/Users/{user['id']}").status_code


@case("active-string-rejected", correct=(200, 200, False), faulty=(200, 400, True))
def _(c, server):
    """Entra's "False" string is refused; a string "True" in another attribute is not."""
    user = new_user(c)
    other = patch(c, user["id"], replace("displayName", "True")).status_code
    entra = patch(c, user["id"], replace("active", "False", op="Replace")).status_code
    return other, entra, active_of(c, user["id"])


@case("active-as-string", correct=("bool", "bool"), faulty=("str", "str"))
def _(c, server):
    user = new_user(c)
    listed = list_users(c, f'userName eq "{user["userName"]}"').json()["Resources"][0]
    return type(user["active"]).__name__, type(listed["active"]).__name__


@case("active-omitted-when-false", correct=(True, False), faulty=(True, "absent"))
def _(c, server):
    user = new_user(c)
    patch(c, user["id"], replace("active", False))
    return user["active"], active_of(c, user["id"])


@case("reactivate-ignored", correct=(False, 200, True), faulty=(False, 200, False))
def _(c, server):
    user = new_user(c)
    patch(c, user["id"], replace("active", False))
    inactive = active_of(c, user["id"])
    status = patch(c, user["id"], {"op": "replace", "value": {"active": True}}).status_code
    return inactive, status, active_of(c, user["id"])


# ---- delete ---------------------------------------------------------------------------------

@case("delete-soft", correct=(204, 404, 0), faulty=(204, 200, 1))
def _(c, server):
    user = new_user(c)
    deleted = c.delete(f"/Users/{user['id']}").status_code
    return deleted, c.get(f"/Users/{user['id']}").status_code, total_found(c, f'userName eq "{user["userName"]}"')


@case("delete-tombstone-writable", correct=(404, 404), faulty=(200, 200))
def _(c, server):
    user = new_user(c)
    c.delete(f"/Users/{user['id']}")
    return (c.put(f"/Users/{user['id']}", json=user_body(user["userName"])).status_code,
            patch(c, user["id"], replace("title", "Ghost")).status_code)


@case("delete-twice-204", correct=(204, 404, 404), faulty=(204, 204, 204))
def _(c, server):
    user = new_user(c)
    first = c.delete(f"/Users/{user['id']}").status_code
    return first, c.delete(f"/Users/{user['id']}").status_code, c.delete(f"/Users/{MISSING_ID}").status_code


@case("delete-200-with-body", correct=(204, b""), faulty=lambda seen: seen[0] == 200 and seen[1] != b"")
def _(c, server):
    user = new_user(c)
    response = c.delete(f"/Users/{user['id']}")
    return response.status_code, response.content


@case("delete-unsupported-405", correct=(204, None, 404, 404), faulty=(405, "405", 200, 405))
def _(c, server):
    user = new_user(c)
    response = c.delete(f"/Users/{user['id']}")
    body = json_or_none(response)
    return (response.status_code, body.get("status") if isinstance(body, dict) else None,
            c.get(f"/Users/{user['id']}").status_code, c.delete(f"/Users/{MISSING_ID}").status_code)


def listed_as(c: httpx.Client, user_id: str) -> Any:
    """The user `user_id` as the unfiltered GET /Users lists it (walking every page), or None."""
    start = 1
    while True:
        page = c.get("/Users", params={"startIndex": start, "count": 100}).json()
        found = next((u for u in page["Resources"] if u["id"] == user_id), None)
        start += len(page["Resources"])
        if found is not None or not page["Resources"] or start > page["totalResults"]:
            return found


@case("delete-soft-listed", correct=(204, 404, 0, None), faulty=(204, 404, 0, False))
def _(c, server):
    """After a DELETE: GET 404 and no filter match on both; the faulty list still holds it, inactive."""
    user = new_user(c)
    deleted = c.delete(f"/Users/{user['id']}").status_code
    listed = listed_as(c, user["id"])
    return (deleted, c.get(f"/Users/{user['id']}").status_code, total_found(c, f'userName eq "{user["userName"]}"'),
            listed["active"] if listed is not None else None)


@case("delete-username-held", correct=(204, 201, None), faulty=(204, 409, "uniqueness"))
def _(c, server):
    body = user_body()
    user = new_user(c, user_name=body["userName"])
    deleted = c.delete(f"/Users/{user['id']}").status_code
    again = c.post("/Users", json=body)
    return deleted, again.status_code, again.json().get("scimType")


@case("id-derived-from-username", correct=(204, 201, False), faulty=(204, 201, True))
def _(c, server):
    body = user_body()
    user = new_user(c, user_name=body["userName"])
    deleted = c.delete(f"/Users/{user['id']}").status_code
    again = c.post("/Users", json=body)
    return deleted, again.status_code, again.json().get("id") == user["id"]


# ---- email-domain rule ---------------------------------------------------------------------

def _create_on(c: httpx.Client, domain: str) -> int:
    return c.post("/Users", json=user_body(unique_user_name(domain=domain))).status_code


@case("domain-subdomains-accepted", correct=400, faulty=201)
def _(c, server):
    return _create_on(c, "eu.example.com")


@case("domain-suffix-match", correct=400, faulty=201)
def _(c, server):
    return _create_on(c, "evil-example.com")


@case("domain-substring-match", correct=400, faulty=201)
def _(c, server):
    return _create_on(c, "example.com.evil.io")


@case("domain-case-sensitive", correct=201, faulty=400)
def _(c, server):
    return _create_on(c, "EXAMPLE.COM")


@case("domain-unchecked-on-update", correct=(400, 400, 400), faulty=(200, 200, 400))
def _(c, server):
    """A move to a foreign domain passes by PUT and PATCH; a missing userName is still refused."""
    user = new_user(c)
    moved = c.put(f"/Users/{user['id']}", json=user_body(unique_user_name(domain="gmail.com")))
    patched = patch(c, user["id"], replace("userName", unique_user_name(domain="yahoo.com")))
    nameless = {k: v for k, v in user_body().items() if k != "userName"}
    return moved.status_code, patched.status_code, c.put(f"/Users/{user['id']}", json=nameless).status_code


@case("domain-primary-email-unchecked", correct=(400, 400), faulty=(201, 400))
def _(c, server):
    foreign_email = user_body(emails=[{"value": unique_user_name(domain="gmail.com"), "primary": True}])
    not_an_email = user_body(emails=[{"value": "not an address", "primary": True}])
    return c.post("/Users", json=foreign_email).status_code, c.post("/Users", json=not_an_email).status_code


@case("domain-wrong-error", correct=(400, "invalidValue", 400), faulty=(403, None, 400))
def _(c, server):
    """A foreign domain is a 403; a userName that is no email at all is still 400."""
    foreign = c.post("/Users", json=user_body(unique_user_name(domain="gmail.com")))
    shapeless = c.post("/Users", json=user_body("no-at-sign"))
    return foreign.status_code, foreign.json().get("scimType"), shapeless.status_code


# ---- guests ---------------------------------------------------------------------------------

@case("guests-listed", correct=False, faulty=True)
def _(c, server):
    guests = {g.id for g in server.tenant.guests}
    listed = {u["id"] for u in list_users(c, startIndex=1, count=100).json()["Resources"]}
    return guests <= listed


@case("guests-found-by-filter", correct=0, faulty=1)
def _(c, server):
    return total_found(c, f'userName eq "{server.tenant.guests[0].userName}"')


@case("guests-readable-by-id", correct=404, faulty=200)
def _(c, server):
    return c.get(f"/Users/{server.tenant.guests[0].id}").status_code


@case("guests-writable-by-id", correct=(404, 404, 404), faulty=(200, 200, 204))
def _(c, server):
    guest = server.tenant.guests[1]
    put = c.put(f"/Users/{guest.id}", json=user_body(guest.userName)).status_code
    patched = patch(c, guest.id, replace("displayName", "Promoted")).status_code
    return put, patched, c.delete(f"/Users/{guest.id}").status_code


@case("guests-creatable", correct=(400, 0), faulty=(201, 1))
def _(c, server):
    """A guest's address is created as a member; the other foreign addresses stay refused."""
    guest = server.tenant.guests[0]
    created = c.post("/Users", json=user_body(guest.userName)).status_code
    c.post("/Users", json=user_body(unique_user_name(domain="gmail.com")))
    return created, total_found(c, f'userName eq "{guest.userName}"')


# ---- errors ---------------------------------------------------------------------------------

@case("errors-status-integer", correct=("404", "409"), faulty=(404, 409))
def _(c, server):
    missing = c.get(f"/Users/{MISSING_ID}").json()
    body = user_body()
    c.post("/Users", json=body)
    return missing["status"], c.post("/Users", json=body).json()["status"]


@case("errors-status-always-500", correct="404", faulty="500")
def _(c, server):
    return c.get(f"/Users/{MISSING_ID}").json()["status"]


@case("errors-scim-type-always-invalid-value", correct=("invalidSyntax", "invalidFilter"),
      faulty=("invalidValue", "invalidValue"))
def _(c, server):
    malformed = c.post("/Users", content=b'{"userName": ', headers={"Content-Type": "application/scim+json"})
    bad_filter = c.get("/Users", params={"filter": "userName regex \"x\""})
    return malformed.json().get("scimType"), bad_filter.json().get("scimType")


@case("errors-not-scim", correct=([ERROR_URN], False), faulty=(None, True))
def _(c, server):
    body = c.get(f"/Users/{MISSING_ID}").json()
    return body.get("schemas"), "errors" in body


@case("errors-html-404", correct=(404, "application/scim+json"), faulty=(404, "text/html"))
def _(c, server):
    response = c.get(f"/Users/{MISSING_ID}")
    return response.status_code, media_type(response)


@case("errors-unknown-endpoint-html", correct=(404, "application/scim+json"), faulty=(404, "text/html"))
def _(c, server):
    answer = c.get("/NoSuchEndpoint")
    return answer.status_code, media_type(answer)


@case("errors-malformed-json-500", correct=(400, 400), faulty=(500, 400))
def _(c, server):
    malformed = c.post("/Users", content=b'{"userName": "broken@example.com",')
    empty = c.post("/Users", content=b"")
    return malformed.status_code, empty.status_code


@case("responses-application-json", correct=("application/scim+json",) * 3, faulty=("application/json",) * 3)
def _(c, server):
    user = c.post("/Users", json=user_body())
    return media_type(user), media_type(c.get("/Users")), media_type(c.get(f"/Users/{MISSING_ID}"))


@case("responses-text-plain", correct=("application/scim+json",) * 3, faulty=("text/plain",) * 3)
def _(c, server):
    user = c.post("/Users", json=user_body())
    return media_type(user), media_type(c.get("/Users")), media_type(c.get(f"/Users/{MISSING_ID}"))


# ---- discovery ------------------------------------------------------------------------------

@case("discovery-spc-missing", correct=200, faulty=404)
def _(c, server):
    return c.get("/ServiceProviderConfig").status_code


@case("discovery-etag-claimed-not-sent", correct=(True, True), faulty=(True, False))
def _(c, server):
    user = new_user(c)
    supported = c.get("/ServiceProviderConfig").json()["etag"]["supported"]
    return supported, "etag" in c.get(f"/Users/{user['id']}").headers


@case("discovery-spc-wrong-schema", correct=(True, True), faulty=(False, False))
def _(c, server):
    body = c.get("/ServiceProviderConfig").json()
    return body["schemas"] == [SPC_URN], "bulk" in body


@case("discovery-patch-unadvertised", correct=(True, 200), faulty=(False, 200))
def _(c, server):
    user = new_user(c)
    advertised = c.get("/ServiceProviderConfig").json()["patch"]["supported"]
    return advertised, patch(c, user["id"], replace("displayName", "Patchable")).status_code


@case("discovery-schemas-incomplete", correct=True, faulty=False)
def _(c, server):
    return ENTERPRISE_USER in [r["id"] for r in c.get("/Schemas").json()["Resources"]]


@case("discovery-schemas-bare-array", correct=("dict", "dict"), faulty=("list", "list"))
def _(c, server):
    return type(c.get("/Schemas").json()).__name__, type(c.get("/ResourceTypes").json()).__name__


@case("discovery-paged", correct=True, faulty=False)
def _(c, server):
    everything = c.get("/Schemas").json()["Resources"]
    return len(c.get("/Schemas", params={"count": 1, "startIndex": 2}).json()["Resources"]) == len(everything)


@case("patch-attributes-204", correct=200, faulty=204)
def _(c, server):
    user = new_user(c)
    return c.patch(f"/Users/{user['id']}?attributes=userName", json=patch_body(replace("nickName", "Pat"))).status_code


# ---- groups ---------------------------------------------------------------------------------

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def group_body(*member_ids: str, **extra) -> dict:
    """A Group body with a fresh, mixed-case displayName and these members."""
    return {"schemas": [GROUP_URN], "displayName": f"Team {uuid.uuid4().hex[:10]} Mixed",
            "members": [{"value": m} for m in member_ids], **extra}


def new_group(c: httpx.Client, *member_ids: str, **extra) -> dict:
    response = c.post("/Groups", json=group_body(*member_ids, **extra))
    assert response.status_code in (200, 201), response.text
    return response.json()


def members_of(c: httpx.Client, group_id: str) -> list[str]:
    return sorted(m["value"] for m in c.get(f"/Groups/{group_id}").json().get("members", []))


def patch_group(c: httpx.Client, group_id: str, *operations: dict) -> httpx.Response:
    return c.patch(f"/Groups/{group_id}", json=patch_body(*operations))


def find_groups(c: httpx.Client, display_name: str, **params) -> httpx.Response:
    return c.get("/Groups", params={"filter": f'displayName eq "{display_name}"', **params})


def groups_found(c: httpx.Client, display_name: str) -> int | None:
    body = json_or_none(find_groups(c, display_name))
    return body.get("totalResults") if isinstance(body, dict) else None


def _member_removal(c: httpx.Client, operation: Callable[[str], dict]) -> tuple[int, int]:
    """A group of two users, then a PATCH with `operation(the first user's id)`: its status, members left."""
    a, b = new_user(c)["id"], new_user(c)["id"]
    group = new_group(c, a, b)
    return patch_group(c, group["id"], operation(a)).status_code, len(members_of(c, group["id"]))


@case("group-create-200", correct=201, faulty=200)
def _(c, server):
    return c.post("/Groups", json=group_body()).status_code


@case("group-duplicates-allowed", correct=(201, 409), faulty=(201, 201))
def _(c, server):
    body = group_body()
    return c.post("/Groups", json=body).status_code, c.post("/Groups", json=body).status_code


@case("group-errors-scim-type-invalid-syntax", correct=("uniqueness", "invalidValue"),
      faulty=("invalidSyntax", "invalidSyntax"))
def _(c, server):
    group = new_group(c)
    duplicate = c.post("/Groups", json={**group_body(), "displayName": group["displayName"]})
    unknown = patch_group(c, group["id"], {"op": "add", "path": "members", "value": [{"value": MISSING_ID}]})
    return duplicate.json().get("scimType"), unknown.json().get("scimType")


@case("group-filter-case-sensitive", correct=(1, 1), faulty=(1, 0))
def _(c, server):
    name = new_group(c)["displayName"]
    return groups_found(c, name), groups_found(c, name.upper())


@case("group-filter-ignored", correct=1, faulty=lambda total: total > 1)
def _(c, server):
    group, _ = new_group(c), new_group(c)
    return groups_found(c, group["displayName"])


@case("group-get-name-truncated", correct=(True, True), faulty=(True, False))
def _(c, server):
    group = new_group(c)
    return len(group["displayName"]) > 20, c.get(f"/Groups/{group['id']}").json()["displayName"] == group["displayName"]


@case("group-total-off-by-one", correct=0, faulty=1)
def _(c, server):
    """totalResults less the groups a walk in pages of 100 finds."""
    new_group(c)
    total, seen, start = c.get("/Groups", params={"count": 1}).json()["totalResults"], 0, 1
    while page := c.get("/Groups", params={"startIndex": start, "count": 100}).json()["Resources"]:
        seen, start = seen + len(page), start + len(page)
    return total - seen


@case("group-list-numbers-as-strings", correct=(int, int, int), faulty=(str, str, str))
def _(c, server):
    new_group(c)
    body = c.get("/Groups", params={"count": 1}).json()
    return type(body["totalResults"]), type(body["startIndex"]), type(body["itemsPerPage"])


@case("group-schemas-missing", correct=(True, True, True), faulty=(False, False, True))
def _(c, server):
    group = new_group(c)
    listed = c.get("/Groups", params={"count": 1}).json()
    return "schemas" in group, "schemas" in listed["Resources"][0], "schemas" in listed


@case("group-add-ignored", correct=(204, 2), faulty=(204, 0))
def _(c, server):
    group = new_group(c)
    added = patch_group(c, group["id"], {"op": "add", "path": "members",
                                         "value": [{"value": new_user(c)["id"]}, {"value": new_user(c)["id"]}]})
    return added.status_code, len(members_of(c, group["id"]))


@case("group-remove-filter-ignored", correct=(204, 1), faulty=(204, 2))
def _(c, server):
    return _member_removal(c, lambda user_id: {"op": "remove", "path": f'members[value eq "{user_id}"]'})


@case("group-remove-value-ignored", correct=(204, 1), faulty=(204, 2))
def _(c, server):
    return _member_removal(c, lambda user_id: {"op": "Remove", "path": "members", "value": [{"value": user_id}]})


@case("group-remove-value-removes-all", correct=(204, 1), faulty=(204, 0))
def _(c, server):
    return _member_removal(c, lambda user_id: {"op": "remove", "path": "members", "value": [{"value": user_id}]})


@case("group-put-keeps-members", correct=(200, "b"), faulty=(200, "a"))
def _(c, server):
    """A PUT of the group with member b only, on a group of member a."""
    a, b = new_user(c)["id"], new_user(c)["id"]
    group = new_group(c, a)
    put = c.put(f"/Groups/{group['id']}", json={**group_body(b), "displayName": group["displayName"]})
    return put.status_code, "".join({a: "a", b: "b"}[m] for m in members_of(c, group["id"]))


@case("group-pathless-replace-clears-members", correct=(204, True, 1), faulty=(204, True, 0))
def _(c, server):
    """Okta's rename: a path-less replace of id and displayName."""
    group = new_group(c, new_user(c)["id"])
    renamed = f"{group['displayName']} renamed"
    answer = patch_group(c, group["id"], {"op": "replace", "value": {"id": group["id"], "displayName": renamed}})
    read = c.get(f"/Groups/{group['id']}").json()
    return answer.status_code, read["displayName"] == renamed, len(read.get("members", []))


@case("group-rename-ignored", correct=(204, True, 204, True), faulty=(204, False, 204, False))
def _(c, server):
    """Entra's rename (Replace of displayName), then Okta's (path-less replace of id and displayName)."""
    group, seen = new_group(c), []
    one, two = f"{group['displayName']} one", f"{group['displayName']} two"
    for name, operation in ((one, {"op": "Replace", "path": "displayName", "value": one}),
                            (two, {"op": "replace", "value": {"id": group["id"], "displayName": two}})):
        seen += [patch_group(c, group["id"], operation).status_code,
                 c.get(f"/Groups/{group['id']}").json()["displayName"] == name]
    return tuple(seen)


@case("group-unknown-member-stored", correct=(400, 1), faulty=(204, 2))
def _(c, server):
    group = new_group(c, new_user(c)["id"])
    added = patch_group(c, group["id"], {"op": "add", "path": "members", "value": [{"value": MISSING_ID}]})
    return added.status_code, len(members_of(c, group["id"]))


@case("group-guest-member-accepted", correct=(400, False), faulty=(204, True))
def _(c, server):
    guest = server.tenant.guests[0]
    group = new_group(c, new_user(c)["id"])
    added = patch_group(c, group["id"], {"op": "add", "path": "members", "value": [{"value": guest.id}]})
    return added.status_code, guest.id in members_of(c, group["id"])


@case("user-groups-missing", correct=True, faulty=False)
def _(c, server):
    user = new_user(c)
    group = new_group(c, user["id"])
    return group["id"] in [g["value"] for g in c.get(f"/Users/{user['id']}").json().get("groups", [])]


@case("group-delete-soft", correct=(204, 404), faulty=(204, 200))
def _(c, server):
    group = new_group(c)
    return c.delete(f"/Groups/{group['id']}").status_code, c.get(f"/Groups/{group['id']}").status_code


@case("group-keeps-deleted-members", correct=(204, 1), faulty=(204, 2))
def _(c, server):
    a, b = new_user(c)["id"], new_user(c)["id"]
    group = new_group(c, a, b)
    return c.delete(f"/Users/{a}").status_code, len(members_of(c, group["id"]))


@case("group-members-capped", correct=101, faulty=100)
def _(c, server):
    group = new_group(c, *[new_user(c)["id"] for _ in range(101)])
    return len(members_of(c, group["id"]))


@case("group-exclude-members-ignored", correct=(False, False), faulty=(True, True))
def _(c, server):
    group = new_group(c, new_user(c)["id"])
    read = c.get(f"/Groups/{group['id']}", params={"excludedAttributes": "members"}).json()
    found = find_groups(c, group["displayName"], excludedAttributes="members").json()["Resources"]
    return "members" in read, "members" in found[0]


@case("group-unknown-schema-refused", correct=(201, 201), faulty=(400, 201))
def _(c, server):
    """Entra's create with its ADSCIM Group URI; the core schema alone is still created."""
    adscim = c.post("/Groups", json=group_body(schemas=[GROUP_URN, ADSCIM_GROUP]))
    return adscim.status_code, c.post("/Groups", json=group_body()).status_code


# ---- an IdP-like flow that no fault may answer with a 5xx ----------------------------------

# The flow steps where a fault's description claims a 500.
CLAIMED_500 = {"filter-invalid-500": {"invalid filter"}, "errors-malformed-json-500": {"malformed body"}}


def smoke_flow(c: httpx.Client, server: ReferenceServer) -> list[tuple[str, int]]:
    """Okta-, Entra- and OneLogin-shaped requests, tolerant of whatever a fault answers.
    Returns (step, status) for every request."""
    seen: list[tuple[str, int]] = []

    def step(name: str, response: httpx.Response) -> httpx.Response:
        seen.append((name, response.status_code))
        return response

    name = unique_user_name()
    for path in ("/ServiceProviderConfig", "/Schemas"):
        step(f"GET {path}", c.get(path))
    step("probe", c.get(filter_url(f'userName eq "{name}"')))
    step("probe with +", c.get(filter_url(f'userName eq "{name}"', plus=True)))
    body = user_body(name, password="Tr0ub4dor&3", title="Engineer", **{ENTERPRISE_USER: {"department": "R&D"}})
    created = step("create", c.post("/Users", json=body))
    step("duplicate", c.post("/Users", json=body))
    step("create as application/json", c.post("/Users", json=user_body(), headers={"Content-Type": "application/json"}))
    step("foreign domain", c.post("/Users", json=user_body(unique_user_name(domain="gmail.com"))))
    step("list", c.get("/Users"))
    step("page", c.get("/Users?startIndex=2&count=1"))
    step("bad count", c.get("/Users?count=many"))
    step("invalid filter", c.get(filter_url("userName eq")))
    step("malformed body", c.post("/Users", content=b"{not json"))
    user = json_or_none(created) if created.status_code in (200, 201) else None
    uid = user.get("id") if isinstance(user, dict) else None
    guest = server.tenant.guests[0]
    refused = [("GET", "/Users", None), ("GET", "/Users", None), ("GET", "/ServiceProviderConfig", None),
               ("GET", f"/Users/{guest.id}", None), ("POST", "/Users", b"{not json"),
               ("POST", "/Users", user_body(password="x", groups=[]))]
    if uid is not None:
        refused += [("PATCH", f"/Users/{uid}", patch_body({"op": "replace", "value": {"active": False}})),
                    ("DELETE", f"/Users/{uid}", None)]
    with anonymous_client(server) as anonymous, anonymous_client(server, "Bearer wrong") as wrong:
        for i, (method, path, payload) in enumerate(refused):
            kind = "content" if isinstance(payload, bytes) else "json"
            other = (anonymous, wrong)[i % 2]  # no token, a wrong token, in turn
            step(f"unauthenticated {method} {path}", other.request(method, path, **{kind: payload}))
    if uid is not None:
        read = step("get", c.get(f"/Users/{uid}"))
        etag = read.headers.get("etag", "*")
        step("get if-none-match", c.get(f"/Users/{uid}", headers={"If-None-Match": etag}))
        current = json_or_none(read) if read.status_code == 200 else None
        step("put read-modify-write", c.put(f"/Users/{uid}", json={**(current or body), "displayName": "RMW"}))
        step("put active string", c.put(f"/Users/{uid}", json=user_body(name, active="False")))
        step("patch if-match", patch(c, uid, replace("title", "Staff"), **{"If-Match": etag}))
        step("patch entra", patch(c, uid, replace("active", "True", op="Replace"),
                                  replace('emails[type eq "work"].value', name, op="Replace")))
        step("patch okta deactivate", patch(c, uid, {"op": "replace", "value": {"active": False}}))
        step("patch reactivate", patch(c, uid, replace("active", True)))
        step("patch extension", patch(c, uid, replace(f"{ENTERPRISE_USER}:department", "Ops")))
        step("delete", c.delete(f"/Users/{uid}"))
        step("delete again", c.delete(f"/Users/{uid}"))
    step("get guest", c.get(f"/Users/{guest.id}"))
    step("patch guest", patch(c, guest.id, replace("displayName", "G")))
    step("unknown id", c.get(f"/Users/{MISSING_ID}"))
    return seen


def assert_unauthenticated_refused(seen: list[tuple[str, int]]) -> None:
    """Every unauthenticated request answered 401, and the PATCH/DELETE tried did nothing."""
    refused = [(step, status) for step, status in seen if step.startswith("unauthenticated")]
    assert refused and all(status == 401 for _, status in refused), refused
    assert dict(seen).get("get", 200) == 200, seen


def assert_no_unclaimed_5xx(fault: str | None, seen: list[tuple[str, int]]) -> None:
    claimed = CLAIMED_500.get(fault or "", set())
    unclaimed = [(step, status) for step, status in seen
                 if status >= 500 and step not in claimed]
    assert not unclaimed, f"{fault}: unclaimed server errors {unclaimed}"


# ---- the tests ------------------------------------------------------------------------------

def test_every_fault_has_a_scenario():
    assert sorted(SCENARIOS) == sorted(FAULTS)


def test_every_capability_has_at_least_two_faults():
    for capability in CAPABILITIES:
        names = [f.name for f in FAULTS.values() if f.capability == capability]
        assert len(names) >= 2, (capability, names)
    assert {f.capability for f in FAULTS.values()} <= set(CAPABILITIES)


def test_every_fault_is_described():
    for fault in FAULTS.values():
        assert fault.description and fault.description.endswith((".", ")")), fault.name
        assert fault.name == fault.name.lower() and " " not in fault.name, fault.name


def test_unknown_fault_is_a_key_error():
    with pytest.raises(KeyError, match="nope"):
        layers_for(["nope"])
    with pytest.raises(KeyError, match="nope"):
        layers_for(["delete-soft", "nope"])


def test_layers_are_fresh_per_server():
    first, second = layers_for(["paging-unstable-order"]), layers_for(["paging-unstable-order"])
    assert first[0] is not second[0]


def test_list_faults_cli_lists_every_fault():
    result = subprocess.run([sys.executable, "-m", "scimcert.reference", "--list-faults"],
                            capture_output=True, text=True, timeout=60, check=True)
    listed = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert listed == {f.name: f.capability for f in FAULTS.values()}


@pytest.fixture(scope="module")
def correct(server):
    """A client of the module's correct server, kept for every scenario."""
    with scim_client(server) as c:
        yield c


def test_smoke_flow_on_the_correct_server(server, correct):
    seen = smoke_flow(correct, server)
    assert_no_unclaimed_5xx(None, seen)
    assert_unauthenticated_refused(seen)
    statuses = dict(seen)
    assert statuses["invalid filter"] == 400 and statuses["malformed body"] == 400


@pytest.fixture(scope="module")
def started(tenant):
    """`started(*faults)`: a running faulty server, stopped in the background after the test
    (uvicorn takes ~0.15 s to stop, more than the scenario itself)."""
    with ThreadPoolExecutor(max_workers=4) as stopper:
        @contextlib.contextmanager
        def start(*names: str):
            running = faulty_server(tenant, *names).start()
            try:
                yield running
            finally:
                stopper.submit(running.stop)
        yield start


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_changes_behaviour(name: str, server: ReferenceServer, correct: httpx.Client, started):
    scenario = SCENARIOS.get(name)
    assert scenario is not None, f"fault {name} has no scenario in tests/test_reference_faults.py"
    expected = scenario.scenario(correct, server)
    assert matches(expected, scenario.correct), f"{name}: the correct server gave {expected!r}"
    with started(name) as faulty, scim_client(faulty) as c:
        observed = scenario.scenario(c, faulty)
        assert matches(observed, scenario.faulty), f"{name}: the faulty server gave {observed!r}"
        assert observed != expected
        seen = smoke_flow(c, faulty)
    assert_no_unclaimed_5xx(name, seen)
    if FAULTS[name].capability != "token":  # only token faults may let anyone in
        assert_unauthenticated_refused(seen)


# Faults that keep a shared generator or replace the store: hammer them from several clients.
@pytest.mark.parametrize("name", ["paging-unstable-order", "create-duplicate-allowed", "filter-username-case-sensitive",
                                  "guests-listed"])
def test_fault_is_safe_under_concurrent_requests(name: str, started):
    with started(name) as faulty:
        def run(_: int) -> list[tuple[str, int]]:
            with scim_client(faulty) as c:
                return smoke_flow(c, faulty)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for seen in pool.map(run, range(4)):
                assert_no_unclaimed_5xx(name, seen)


def test_duplicates_stay_consistent_under_concurrent_creates(started):
    """create-duplicate-allowed: concurrent creates of one userName all succeed, and every copy
    is listed, readable and deletable."""
    with started("create-duplicate-allowed") as faulty:
        body = user_body()

        def create(_: int) -> int:
            with scim_client(faulty) as c:
                return c.post("/Users", json=body).status_code
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(create, range(8))) == [201] * 8
        with scim_client(faulty) as c:
            found = list_users(c, f'userName eq "{body["userName"]}"').json()
            assert found["totalResults"] == 8 and len({u["id"] for u in found["Resources"]}) == 8
            walked = [list_users(c, startIndex=i, count=1).json()["Resources"][0]["id"] for i in range(1, 10)]
            assert len(set(walked)) == 9  # Ada and the eight copies, each once
            assert [c.delete(f"/Users/{u['id']}").status_code for u in found["Resources"]] == [204] * 8
            assert list_users(c).json()["totalResults"] == 1


def test_guests_listed_pages_hold_every_guest_and_user_once(started, tenant: Tenant):
    with started("guests-listed") as faulty, scim_client(faulty) as c:
        for _ in range(3):
            create_user(c)
        pages = [list_users(c, startIndex=i, count=2).json() for i in (1, 3, 5, 7)]
        ids = [u["id"] for page in pages for u in page["Resources"]]
        assert ids[:2] == [g.id for g in tenant.guests]
        assert len(ids) == len(set(ids)) == 6  # two guests, Ada, three new users
        assert {page["totalResults"] for page in pages} == {6}
        assert [page["startIndex"] for page in pages] == [1, 3, 5, 7]


# ---- the layer machinery --------------------------------------------------------------------

def test_oversized_bodies_reach_the_servers_limit_through_a_fault(started, tenant: Tenant):
    """A Rewrite does not buffer past the body limit: the server answers 413, and the fault still
    rewrites that answer."""
    big = b'{"userName": "' + b"x" * tenant.options.maxBodyBytes + b'@example.com"}'
    with started("errors-status-integer") as faulty, scim_client(faulty) as c:
        declared = c.post("/Users", content=big)
        streamed = c.post("/Users", content=iter([big[:4096], big[4096:]]))  # chunked, no Content-Length
        for response in (declared, streamed):
            assert response.status_code == 413 and response.json()["status"] == 413, response.text
        assert c.get("/Users").status_code == 200


def test_a_crash_behind_a_fault_still_answers_the_servers_scim_500(tenant: Tenant, capfd):
    def on_fire(user_id: str) -> dict:
        raise RuntimeError("the store is on fire")

    crash = Rewrite(adjust=lambda state: setattr(state.store, "get", on_fire))
    with ReferenceServer(tenant, layers=[*layers_for(["responses-application-json"]), crash]) as running:
        with scim_client(running) as c:
            response = c.get(f"/Users/{MISSING_ID}")
            assert response.status_code == 500 and media_type(response) == "application/json"
            assert response.json()["schemas"] == [ERROR_URN]
        with scim_client(running) as fresh:  # uvicorn closes a connection whose app raised, fault or not
            assert fresh.get("/Users").status_code == 200
    assert "the store is on fire" in capfd.readouterr().err  # still logged, as without the fault
