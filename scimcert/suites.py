"""Small helpers the checks in suites/ share: safe reads of whatever a target answered."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .client import Exchange, HeldInterrupts
from .data import NewUser
from .profiles import profiles
from .resources import USER, ResourceType
from .roundtrip import changed

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# Variants of createUser/updateUser/createGroup that carry an IdP's template artefacts rather than its working shape:
# each is judged (at SHOULD level) by the requirement named here, not by the checks of the working shape.
TOLERANCE = {
    "observed": "create.legacy-urns",              # OneLogin's default v2 template: urn:scim:schemas:core:2.0
    "emails-object": "create.emails-object",       # OneLogin: emails as one object
    "keepnet": "create.template-artefacts",        # OneLogin: "active": "true", "id": null, meta, managerId
    "empty-strings": "create.template-artefacts",  # OneLogin: unmapped parameters as ""
    "untrimmed": "create.template-artefacts",      # OneLogin: " User 01"
    "legacy": "create.template-artefacts",         # Entra: nulls and the misspelt enterprise URN
    "adscim": "groups.extra-schema-uri",           # Entra: Microsoft's ADSCIM URN in a group create
}


def dig(value: Any, *path: str | int) -> Any:
    """value[path[0]][path[1]]..., or None where anything is missing or of the wrong shape."""
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and -len(value) <= key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def list_of(answer: Exchange) -> dict | None:
    """The ListResponse body of an answer, or None when it is not a JSON object."""
    body = answer.json
    return body if isinstance(body, dict) else None


def resources(answer: Exchange) -> list[dict]:
    found = dig(answer.json, "Resources")
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


PAGING = ("totalResults", "startIndex", "itemsPerPage")


def integer_paging(body: dict, required: Sequence[str] = PAGING) -> bool:
    """Whether a ListResponse's paging numbers are JSON integers: those `required` present, and any other of
    them present (not null) too."""
    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)
    return (all(integer(body.get(k)) for k in required)
            and all(integer(body[k]) for k in PAGING if body.get(k) is not None))


def is_scim_error(answer: Exchange) -> bool:
    return ERROR in (dig(answer.json, "schemas") or [])


def judge_scim_type(verdict, answer: Exchange, keyword: str) -> None:
    """errors.scim-type: an error that names a scimType (OPTIONAL, RFC 7644 §3.12) names `keyword`; an error
    without one is not judged, since it may leave it out."""
    given = dig(answer.json, "scimType") if is_scim_error(answer) else None
    if given is not None:
        verdict.check("errors.scim-type", given == keyword, f"the error's scimType is {keyword}",
                      expected=keyword, actual=given, exchange=answer)


ROUND_TRIP_FINDINGS = 20  # attributes named one by one; the rest are counted in the last finding


def judge_round_trip(verdict, requirement: str, sent: Any, read: Exchange, *, skip: set[str] = frozenset()) -> None:
    """`requirement`: every attribute the body `sent` carried comes back in `read` (the user read back) as
    sent (scimcert.roundtrip); each one dropped or rewritten is a finding of its own, naming its path.
    `skip`: dotted paths another requirement judges already (userName, name.givenName, ...)."""
    found = [c for c in changed(sent, read.json) if c.partition(":")[0] not in skip]
    if not found:
        verdict.check(requirement, True, "every attribute sent comes back as sent", exchange=read)
    for difference in found[:ROUND_TRIP_FINDINGS]:
        verdict.check(requirement, False, f"{difference.partition(':')[0]} does not come back as sent",
                      expected="the value sent", actual=difference, exchange=read)
    if len(found) > ROUND_TRIP_FINDINGS:
        verdict.check(requirement, False, f"{len(found) - ROUND_TRIP_FINDINGS} more attributes do not come back",
                      actual=found[ROUND_TRIP_FINDINGS:], exchange=read)


def refused_operations(client, request) -> list[str]:
    """The operations of a PATCH the target refused, each sent again alone (the same step, headers and
    schemas): those it still refuses, as "op path: status scimType detail", so a finding can name the
    operation instead of only the status of the whole request. Empty when every operation alone succeeds
    (the combination was refused) or the request is not a multi-operation PATCH."""
    operations = dig(request.body, "Operations")
    if request.method != "PATCH" or not isinstance(operations, list) or len(operations) < 2:
        return []
    refused = []
    for number, operation in enumerate(operations, 1):
        alone = dataclasses.replace(request, body={**request.body, "Operations": [operation]},
                                    step=f"{request.step} (operation {number} alone)")
        answer = client.send(alone)
        if answer.status not in request.accepts:
            said = " ".join(str(dig(answer.json, k)) for k in ("scimType", "detail") if dig(answer.json, k))
            refused.append(f"{dig(operation, 'op')} {dig(operation, 'path') or '(no path)'}: "
                           f"{answer.status or answer.error}{' ' + said if said else ''}")
    return refused


def given_user(client, idp, users, *, domain: str | None = None, variant: str = "default", **values: Any):
    """A fresh user created the way the IdP creates one: (NewUser, its id).

    This is a precondition, not a verdict: when the target cannot create a user, the check is
    skipped with the reason (create.created-201 judges creation), so one broken create does not
    turn every other capability red. In read-only mode (a production tenant) an existing user is
    borrowed instead, so the checks that only read (import, filter) still run.
    """
    if client.read_only and domain is None and not values:
        return borrowed_user(client, users)
    new = users.new(domain)
    request = idp.request("createUser", variant, **values_for(new, **values))
    answer = client.send(request)
    user_id = answer.created_id
    if answer.status not in request.accepts or user_id is None:
        pytest.skip(f"precondition failed: {idp.name}'s create request answered "
                    f"{answer.status or answer.error} (judged by create.created-201)")
    return new, user_id


def is_endpoint(client, endpoint: object, resource_type: ResourceType = USER) -> bool:
    """A resource type's endpoint naming `resource_type`'s (/Users): "Users", "/Users", or any reference
    resolving to the base URL's /Users (RFC 7643 §6: «relative to the Base URL»; §2.3.7)."""
    text = str(endpoint or "").rstrip("/")
    return text.lstrip("/") == resource_type.endpoint or client.resolve(text) == client.base_url + resource_type.path()


def resource_types(client, discovered: dict) -> Exchange:
    """The GET /ResourceTypes answer, read once per run: a 200 answer is kept in the session's `discovered`."""
    answer = discovered.get("ResourceTypes")
    if answer is None:
        answer = client.raw("GET", "/ResourceTypes", label="RFC GET /ResourceTypes")
        if answer.status == 200:
            discovered["ResourceTypes"] = answer
    return answer


def user_resource_type(client, discovered: dict):
    """(the schema URIs GET /ResourceTypes declares for the User resource type: its schema and schemaExtensions,
    or None when it lists no resource type at the Users endpoint; the answer). Read once per run: a 200 answer
    is kept in the session's `discovered`."""
    answer = resource_types(client, discovered)
    for resource_type in resources(answer):
        if is_endpoint(client, resource_type.get("endpoint")):
            extensions = resource_type.get("schemaExtensions")
            named = [resource_type.get("schema"),
                     *(dig(e, "schema") for e in (extensions if isinstance(extensions, list) else []))]
            return [urn for urn in named if isinstance(urn, str)], answer
    return None, answer


def returned_always(client, discovered: dict) -> set[str]:
    """The core User attributes GET /Schemas declares «returned: "always"» (RFC 7643 §7), lower-cased; read once
    per run (kept in the session's `discovered`). Empty where /Schemas does not say."""
    answer = discovered.get("Schemas")
    if answer is None:
        answer = client.raw("GET", "/Schemas", label="RFC GET /Schemas")
        if answer.status == 200:
            discovered["Schemas"] = answer
    user = next((s for s in resources(answer) if isinstance(s, dict) and s.get("id") == CORE_USER), {})
    attributes = user.get("attributes") if isinstance(user.get("attributes"), list) else []
    return {str(a.get("name")).lower() for a in attributes if isinstance(a, dict) and a.get("returned") == "always"}


def needs_extension(client, discovered: dict, urn: str) -> None:
    """Skip the check when GET /ResourceTypes names a User resource type without the schema extension `urn`:
    a server is «free to alter and/or ignore POSTed content» it does not support (RFC 7644 §3.3,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.3). A target with no User resource type there is judged."""
    declared, _ = user_resource_type(client, discovered)
    if declared is not None and urn.lower() not in {u.lower() for u in declared}:
        pytest.skip(f"the target does not declare the extension {urn} for Users (GET /ResourceTypes): "
                    "nothing it must store")


def rfc_body(new: NewUser, *, omit: tuple[str, ...] = (), **extra: Any) -> dict:
    """The body of an RFC POST /Users for `new`: core schema, userName, displayName, active, name and one work
    email; `extra` added, `omit` left out."""
    body = {"schemas": [CORE_USER], "userName": new.userName, "displayName": new.displayName, "active": True,
            "name": {"givenName": new.givenName, "familyName": new.familyName},
            "emails": [{"value": new.email, "type": "work", "primary": True}], **extra}
    return {key: value for key, value in body.items() if key not in omit}


def read_back(client, user_id: str) -> dict:
    """The user as an RFC GET /Users/{id} shows it; a precondition: skips when it cannot be read."""
    read = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    if read.status != 200 or not isinstance(read.json, dict):
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {read.status or read.error}")
    return read.json


def rfc_user(client, users, *, omit: tuple[str, ...] = (), **extra: Any):
    """A user created by an RFC POST /Users (no IdP's template), for the RFC probes: (NewUser, its id, the
    body sent: rfc_body). A precondition like given_user: skips when the target cannot create it."""
    new = users.new()
    body = rfc_body(new, omit=omit, **extra)
    created = client.raw("POST", "/Users", label="RFC POST /Users", body=body)
    if created.status != 201 or created.created_id is None:
        pytest.skip(f"precondition failed: POST /Users answered {created.status or created.error} "
                    "(judged by create.created-201)")
    return new, created.created_id, body


def rfc_users(client, users, count: int, *, at_once: int = 8) -> list[str]:
    """The ids of `count` users created by RFC POST /Users, `at_once` on the wire together (no IdP sends these
    in a sequence, so they need not wait for each other). A precondition like rfc_user: skips when one is not
    created. Ctrl-C and SIGTERM wait until every create has its answer (HeldInterrupts), so no user the target
    made escapes the cleanup."""
    bodies = [rfc_body(users.new()) for _ in range(count)]  # in order: the test data stays seeded
    with HeldInterrupts(), ThreadPoolExecutor(max_workers=at_once) as pool:
        created = list(pool.map(lambda body: client.raw("POST", "/Users", body=body, label="RFC POST /Users"), bodies))
    refused = next((answer for answer in created if answer.status != 201 or answer.created_id is None), None)
    if refused is not None:
        pytest.skip(f"precondition failed: POST /Users answered {refused.status or refused.error} "
                    "(judged by create.created-201)")
    return [answer.created_id for answer in created]


def rfc_patch(client, user_id: str, body: Any, label: str, query: str = ""):
    """An RFC PATCH /Users/{id} probe; the check is skipped when the target answers 501 Not Implemented:
    PATCH is OPTIONAL (RFC 7644 §3.5.2) and 501 is how a server says so (§3.12 Table 8: «Service provider
    does not support the request operation, e.g., PATCH»). Whether its ServiceProviderConfig says the same is
    judged by discovery.patch-advertised; an IdP that sends PATCH (Entra, Okta OIN) judges it in its own checks."""
    answer = client.raw("PATCH", f"/Users/{user_id}", query=query, body=body, label=label)
    if answer.status == 501:
        pytest.skip("the target does not implement PATCH (it answered 501): this RFC PATCH probe has nothing to "
                    "judge (judged by discovery.patch-advertised and by the IdPs' PATCH checks)")
    return answer


def borrowed_user(client, users):
    """An existing user of the tenant (NewUser, its id), a different one on each call of a check; skips
    when the tenant has no more users. Read-only mode: nothing is created, nothing is changed."""
    users.count += 1
    answer = client.raw("GET", "/Users", query=f"startIndex={users.count}&count=1", label="an existing user (read-only)")
    found = resources(answer)
    user_id, user_name = dig(found, 0, "id"), dig(found, 0, "userName")
    if not isinstance(user_id, str) or not isinstance(user_name, str):
        pytest.skip(f"read-only mode: the check needs {users.count} existing user(s) and the tenant lists "
                    f"{'fewer' if answer.status == 200 else f'none (GET /Users answered {answer.status or answer.error})'}")
    return NewUser(userName=user_name, givenName=dig(found, 0, "name", "givenName") or "",
                   familyName=dig(found, 0, "name", "familyName") or "",
                   externalId=dig(found, 0, "externalId") or "", password=""), user_id


def current(client, idp, user_id: str) -> dict:
    """The user as the IdP reads it before a read-modify-write (its getUser step); skips when unreadable."""
    answer = client.send(idp.request("getUser", id=user_id))
    if answer.status != 200 or not isinstance(answer.json, dict):
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {answer.status or answer.error}")
    return answer.json


def needs(idp, step: str, shape: str | None = None) -> None:
    """Skip the check when the IdP never sends `step` (or this variant of it), with the profile's reason."""
    if not idp.has(step):
        pytest.skip(idp.lacks_reason(step))
    if shape is not None and shape not in idp.variants(step):
        pytest.skip(f"{idp.name} has no '{shape}' variant of {step}")


# Flat values a check may ask a write to apply, and where each lives in a SCIM User.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "userName": ("userName",), "givenName": ("name", "givenName"), "familyName": ("name", "familyName"),
    "displayName": ("displayName",), "title": ("title",), "nickName": ("nickName",),
    "department": (ENTERPRISE, "department"), "active": ("active",), "externalId": ("externalId",),
}


def changes_for(**wanted: Any) -> dict:
    """The SCIM form of the attributes among `wanted` (flat values): {"name": {"givenName": ...},
    "title": ..., "emails": [the one work email], ...}; names that are not attributes are left out."""
    changes: dict = {}
    for name, value in wanted.items():
        if name == "email":
            changes["emails"] = [{"value": value, "type": "work", "primary": True}]
        elif name in ATTRIBUTES:
            *parents, leaf = ATTRIBUTES[name]
            node = changes
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
    return changes


def merged(body: Any, changes: dict) -> dict:
    """`body` (a user as read) with `changes` applied: objects merged member by member, anything else replaced."""
    out = dict(body) if isinstance(body, dict) else {}
    for key, value in changes.items():
        out[key] = merged(out.get(key), value) if isinstance(value, dict) else value
    return out


def values_for(new: NewUser, **wanted: Any) -> dict:
    """The standard value set every profile step is rendered with (docs/writing-checks.md):

    `new`'s values (userName, givenName, familyName, email, displayName, externalId, password) and
    active true, overridden by `wanted` (flat names: the values the check wants to see afterwards, e.g.
    title, givenName, email, department, active; and id, managerId, probe, startIndex, ...), plus
    `changes`, the SCIM form of what `wanted` sets (for path-less PATCH steps). Steps whose body is
    "{current}" also need `current`: write_request adds it.
    """
    return {**new.values(), "active": True, **wanted, "changes": changes_for(**wanted)}


def write_request(client, idp, step: str, new: NewUser, user_id: str, variant: str = "default", **wanted: Any):
    """The IdP's write `step` (variant) of user `user_id` (created from `new`) applying `wanted`, as the
    IdP sends it: a template step (OneLogin's PUT, Entra's PATCH) renders the values; a path-less PATCH
    takes `changes` as its value (or ignores them when its body is fixed, like Okta's deactivation); a
    read-modify-write step (a "{current}" body, Okta AIW's PUT) first reads the user with the IdP's
    getUser step and sends it back with the changes applied.
    """
    values = values_for(new, id=user_id, **wanted)
    if "current" in idp.placeholders(step, variant):
        values["current"] = merged(current(client, idp, user_id), values["changes"])
    return idp.request(step, variant, **values)


def found_nobody(answer: Exchange, request) -> bool:
    """Whether a lookup answered 'no such user' the way the IdP reads it: 200 with no resource, or 404
    where the IdP accepts it (OneLogin)."""
    if answer.status == 404:
        return 404 in request.accepts
    return answer.status == 200 and not resources(answer)


def named(answer: Exchange, user_name: str) -> list[dict]:
    """The resources of a list answer whose userName is `user_name` (compared case-insensitively)."""
    return [r for r in resources(answer)
            if isinstance(r.get("userName"), str) and r["userName"].casefold() == user_name.casefold()]


def number(value: Any) -> int | None:
    """A count as a target wrote it: a JSON integer, or a string of digits ("3"); None otherwise.

    Lenient on purpose, so a string-typed count is judged once (import.paging-integers), not by every
    check that compares counts.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def step_variants(step: str, *, tolerance: bool = False) -> list[str]:
    """Every variant any profile has for `step`, to parametrize a check over the shapes IdPs send
    (Okta deactivateUser: default = OIN path-less PATCH, put = AIW PUT). Skip per IdP with `idp.variants`.
    Template-artefact variants (TOLERANCE) are left out unless `tolerance`."""
    found: list[str] = []
    for profile in profiles().values():
        if profile.has(step):
            found += [v for v in profile.variants(step) if v not in found and (tolerance or v not in TOLERANCE)]
    return found


def variant_params(step: str, *, tolerance: bool = False, marks: Any = ()) -> list:
    """step_variants(step) as pytest parameters marked `variant_of(step, name)`: suites/conftest.py keeps,
    per IdP, only the variants that IdP has (and one item, which skips with the profile's reason, for an
    IdP that lacks the step). `marks(name)` may add marks per variant."""
    return [pytest.param(v, id=v, marks=[pytest.mark.variant_of(step, v), *(marks(v) if callable(marks) else marks)])
            for v in step_variants(step, tolerance=tolerance) if not tolerance or v in TOLERANCE]


def shape(request) -> str:
    """How a rendered update writes: "put" (a whole user), "patch-pathless" (one path-less replace, Okta
    OIN and Entra aadOptscim062020) or "patch-operations" (operations with paths, Entra's default)."""
    if request.method != "PATCH":
        return "put"
    ops = dig(request.body, "Operations")
    return "patch-pathless" if isinstance(ops, list) and all(isinstance(o, dict) and "path" not in o for o in ops) \
        else "patch-operations"
