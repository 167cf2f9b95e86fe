"""Update checks: the IdP's profile push (read-modify-write PUT, path-less PATCH), emptied values, unknown ids."""

from __future__ import annotations

import copy
import uuid

import pytest

from scimcert.suites import current, dig, given_user, is_scim_error

TITLE = "Senior Solutions Engineer"


def _patch_variant(idp) -> None:
    if "patch" not in idp.variants("updateUser"):
        pytest.skip(f"{idp.name} sends no PATCH for profile updates")


def _other_given_name(users, given: str) -> str:
    """A realistic given name different from `given` (the change an admin makes in the IdP)."""
    other = users.new().givenName
    return other if other != given else f"{other}-Marie"


def _visible(verdict, requirement: str, read, changes: dict[tuple[str, ...], object]) -> None:
    """Findings that a following GET shows each changed value."""
    verdict.require(requirement, read.status == 200, "the updated user is readable by id",
                    expected=200, actual=read.status or read.error, exchange=read)
    for path, value in changes.items():
        verdict.check(requirement, dig(read.json, *path) == value, f"GET shows the new {'.'.join(path)}",
                      expected=value, actual=dig(read.json, *path), exchange=read)


@pytest.mark.requirement("update.put-replace")
def test_put_replace(idp, client, verdict, users):
    """Creates a user, then sends the IdP's profile push (Okta AIW: GET, then PUT of the whole GET body,
    id and meta included, with name.givenName and title changed), then reads the user back.

    Verifies: the PUT answers 200 and the change is visible on GET (okta.md §5.1, RFC 7644 §3.5.1).
    """
    new, user_id = given_user(client, idp, users)
    body = copy.deepcopy(current(client, idp, user_id))
    given = _other_given_name(users, new.givenName)
    body["name"] = {**(body["name"] if isinstance(body.get("name"), dict) else {}), "givenName": given}
    body["title"] = TITLE
    request = idp.request("updateUser", id=user_id, current=body)
    answer = client.send(request)
    verdict.require("update.put-replace", answer.status in request.accepts, "the read-modify-write PUT succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    _visible(verdict, "update.put-replace", client.send(idp.request("getUser", id=user_id)),
             {("name", "givenName"): given, ("name", "familyName"): new.familyName, ("title",): TITLE})


@pytest.mark.requirement("update.patch-replace")
def test_patch_replace(idp, client, verdict, users):
    """Creates a user, then sends the IdP's PATCH profile push (Okta OIN: one path-less replace whose value
    holds the changed attributes, {"title": ..., "name": {"givenName": ...}}), then reads the user back.

    Verifies: 200 or 204, the change visible on GET, and name.familyName (not in the value) left as it
    was (okta.md §5.2, RFC 7644 §3.5.2.3).
    """
    _patch_variant(idp)
    new, user_id = given_user(client, idp, users)
    given = _other_given_name(users, new.givenName)
    request = idp.request("updateUser", "patch", id=user_id, changes={"title": TITLE, "name": {"givenName": given}})
    answer = client.send(request)
    verdict.require("update.patch-replace", answer.status in request.accepts, "the path-less PATCH succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    _visible(verdict, "update.patch-replace", client.send(idp.request("getUser", id=user_id)),
             {("name", "givenName"): given, ("name", "familyName"): new.familyName, ("title",): TITLE})


@pytest.mark.requirement("update.empty-values", "update.put-clears-omitted")
def test_empty_values_pushed(idp, client, verdict, users):
    """Creates a user with a title and a nickName (one PUT), then sends the IdP's profile push after an
    admin erased both: the GET body with "title": "" and nickName left out.

    Verifies: the push answers 200 without an error (okta.md §5.1, OIN test plan C9337), and the erased
    attributes are gone on GET (RFC 7644 §3.5.1 replace semantics).
    """
    _, user_id = given_user(client, idp, users)
    filled = {**current(client, idp, user_id), "title": TITLE, "nickName": "Sam"}
    fill = idp.request("updateUser", id=user_id, current=filled)
    setup = client.send(fill)
    if setup.status not in fill.accepts:
        pytest.skip(f"precondition failed: the PUT giving the user a title answered {setup.status or setup.error} "
                    "(judged by update.put-replace)")
    body = {k: v for k, v in current(client, idp, user_id).items() if str(k).lower() != "nickname"}
    request = idp.request("updateUser", id=user_id, current={**body, "title": ""})
    answer = client.send(request)
    verdict.check("update.empty-values", answer.status in request.accepts and not is_scim_error(answer),
                  "a push of emptied attributes is accepted", expected=request.accepts,
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = client.send(idp.request("getUser", id=user_id))
    for name in ("title", "nickName"):
        verdict.check("update.put-clears-omitted", dig(read.json, name) in (None, ""),
                      f"{name}, erased by the push, is absent or empty on GET",
                      expected="absent or empty", actual=dig(read.json, name), exchange=read)


@pytest.mark.parametrize("method", ["default", "patch"], ids=["put", "patch"])
@pytest.mark.requirement("update.unknown-id-404")
def test_update_unknown_id_not_found(idp, client, verdict, users, method):
    """Sends the IdP's profile push (PUT of a full user body with its id, or the path-less PATCH) to a
    random id that does not exist.

    Verifies: 404 with a SCIM Error body (RFC 7644 §3.12; okta.md §4, §12).
    """
    if method == "patch":
        _patch_variant(idp)
    unknown = str(uuid.uuid4())
    created = idp.request("createUser", **users.new().values()).body
    body = {**{k: v for k, v in created.items() if k != "password"}, "id": unknown, "meta": {"resourceType": "User"}}
    answer = client.send(idp.request("updateUser", method, id=unknown, current=body, changes={"title": TITLE}))
    verdict.check("update.unknown-id-404", answer.status == 404 and is_scim_error(answer),
                  f"an update of the unknown id {unknown} answers 404 with a SCIM Error",
                  expected="404 with a SCIM Error body",
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
