"""Update checks: the IdPs' profile push in each shape they send (Okta's read-modify-write PUT and path-less
PATCH, OneLogin's PUT of its template, Entra's PATCH operations and aadOptscim062020 replace), emptied and
omitted values, unknown ids, and Entra's single-purpose PATCHes (value-filter paths, order, manager)."""

from __future__ import annotations

import uuid

import pytest

from scimcert.roundtrip import changed, written
from scimcert.suites import (
    ENTERPRISE,
    PATCH_OP,
    current,
    dig,
    given_user,
    is_scim_error,
    judge_round_trip,
    needs,
    needs_extension,
    read_back,
    refused_operations,
    rfc_patch,
    rfc_user,
    shape,
    values_for,
    variant_params,
    write_request,
)

TITLE = "Senior Solutions Engineer"
# Display values a server may derive from the name; a read-modify-write PUT (Okta AIW) sends them as they were read
# before the name changed, so what comes back is not compared with them.
DERIVED = ("name.formatted", "displayName")
SHAPES = {"put": "update.put-replace", "patch-pathless": "update.patch-replace",
          "patch-operations": "update.patch-operations"}


def _other_given_name(users, given: str) -> str:
    """A realistic given name different from `given` (the change an admin makes in the IdP)."""
    other = users.new().givenName
    return other if other != given else f"{other}-Marie"


def _applies(idp, step: str, variant: str, name: str) -> bool:
    """Whether the step's variant carries the value `name` (directly, or through changes/current)."""
    return bool(idp.placeholders(step, variant) & {name, "changes", "current"})


def _emails(user: object) -> list:
    return [dig(e, "value") for e in (dig(user, "emails") or []) if isinstance(e, dict)]


def _visible(verdict, requirement: str, read, changes: dict[tuple[str, ...], object]) -> None:
    """Findings that a following GET shows each changed value."""
    verdict.require(requirement, read.status == 200, "the updated user is readable by id",
                    expected=200, actual=read.status or read.error, exchange=read)
    for path, value in changes.items():
        verdict.check(requirement, dig(read.json, *path) == value, f"GET shows the new {'.'.join(path)}",
                      expected=value, actual=dig(read.json, *path), exchange=read)


@pytest.mark.parametrize("variant", variant_params("updateUser"))
@pytest.mark.requirement(*SHAPES.values(), "update.round-trip")
def test_profile_update(idp, client, verdict, users, variant):
    """Creates a user, then sends the IdP's profile push in this shape with a new given name, title and
    work email (Okta AIW: GET, then PUT of the whole GET body, id and meta included; Okta OIN: one
    path-less replace of {"title", "name": {"givenName"}, "emails"}; OneLogin: PUT /Users/{id}? of its
    whole template; Entra: one capitalised operation per attribute, emails[type eq "work"].value, the
    enterprise URN path and Add title; Entra aadOptscim062020: one path-less replace with dotted and URN
    keys), then reads the user back.

    Verifies: the answer is one the IdP accepts (PUT: 200; PATCH: 200 or 204; a refused multi-operation
    PATCH is sent again one operation at a time, to name the operations refused), GET shows every change
    with name.familyName kept, a multi-valued attribute the update replaces (PUT, replace) holds exactly
    the values sent (RFC 7644 §3.5.1; §3.5.2.3: «the attribute and all values are replaced»), and every
    other attribute sent comes back as sent (update.round-trip, SHOULD) (Okta SCIM 2.0 guide, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/; real OneLogin
    traffic, https://github.com/goauthentik/authentik/issues/11249; Entra, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups and
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility; RFC 7644 §3.5.1, §3.5.2).
    Judged as update.put-replace, update.patch-replace or update.patch-operations by the shape.
    """
    needs(idp, "updateUser", variant)
    new, user_id = given_user(client, idp, users)
    given = _other_given_name(users, new.givenName)
    local, _, domain = new.email.rpartition("@")
    email = f"{local}.work@{domain}"
    request = write_request(client, idp, "updateUser", new, user_id, variant, givenName=given, title=TITLE,
                            email=email)
    requirement = SHAPES[shape(request)]
    for other in SHAPES.values():
        if other != requirement:
            verdict.skip(other, f"{idp.name}'s '{variant}' update is judged as {requirement}")
    answer = client.send(request)
    refused = refused_operations(client, request) if answer.status not in request.accepts else []
    verdict.require(requirement, answer.status in request.accepts, f"the {shape(request)} update succeeds",
                    expected=list(request.accepts), exchange=answer, actual=f"{answer.status or answer.error}"
                    + (f"; sent alone, the target refuses: {'; '.join(refused)}" if refused else ""))
    read = client.send(idp.request("getUser", id=user_id))
    _visible(verdict, requirement, read,
             {("name", "givenName"): given, ("name", "familyName"): new.familyName, ("title",): TITLE})
    if _applies(idp, "updateUser", variant, "email"):
        verdict.check(requirement, email in _emails(read.json), "GET shows the new work email",
                      expected=email, actual=_emails(read.json), exchange=read)
    replaced, added = written(request.method, request.body)
    if any(isinstance(value, list) and value for value in replaced.values()):
        kept = [c for c in changed(replaced, read.json, whole=True) if "is still there" in c]
        verdict.check(requirement, not kept, "each multi-valued attribute the update replaces holds only the "
                      "values sent", expected="only the values sent", actual=kept or "(as sent)", exchange=read)
    judge_round_trip(verdict, "update.round-trip", {**added, **replaced}, read,
                     skip={"name.givenName", "name.familyName", "title", *DERIVED})


@pytest.mark.requirement("update.empty-values", "update.put-clears-omitted")
def test_empty_values_pushed(idp, client, verdict, users):
    """Creates a user with a title and a nickName, then sends the IdP's PUT after an admin erased the
    title: Okta the GET body with "title": "" and nickName left out; OneLogin its template with the
    title parameter rendered as "" (its template never carries nickName, which an RFC PATCH set).

    Verifies: the push answers 200 without an error (Okta OIN test plan C9337, okta-scim-test-plan-v2.xlsx published
    with https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json; OneLogin's unmapped parameters
    rendered as "", inferred from https://developers.onelogin.com/scim/define-user-schema), and the erased or omitted attributes
    are gone on GET (RFC 7644 §3.5.1 replace semantics; OneLogin's template is the whole user,
    https://developers.onelogin.com/scim/define-user-schema).
    """
    needs(idp, "updateUser")
    if idp.spec("updateUser")["method"] != "PUT":
        pytest.skip(f"{idp.name}'s profile update is a PATCH: it never sends a whole user with values left out")
    new, user_id = given_user(client, idp, users)
    read_modify_write = "current" in idp.placeholders("updateUser")
    fill = write_request(client, idp, "updateUser", new, user_id, title=TITLE,
                         **({"nickName": "Sam"} if read_modify_write else {}))
    setup = client.send(fill)
    if setup.status not in fill.accepts:
        pytest.skip(f"precondition failed: the PUT giving the user a title answered {setup.status or setup.error} "
                    "(judged by update.put-replace)")
    if not read_modify_write:  # a value outside the IdP's template, set the RFC way
        nick = client.raw("PATCH", f"/Users/{user_id}", label="RFC PATCH add nickName", body={
            "schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "nickName", "value": "Sam"}]})
        if nick.status not in (200, 204):
            pytest.skip(f"precondition failed: an RFC PATCH of nickName answered {nick.status or nick.error}")
    before = current(client, idp, user_id)
    if (dig(before, "title"), dig(before, "nickName")) != (TITLE, "Sam"):
        pytest.skip(f"precondition failed: after it was given a title and a nickName the user shows title "
                    f"{dig(before, 'title')!r} and nickName {dig(before, 'nickName')!r} (judged by update.put-replace)")
    if read_modify_write:
        body = {k: v for k, v in before.items() if str(k).lower() != "nickname"}
        request = idp.request("updateUser", **values_for(new, id=user_id, title=""), current={**body, "title": ""})
    else:
        request = write_request(client, idp, "updateUser", new, user_id, title="")
    answer = client.send(request)
    verdict.check("update.empty-values", answer.status in request.accepts and not is_scim_error(answer),
                  "a push of emptied attributes is accepted", expected=request.accepts,
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = client.send(idp.request("getUser", id=user_id))
    left_out = "left out of the read-modify-write PUT" if read_modify_write else \
        f"which {idp.name}'s template never sends"
    for name, why in (("title", "erased by the push"), ("nickName", left_out)):
        verdict.check("update.put-clears-omitted", dig(read.json, name) in (None, ""),
                      f"{name}, {why}, is absent or empty on GET" + ("" if dig(read.json, name) in (None, "")
                                                                     else ": the endpoint keeps it"),
                      expected="absent or empty (RFC 7644 §3.5.1)", actual=dig(read.json, name), exchange=read)


@pytest.mark.parametrize("variant", variant_params("updateUser"))
@pytest.mark.requirement("update.unknown-id-404")
def test_update_unknown_id_not_found(idp, client, verdict, users, variant):
    """Sends the IdP's profile push in this shape (a PUT of a full user body with its id, OneLogin's
    template PUT, or a PATCH) to a random id that does not exist.

    Verifies: 404 with a SCIM Error body (RFC 7644 §3.12; Okta reads the user by id before its PUT,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/; Entra,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    needs(idp, "updateUser", variant)
    unknown = str(uuid.uuid4())
    new = users.new()
    created = idp.request("createUser", **values_for(new)).body
    body = {**{k: v for k, v in created.items() if k != "password"}, "id": unknown, "meta": {"resourceType": "User"}}
    answer = client.send(idp.request("updateUser", variant, **values_for(new, id=unknown, title=TITLE), current=body))
    verdict.check("update.unknown-id-404", answer.status == 404 and is_scim_error(answer),
                  f"an update of the unknown id {unknown} answers 404 with a SCIM Error",
                  expected="404 with a SCIM Error body",
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)


def _addresses(user: object) -> dict:
    """The user's addresses by type."""
    return {dig(a, "type"): a for a in (dig(user, "addresses") or []) if isinstance(a, dict)}


@pytest.mark.requirement("update.value-path-element")
def test_value_filter_path_changes_one_element(idp, client, verdict, users):
    """Creates a user, gives it a work and a home address (an RFC PATCH add), then sends the IdP's PATCH
    of addresses[type eq "work"].locality (Entra: Replace, as its verbose update sends it).

    Verifies: 200 or 204; GET shows the new locality on the work address, its country kept, and the
    home address unchanged (Entra's value-filter paths,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups; RFC 7644 §3.5.2.3).
    """
    needs(idp, "updateAddress")
    new, user_id = given_user(client, idp, users)
    setup = client.raw("PATCH", f"/Users/{user_id}", label="RFC PATCH add addresses", body={
        "schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "addresses", "value": [
            {"type": "work", "locality": "Cork", "country": "IE"}, {"type": "home", "locality": "Kinsale"}]}]})
    if setup.status not in (200, 204):
        pytest.skip(f"precondition failed: an RFC PATCH adding addresses answered {setup.status or setup.error}")
    request = write_request(client, idp, "updateAddress", new, user_id, city="Galway")
    answer = client.send(request)
    verdict.require("update.value-path-element", answer.status in request.accepts,
                    "the PATCH of addresses[type eq \"work\"].locality succeeds", expected=list(request.accepts),
                    actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = client.send(idp.request("getUser", id=user_id))
    addresses = _addresses(read.json)
    for kind, path, value in (("work", "locality", "Galway"), ("work", "country", "IE"), ("home", "locality", "Kinsale")):
        verdict.check("update.value-path-element", dig(addresses.get(kind), path) == value,
                      f"the {kind} address has {path} {value}", expected=value,
                      actual=dig(read.json, "addresses"), exchange=read)


@pytest.mark.requirement("update.operations-in-order")
def test_operations_applied_in_order(idp, client, verdict, users):
    """Creates a user, then sends the IdP's PATCH of several operations on the same attributes (Entra:
    Remove title, Add title "Acting <title>", Replace title "<title>", Add nickName, Remove nickName).

    Verifies: 200 or 204, and GET shows the result of applying them in the order sent: title "<title>"
    and no nickName (a preview test of the Microsoft SCIM Validator,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial, observed in third-party runs;
    RFC 7644 §3.5.2).
    """
    needs(idp, "updateSequence")
    new, user_id = given_user(client, idp, users)
    request = write_request(client, idp, "updateSequence", new, user_id, title=TITLE)
    answer = client.send(request)
    verdict.require("update.operations-in-order", answer.status in request.accepts,
                    "the PATCH of several operations succeeds", expected=list(request.accepts),
                    actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = client.send(idp.request("getUser", id=user_id))
    for name, value in (("title", TITLE), ("nickName", None)):
        verdict.check("update.operations-in-order", dig(read.json, name) == value,
                      f"{name} is what the operations leave in order", expected=value if value else "(absent)",
                      actual=dig(read.json, name), exchange=read)


@pytest.mark.parametrize("form", variant_params("updateManager"))
@pytest.mark.requirement("update.manager")
def test_manager_set_replaced_cleared(idp, client, verdict, target, users, form):
    """Creates two managers and a user, then sends the IdP's manager PATCH in this form three times: set
    to the first manager, replaced by the second, cleared with an empty value (Entra: Add of the
    enterprise URN path with {"value": id} (default), Replace with the bare id string (string), Add of
    path manager with [{"$ref", "value"}] (array)).

    Verifies: each answers 200 or 204 and GET shows manager.value as the first manager, then the
    second, then no manager value (Entra's legacy example 5,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups; the Microsoft SCIM Validator's
    manager tests, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial, observed in third-party runs).
    """
    needs(idp, "updateManager", form)
    first, second = given_user(client, idp, users)[1], given_user(client, idp, users)[1]
    new, user_id = given_user(client, idp, users)
    for step, manager in (("set", first), ("replaced", second), ("cleared", "")):
        ref = f"{target.base_url}/Users/{manager}" if manager else ""
        request = write_request(client, idp, "updateManager", new, user_id, form, managerId=manager, managerRef=ref)
        answer = client.send(request)
        verdict.require("update.manager", answer.status in request.accepts,
                        f"the manager is {step} in the {form} form", expected=list(request.accepts),
                        actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
        read = client.send(idp.request("getUser", id=user_id))
        shown = dig(read.json, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager", "value")
        verdict.check("update.manager", (shown or "") == manager, f"GET shows the manager {step}",
                      expected=manager or "(no manager value)", actual=shown, exchange=read)


@pytest.mark.requirement("update.version-changes")
def test_version_changes_on_update(client, verdict, users):
    """Where /ServiceProviderConfig declares etag support: creates a user (RFC POST), PATCHes its title,
    then PATCHes again with If-Match set to the version before the first change.

    Verifies: the update yields a new version (the ETag header, equal to meta.version where both are given),
    and another change sent with the stale If-Match is refused with 412 (RFC 7644 §3.14,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.14; RFC 7232 §3.1, https://www.rfc-editor.org/rfc/rfc7232#section-3.1:
    a server whose current representation does not match «MUST NOT perform the requested method» and answers
    412, unless the change is already reflected, which a different change cannot be).
    """
    config = client.raw("GET", "/ServiceProviderConfig")
    if dig(config.json, "etag", "supported") is not True:
        pytest.skip("the ServiceProviderConfig does not declare etag support (RFC 7644 §3.14 applies only then)")
    new = users.new()
    created = client.raw("POST", "/Users", body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                 "userName": new.userName, "emails": [
                                                     {"value": new.email, "type": "work", "primary": True}]})
    user_id, before = dig(created.json, "id"), created.header("etag") or dig(created.json, "meta", "version")
    if created.status != 201 or not user_id or not before:
        pytest.skip(f"precondition failed: POST /Users answered {created.status or created.error} without id/version "
                    "(an ETag header on the 201 is judged by update.etag-header)")
    change = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": TITLE}]}
    client.raw("PATCH", f"/Users/{user_id}", body=change)
    read = client.raw("GET", f"/Users/{user_id}")
    after = read.header("etag") or dig(read.json, "meta", "version")
    verdict.check("update.version-changes", after is not None and after != before,
                  "the update gives the user a new version (ETag, meta.version)", expected=f"a version other than {before}",
                  actual=after, exchange=read)
    if read.header("etag") and dig(read.json, "meta", "version"):
        verdict.check("update.version-changes", read.header("etag") == dig(read.json, "meta", "version"),
                      "the ETag header equals meta.version", expected=dig(read.json, "meta", "version"),
                      actual=read.header("etag"), exchange=read)
    other = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": f"{TITLE} (stale)"}]}
    stale = client.raw("PATCH", f"/Users/{user_id}", body=other, headers={"If-Match": before})
    verdict.check("update.version-changes", stale.status == 412, "a change sent with If-Match of the old version "
                  "is refused (RFC 7232 §3.1: 412 Precondition Failed)", expected=412,
                  actual=stale.status or stale.error, exchange=stale)


FORBIDDEN = {  # PATCH bodies RFC 7644 §3.5.2 forbids, and the scimType the RFC names for one of them
    "no-schemas": ({"Operations": [{"op": "replace", "path": "title", "value": "Forbidden"}]}, None),
    "no-operations": ({"schemas": [PATCH_OP]}, None),
    "empty-operations": ({"schemas": [PATCH_OP], "Operations": []}, None),
    "unknown-op": ({"schemas": [PATCH_OP], "Operations": [{"op": "move", "path": "title", "value": "Forbidden"}]}, None),
    "remove-without-path": ({"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]}, "noTarget"),
    "add-without-value": ({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title"}]}, None),
}


def _unchanged(verdict, requirement: str, client, user_id: str, before: dict, why: str) -> None:
    """The user reads back as it was `before` (as read): title, name and emails."""
    after = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    for path in (("title",), ("name", "givenName"), ("emails",)):
        verdict.check(requirement, dig(after.json, *path) == dig(before, *path),
                      f"{'.'.join(path)} is unchanged {why}", expected=dig(before, *path),
                      actual=dig(after.json, *path) if after.status == 200 else after.status or after.error,
                      exchange=after)


@pytest.mark.parametrize("body", [
    pytest.param(name, marks=pytest.mark.requirement("update.remove-needs-path" if name == "remove-without-path"
                                                     else "update.patch-malformed-400")) for name in FORBIDDEN])
def test_forbidden_patch_bodies_refused(client, verdict, users, body):
    """Creates a user with a title (RFC POST /Users), then sends an RFC PATCH whose body breaks a rule of
    RFC 7644 §3.5.2: without the PatchOp schema, without Operations, with an empty Operations, with op
    "move", a remove without a path, an add without a value; then reads the user back.

    Verifies: 400 with a SCIM Error and the user unchanged. For the remove without a path the RFC names the
    server's answer, so it is a MUST (update.remove-needs-path, §3.5.2.2,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.2: «If "path" is unspecified, the operation fails
    with HTTP status code 400 and a "scimType" error code of "noTarget"»); the other rules bind the client
    («The body of each request MUST contain the "schemas" attribute …», «MUST contain the attribute
    "Operations" …», «MUST have exactly one "op" member», an add «MUST contain a "value" member») and a
    server that lets them through only warns (update.patch-malformed-400).
    """
    requirement = "update.remove-needs-path" if body == "remove-without-path" else "update.patch-malformed-400"
    _, user_id, _ = rfc_user(client, users, title=TITLE)
    before = read_back(client, user_id)
    request, scim_type = FORBIDDEN[body]
    answer = rfc_patch(client, user_id, request, f"RFC PATCH ({body})")
    verdict.check(requirement, answer.status == 400 and is_scim_error(answer),
                  f"the PATCH ({body}) is refused with 400 and a SCIM Error", expected=400,
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    if scim_type:
        verdict.check(requirement, dig(answer.json, "scimType") == scim_type,
                      f"the refusal names scimType {scim_type}", expected=scim_type,
                      actual=dig(answer.json, "scimType") or "(no scimType)", exchange=answer)
    _unchanged(verdict, requirement, client, user_id, before, f"by the refused PATCH ({body})")


@pytest.mark.requirement("update.patch-atomic")
def test_patch_is_atomic(client, verdict, users):
    """Creates a user with a title (RFC POST /Users), then sends an RFC PATCH of two operations: a valid
    replace of title, then a remove without a path, which the RFC says fails (§3.5.2.2: «If "path" is
    unspecified, the operation fails with HTTP status code 400 and a "scimType" error code of "noTarget"»);
    then reads the user back.

    Verifies: an error answer, and the title unchanged: the first operation was not applied (RFC 7644
    §3.5.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2: «A PATCH request, regardless of the
    number of operations, SHALL be treated as atomic. If a single operation encounters an error condition,
    the original SCIM resource MUST be restored, and a failure status SHALL be returned.»).
    """
    _, user_id, _ = rfc_user(client, users, title=TITLE)
    before = read_back(client, user_id)
    answer = rfc_patch(client, user_id, {
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Applied halfway"},
                                              {"op": "remove"}]},
                       "RFC PATCH (valid, then failing)")
    verdict.check("update.patch-atomic", answer.status is not None and answer.status >= 400,
                  "the PATCH whose second operation fails is answered with an error", expected="4xx",
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    _unchanged(verdict, "update.patch-atomic", client, user_id, before, "after the failed PATCH")


@pytest.mark.requirement("update.primary-unique")
def test_added_primary_email_is_the_only_primary(client, verdict, users):
    """Creates a user with a primary work email (RFC POST /Users), then sends an RFC PATCH add of a home
    email marked primary, and reads the user back.

    Verifies: the new email is primary and it is the only primary one (RFC 7644 §3.5.2,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2: «a PATCH operation that sets a value's "primary"
    sub-attribute to "true" SHALL cause the server to automatically set "primary" to "false" for any other
    values in the array»).
    """
    new, user_id, _ = rfc_user(client, users)
    local, _, domain = new.email.rpartition("@")
    added = f"{local}.home@{domain}"
    answer = rfc_patch(client, user_id, {
        "schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "emails",
                                               "value": [{"value": added, "type": "home", "primary": True}]}]},
                       "RFC PATCH add a primary email")
    verdict.require("update.primary-unique", answer.status in (200, 204), "the PATCH adding an email succeeds",
                    expected=[200, 204], actual=f"{answer.status or answer.error}: {answer.excerpt(200)}",
                    exchange=answer)
    read = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    primary = [dig(e, "value") for e in dig(read.json, "emails") or [] if dig(e, "primary") is True]
    verdict.check("update.primary-unique", [str(p).casefold() for p in primary] == [added.casefold()],
                  "the email added as primary is the only primary one", expected=[added], actual=primary,
                  exchange=read)


@pytest.mark.parametrize("variant", variant_params("updateUser"))
@pytest.mark.requirement("update.username-conflict-409")
def test_rename_onto_a_taken_username(idp, client, verdict, users, variant):
    """Creates two users, then sends the IdP's update (in this shape) giving the second the first one's
    userName in another letter case, and reads the second back.

    Verifies: a refusal with 409, or 400 (RFC 7643 §7, https://www.rfc-editor.org/rfc/rfc7643#section-7: «A
    server MAY reject an invalid value based on uniqueness by returning HTTP response code 400»), naming
    scimType uniqueness where it names one (RFC 7644 §3.12 Table 9: uniqueness applies to PUT and PATCH), and
    the second user keeps its userName (RFC 7643 §4.1.1, https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1:
    userName «MUST be unique» and is «case insensitive»). A server that allows it leaves two users an IdP
    cannot tell apart (Okta: "Multiple users found").
    """
    needs(idp, "updateUser", variant)
    taken, _ = given_user(client, idp, users)
    new, user_id = given_user(client, idp, users)
    request = write_request(client, idp, "updateUser", new, user_id, variant, userName=taken.userName.swapcase())
    answer = client.send(request)
    if answer.status == 501:
        pytest.skip(f"the target does not implement {request.method} (501): no rename to judge (the update itself "
                    "is judged by update.put-replace and update.patch-replace)")
    verdict.check("update.username-conflict-409", answer.status in (400, 409)
                  and dig(answer.json, "scimType") in (None, "uniqueness"),
                  "the update onto a taken userName is refused as a conflict",
                  expected="409 or 400 (scimType uniqueness where one is named)",
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = client.send(idp.request("getUser", id=user_id))
    verdict.check("update.username-conflict-409", dig(read.json, "userName") == new.userName,
                  "the user keeps its userName", expected=new.userName, actual=dig(read.json, "userName"), exchange=read)


PROTECTED = {  # a PATCH operation on a required or read-only attribute, and what the user must keep
    "remove-userName": ({"op": "remove", "path": "userName"}, ("userName",)),
    "replace-id": ({"op": "replace", "path": "id", "value": "scimcert-chosen-id"}, ("id",)),
    "replace-id-without-path": ({"op": "replace", "value": {"id": "scimcert-chosen-id"}}, ("id",)),
    "replace-meta-created": ({"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}, ("meta", "created")),
}


@pytest.mark.parametrize("operation", list(PROTECTED))
@pytest.mark.requirement("update.protected-attributes")
def test_protected_attributes_are_kept(client, verdict, users, operation):
    """Creates a user (RFC POST /Users), then sends an RFC PATCH removing its userName, or replacing its id
    (with path "id", or path-less: «the target location is assumed to be the resource itself», §3.5.2.3) or
    meta.created, and reads it back.

    Verifies: the remove of the required userName is refused with 400 and scimType mutability (RFC 7644
    §3.5.2.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.2: «If an attribute is removed or
    becomes unassigned and is defined as a required attribute or a read-only attribute, the server SHALL
    return … a "scimType" error code of "mutability"»); a replace of a read-only attribute is refused the
    same way or ignored (§3.5.2: a client «MUST NOT modify an attribute that has mutability "readOnly"»);
    a path-less one may be refused with any 400 (a server may refuse path-less values altogether, which
    update.patch-replace judges); either way the user keeps the value.
    """
    _, user_id, _ = rfc_user(client, users)
    before = read_back(client, user_id)
    change, kept = PROTECTED[operation]
    answer = rfc_patch(client, user_id, {"schemas": [PATCH_OP], "Operations": [change]}, f"RFC PATCH ({operation})")
    refused = answer.status == 400 and (dig(answer.json, "scimType") == "mutability"
                                        or operation == "replace-id-without-path")
    ignored = answer.status in (200, 204) and operation != "remove-userName"
    verdict.check("update.protected-attributes", refused or ignored,
                  f"the PATCH ({operation}) is refused with 400 mutability" + ("" if operation == "remove-userName"
                                                                               else ", or ignored"),
                  expected="400 mutability" + ("" if operation == "remove-userName" else " (or 200/204, ignored)"),
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    after = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    verdict.check("update.protected-attributes", after.status == 200 and dig(after.json, *kept) == dig(before, *kept),
                  f"the user keeps its {'.'.join(kept)}", expected=dig(before, *kept),
                  actual=dig(after.json, *kept) if after.status == 200 else after.status or after.error, exchange=after)
    if after.status == 404 and kept == ("id",):  # the user moved to the id sent: cleanup knows only the old one
        client.raw("DELETE", "/Users/scimcert-chosen-id", label="RFC DELETE of the user under the id sent")


@pytest.mark.requirement("update.extension-schemas")
def test_extension_attribute_adds_its_schema(client, verdict, users, discovered):
    """Creates a user with the core schema only (RFC POST /Users), then sends an RFC PATCH add of the
    enterprise department (path urn:…:enterprise:2.0:User:department) and reads the user back.

    Verifies: the PATCH succeeds and the user's schemas now list the enterprise extension URN (RFC 7644
    §3.5.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2: the representation's "schemas" reflect
    the extensions the resource holds).
    """
    needs_extension(client, discovered, ENTERPRISE)
    _, user_id, _ = rfc_user(client, users)
    answer = rfc_patch(client, user_id, {
        "schemas": [PATCH_OP], "Operations": [{"op": "add", "path": f"{ENTERPRISE}:department", "value": "Research"}]},
                       "RFC PATCH add an enterprise attribute")
    verdict.require("update.extension-schemas", answer.status in (200, 204), "the PATCH adding the department succeeds",
                    expected=[200, 204], actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    verdict.check("update.extension-schemas", ENTERPRISE in (dig(read.json, "schemas") or []),
                  "schemas lists the enterprise extension", expected=ENTERPRISE, actual=dig(read.json, "schemas"),
                  exchange=read)


@pytest.mark.requirement("update.put-requires-username")
def test_put_without_username_refused(client, verdict, users):
    """Creates a user (RFC POST /Users), then sends an RFC PUT of the user without userName, and reads it back.

    Verifies: the user still has a non-empty userName, in the PUT's answer where it succeeded and in the
    read back (RFC 7643 §4.1.1, https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1: «Each User MUST include a
    non-empty userName value»). A 400 is the natural answer but not demanded: «clients MUST specify» a required
    attribute (RFC 7644 §3.5.1), and for what a PUT omits the server «MAY assume that any existing values are
    to be cleared, or … MAY assign a default value».
    """
    new, user_id, sent = rfc_user(client, users)
    body = {k: v for k, v in sent.items() if k != "userName"}
    answer = client.raw("PUT", f"/Users/{user_id}", body=body, label="RFC PUT without userName")
    if answer.status in (200, 201):
        verdict.check("update.put-requires-username", _has_user_name(answer.json),
                      "the accepted PUT leaves the user a non-empty userName", expected=f"a userName ({new.userName})",
                      actual=dig(answer.json, "userName"), exchange=answer)
    read = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    verdict.check("update.put-requires-username", _has_user_name(read.json),
                  "the user still has a non-empty userName", expected=f"a userName ({new.userName})",
                  actual=dig(read.json, "userName") if read.status == 200 else read.status or read.error, exchange=read)


def _has_user_name(body: object) -> bool:
    value = dig(body, "userName")
    return isinstance(value, str) and value.strip() != ""
