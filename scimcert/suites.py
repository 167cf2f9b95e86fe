"""Small helpers the checks in suites/ share: safe reads of whatever a target answered."""

from __future__ import annotations

from typing import Any

import pytest

from .client import Exchange
from .profiles import ProfileError, profiles

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


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


def integer_paging(body: dict) -> bool:
    return all(isinstance(body.get(k), int) and not isinstance(body.get(k), bool)
               for k in ("totalResults", "startIndex", "itemsPerPage"))


def is_scim_error(answer: Exchange) -> bool:
    return ERROR in (dig(answer.json, "schemas") or [])


def created_id(answer: Exchange) -> str | None:
    """The id of a created user: from the body, else from the Location header."""
    user_id = dig(answer.json, "id")
    if isinstance(user_id, (str, int)) and str(user_id):
        return str(user_id)
    location = answer.header("location")
    return location.rstrip("/").rsplit("/", 1)[-1] if location else None


def given_user(client, idp, users, *, domain: str | None = None, **values: Any):
    """A fresh user created the way the IdP creates one: (NewUser, its id).

    This is a precondition, not a verdict: when the target cannot create a user, the check is
    skipped with the reason (create.created-201 judges creation), so one broken create does not
    turn every other capability red.
    """
    new = users.new(domain)
    request = idp.request("createUser", **{**new.values(), **values})
    answer = client.send(request)
    user_id = created_id(answer)
    if answer.status not in request.accepts or user_id is None:
        pytest.skip(f"precondition failed: {idp.name}'s create request answered "
                    f"{answer.status or answer.error} (judged by create.created-201)")
    return new, user_id


def current(client, idp, user_id: str) -> dict:
    """The user as the IdP reads it before a read-modify-write (its getUser step); skips when unreadable."""
    answer = client.send(idp.request("getUser", id=user_id))
    if answer.status != 200 or not isinstance(answer.json, dict):
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {answer.status or answer.error}")
    return answer.json


def variant(target, step: str) -> str:
    """The profile variant the target configuration chose for a step ('default' unless set)."""
    return target.variants.get(step, "default")


def write_request(client, idp, step: str, user_id: str, changes: dict, variant: str = "default"):
    """The IdP's write `step` (variant) of user `user_id` applying `changes`, as the IdP sends it.

    A path-less PATCH step takes `changes` as its value (or ignores them when its body is fixed, like
    Okta's deactivation); a read-modify-write step (a "{current}" body, e.g. Okta AIW's PUT) first reads
    the user with the IdP's getUser step and sends it back with `changes` applied.
    """
    try:
        return idp.request(step, variant, id=user_id, changes=changes)
    except ProfileError:
        body = {**current(client, idp, user_id), **changes}
        return idp.request(step, variant, id=user_id, changes=changes, current=body)


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


def step_variants(step: str) -> list[str]:
    """Every variant any profile has for `step`, to parametrize a check over the shapes IdPs send
    (Okta deactivateUser: default = OIN path-less PATCH, put = AIW PUT). Skip per IdP with `idp.variants`."""
    found: list[str] = []
    for profile in profiles().values():
        if profile.has(step):
            found += [v for v in profile.variants(step) if v not in found]
    return found
