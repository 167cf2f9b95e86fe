"""Group checks: the IdPs' group provisioning (Okta Push Groups, Entra group provisioning, OneLogin's group
calls) as each sends it, against SCIM Groups (RFC 7643 §4.2, https://www.rfc-editor.org/rfc/rfc7643#section-4.2):
list and paging, create, the displayName lookup, membership add and remove, rename, excludedAttributes=members,
a large member list, unknown and guest members refused, and delete as the target declares it.

Each check creates the group and the users it needs; a target that declares no Group resource type (GET
/ResourceTypes) is a users-only service provider, and these checks skip.
"""

from __future__ import annotations

import uuid

import pytest

from scimcert.groups import (
    given_group,
    group_ids,
    judge_members,
    member_ids,
    membership,
    needs_groups,
    read_group,
    rfc_group,
    with_members,
)
from scimcert.resources import GROUP
from scimcert.suites import (
    PAGING,
    PATCH_OP,
    TOLERANCE,
    dig,
    given_user,
    integer_paging,
    is_scim_error,
    judge_scim_type,
    needs,
    number,
    resources,
    rfc_users,
    variant_params,
)

LARGE = 101  # members: more than one 100-resource list page holds (Okta's and the reference server's page size)
SMALL_PAGE = 2  # the page size of the paged walk over a few groups


def _displayed(answer) -> list[str]:
    """The displayNames of a list answer's groups."""
    return [str(r.get("displayName")) for r in resources(answer)]


def _named(body, display_name: str) -> bool:
    """Whether a group body carries `display_name`, compared without case: displayName is caseExact false (RFC 7643
    §8.7.1), and for such an attribute «the server MAY alter case for a submitted value» (RFC 7643 §7,
    https://www.rfc-editor.org/rfc/rfc7643#section-7)."""
    shown = dig(body, "displayName")
    return isinstance(shown, str) and shown.casefold() == display_name.casefold()


@pytest.mark.requirement("groups.list")
def test_group_list(idp, client, verdict, users, discovered):
    """Creates a group, then sends the IdP's group listing (Okta: GET /Groups?startIndex=1&count=100 on save and
    import; OneLogin: GET /Groups on Refresh of entitlements).

    Verifies: 200 with a ListResponse whose totalResults (and startIndex and itemsPerPage, where given: OneLogin's
    sample server gives no itemsPerPage) are integers and whose Resources is an array of groups each with an id
    and a displayName (Okta SCIM 2.0 SPEC test step 19,
    https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json; Okta SCIM 1.1 guide,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-11/; OneLogin,
    https://developers.onelogin.com/scim/implement-scim-api; RFC 7644 §3.4.2).
    """
    needs(idp, "listGroups")
    needs_groups(client, discovered)
    given_group(client, idp, users)
    request = idp.request("listGroups")
    answer = client.send(request)
    verdict.require("groups.list", answer.status in request.accepts, "the group listing succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    body = answer.json if isinstance(answer.json, dict) else {}
    verdict.check("groups.list", isinstance(body.get("Resources"), list), "Resources is an array of groups",
                  expected="an array", actual=type(body.get("Resources")).__name__, exchange=answer)
    verdict.check("groups.list", integer_paging(body, required=("totalResults",)),
                  "totalResults, and startIndex and itemsPerPage where given, are JSON integers (RFC 7644 §3.4.2; "
                  "Okta's need of all three is its overlay's, schema.idp-readable)",
                  expected="JSON integers", actual={k: body.get(k) for k in PAGING}, exchange=answer)
    unnamed = [r.get("id") for r in resources(answer) if not (isinstance(r.get("id"), str) and r["id"]
                                                               and isinstance(r.get("displayName"), str))]
    verdict.check("groups.list", bool(resources(answer)) and not unnamed,
                  "the listing shows groups (one was just created), each with a string id and a displayName",
                  expected="at least one group, each with id and displayName",
                  actual=f"{len(resources(answer))} group(s); without id or displayName: {unnamed}", exchange=answer)


def _walk(client, idp, size: int, total: int, first=None) -> tuple[list[str], list]:
    """The ids the IdP's listing walk sees, page by page from startIndex 1 with `size` per page (`first`: page 1
    already read at that size), and the answers; it stops at an empty or failed page and never reads past the
    end `total` announced."""
    seen, answers, start = [], [], 1
    while start <= total and len(answers) <= total // size + 1:
        page = first if first is not None and start == 1 else client.send(idp.request("listGroups", startIndex=start,
                                                                                        count=size))
        answers.append(page)
        if page.status != 200 or not resources(page):
            break
        seen += [str(r.get("id")) for r in resources(page)]
        start += len(resources(page))
    return seen, answers


@pytest.mark.quiet_tenant  # it compares totalResults with the groups it walks
@pytest.mark.requirement("groups.import-paged")
def test_group_import_paged(idp, client, verdict, users, discovered):
    """Creates three groups, then reads the group list as the IdP imports it: Okta walks GET
    /Groups?startIndex=N&count=M page by page (here M = 2, so three groups make several pages; on a tenant of
    more than 50 groups, the IdP's own 100); OneLogin reads GET /Groups once.

    Verifies: every page answers 200; the walk lists each of the three groups, repeats no id, and finds as many
    groups as totalResults says; a single-request reader (OneLogin) gets every group in that one answer
    (RFC 7644 §3.4.2.4, https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.4; Okta SCIM 2.0 guide,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/).
    """
    needs(idp, "listGroups")
    needs_groups(client, discovered)
    created = {given_group(client, idp, users)[1] for _ in range(3)}
    pages = "startIndex" in idp.placeholders("listGroups")
    first = client.send(idp.request("listGroups", **({"count": SMALL_PAGE} if pages else {})))
    verdict.require("groups.import-paged", first.status == 200, "the first page answers 200",
                    expected=200, actual=first.status or first.error, exchange=first)
    total = number(dig(first.json, "totalResults"))
    verdict.require("groups.import-paged", total is not None, "the first page gives totalResults",
                    expected="an integer", actual=dig(first.json, "totalResults"), exchange=first)
    if pages:
        size = SMALL_PAGE if total <= 25 * SMALL_PAGE else idp.spec("listGroups")["defaults"]["count"]
        seen, answers = _walk(client, idp, size, total, first if size == SMALL_PAGE else None)
    else:
        seen, answers = [str(r.get("id")) for r in resources(first)], [first]
    for page in answers[1:]:
        verdict.check("groups.import-paged", page.status == 200, "each page answers 200", expected=200,
                      actual=page.status or page.error, exchange=page)
    last = answers[-1]
    repeated = sorted({i for i in seen if seen.count(i) > 1})
    verdict.check("groups.import-paged", not repeated, "no group is listed twice", expected="each id once",
                  actual=f"repeated: {repeated}", exchange=last)
    missing = sorted(created - set(seen))
    verdict.check("groups.import-paged", not missing, "each group created for this check is listed",
                  expected=sorted(created), actual=f"missing: {missing}", exchange=last)
    verdict.check("groups.import-paged", len(set(seen)) == total,
                  "the groups listed are as many as totalResults says",
                  expected=total, actual=len(set(seen)), exchange=last)


@pytest.mark.requirement("groups.create-201", "groups.get-same")
def test_group_create(idp, client, verdict, users, discovered):
    """Sends the IdP's group create (Okta: core schema, displayName, "members": []; Entra: externalId and meta;
    OneLogin: core schema and displayName), then reads the group by id (the IdP's own GET where it has one, else
    an RFC GET).

    Verifies: 201 with a non-empty string id, the displayName as sent (compared without case: RFC 7643 §7 lets a
    server alter the case of a caseExact false value) and no member; GET /Groups/{id} answers 200 with the same
    id and displayName (RFC 7644 §3.3, https://www.rfc-editor.org/rfc/rfc7644#section-3.3, and
    §3.4.1; Okta SCIM 2.0 guide, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/; Entra,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    needs(idp, "createGroup")
    needs_groups(client, discovered)
    group = users.group()
    request = idp.request("createGroup", displayName=group.displayName, externalId=group.externalId)
    answer = client.send(request)
    verdict.require("groups.create-201", answer.status in request.accepts, "the group create answers 201",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    group_id = dig(answer.json, "id")
    verdict.require("groups.create-201", isinstance(group_id, str) and group_id != "",
                    "the answer carries the group's id, a non-empty string", expected="a string id",
                    actual=group_id, exchange=answer)
    verdict.check("groups.create-201", _named(answer.json, group.displayName),
                  "the displayName comes back as sent", expected=group.displayName,
                  actual=dig(answer.json, "displayName"), exchange=answer)
    verdict.check("groups.create-201", not member_ids(answer.json), "the new group has no member",
                  expected="no members", actual=member_ids(answer.json), exchange=answer)
    read = client.send(idp.request("getGroup", id=group_id)) if idp.has("getGroup") else read_group(client, group_id)
    verdict.require("groups.get-same", read.status == 200, "the group is readable by its id",
                    expected=200, actual=read.status or read.error, exchange=read)
    verdict.check("groups.get-same", dig(read.json, "id") == group_id and _named(read.json, group.displayName),
                  "GET shows the same id and displayName", expected=(group_id, group.displayName),
                  actual=(dig(read.json, "id"), dig(read.json, "displayName")), exchange=read)


@pytest.mark.parametrize("variant", variant_params("createGroup", tolerance=True,
                                                   marks=lambda v: [pytest.mark.requirement(TOLERANCE[v])]))
def test_group_create_with_template_artefacts(idp, client, verdict, users, discovered, variant):
    """Sends the IdP's group create in a variant its documentation shows but an RFC server may refuse (Entra: the
    schemas list Microsoft's ADSCIM Group URI beside the core one,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups), then
    reads the group.

    Verifies: 201 with an id, and GET shows the displayName sent.
    """
    needs(idp, "createGroup", variant)
    needs_groups(client, discovered)
    requirement = TOLERANCE[variant]
    group = users.group()
    request = idp.request("createGroup", variant, displayName=group.displayName, externalId=group.externalId)
    answer = client.send(request)
    verdict.require(requirement, answer.status in request.accepts and answer.created_id is not None,
                    f"the group create in {idp.name}'s '{variant}' shape succeeds", expected=list(request.accepts),
                    actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    read = read_group(client, answer.created_id)
    verdict.check(requirement, read.status == 200 and _named(read.json, group.displayName),
                  "the group is readable with its displayName", expected=group.displayName,
                  actual=dig(read.json, "displayName") if read.status == 200 else read.status or read.error,
                  exchange=read)


@pytest.mark.requirement("groups.displayname-unique", "errors.scim-type")
def test_duplicate_group_refused(idp, client, verdict, users, discovered):
    """Creates a group with the IdP's create, then sends the same create again (the Microsoft SCIM Validator's
    «Create a duplicate Group», https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial).

    Verifies: the second create is refused with 409, and a scimType, where named, is uniqueness (RFC 7644 §3.3,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.3: a conflict «MUST return HTTP status code 409 (Conflict)
    with a "scimType" error code of "uniqueness"»); a second group of the same name is allowed by RFC 7643's
    Group schema ("uniqueness": "none"), hence a SHOULD.
    """
    needs(idp, "createGroup")
    needs_groups(client, discovered)
    group, _ = given_group(client, idp, users)
    again = client.send(idp.request("createGroup", displayName=group.displayName, externalId=group.externalId))
    verdict.check("groups.displayname-unique", again.status == 409,
                  "a second group with the same displayName is refused with 409",
                  expected=409, actual=again.status or again.error, exchange=again)
    if again.status == 409:
        judge_scim_type(verdict, again, "uniqueness")


@pytest.mark.requirement("groups.find-by-displayname", "groups.filter-case-insensitive")
def test_find_group_by_displayname(idp, client, verdict, users, discovered):
    """Creates a group, then sends the IdP's lookup (Okta: filter=displayName eq "…"&startIndex=1&count=100;
    Entra: excludedAttributes=members&filter=displayName eq "…") for its name, for a name no group has, and for
    its name upper-cased.

    Verifies: the lookup answers 200 with exactly that group under its id; a name no group has answers 200 with
    no resource; the upper-cased name finds the same group (displayName is caseExact false, RFC 7643 §8.7.1,
    https://www.rfc-editor.org/rfc/rfc7643#section-8.7.1; RFC 7644 §3.4.2.2).
    """
    needs(idp, "findGroup")
    needs_groups(client, discovered)
    group, group_id = given_group(client, idp, users)
    found = client.send(idp.request("findGroup", displayName=group.displayName))
    ids = [str(r.get("id")) for r in resources(found)]
    verdict.check("groups.find-by-displayname", found.status == 200 and ids == [group_id],
                  "the displayName filter finds exactly the group", expected=f"200 with one group, id {group_id}",
                  actual=f"{found.status or found.error}; ids {ids}", exchange=found)
    nobody = client.send(idp.request("findGroup", displayName=f"{group.displayName} (none)"))
    verdict.check("groups.find-by-displayname", nobody.status == 200 and not resources(nobody),
                  "a name no group has answers 200 with no resource", expected="200, no resource",
                  actual=f"{nobody.status or nobody.error}; {_displayed(nobody)}", exchange=nobody)
    upper = client.send(idp.request("findGroup", displayName=group.displayName.upper()))
    verdict.check("groups.filter-case-insensitive", upper.status == 200 and
                  [str(r.get("id")) for r in resources(upper)] == [group_id],
                  "the displayName filter matches whatever the case of the value",
                  expected=f"200 with the group {group_id}",
                  actual=f"{upper.status or upper.error}; ids {[r.get('id') for r in resources(upper)]}", exchange=upper)


@pytest.mark.parametrize("shape", variant_params("addMembers"))
@pytest.mark.requirement("groups.member-add", "groups.user-groups")
def test_member_add(idp, client, verdict, users, discovered, shape):
    """Creates a group and two users, then sends the IdP's member add for both in this shape (Okta OIN: PATCH add
    to members with value and display; Okta AIW: GET, then PUT of the group with its complete member list;
    Entra: PATCH "Add" with {"$ref": null, "value": id}; OneLogin: PATCH add with each value), reads the group
    and each user.

    Verifies: 200 with the group or 204; GET /Groups/{id} lists exactly the two users by id; each user's groups
    then names the group (RFC 7644 §3.5.2.1, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.1; RFC 7643
    §4.1.2 groups, https://www.rfc-editor.org/rfc/rfc7643#section-4.1.2; Okta,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/; Entra,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    needs(idp, "addMembers", shape)
    needs_groups(client, discovered)
    group, group_id = given_group(client, idp, users)
    members = [given_user(client, idp, users) for _ in range(2)]
    request = membership(client, idp, "addMembers", group, group_id, members, members, shape)
    answer = client.send(request)
    verdict.require("groups.member-add", answer.status in request.accepts, "the member add succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    if answer.status == 200:
        verdict.check("groups.member-add", dig(answer.json, "id") == group_id,
                      "a 200 answer carries the group (RFC 7644 §3.5.2: «the entire resource»)",
                      expected=f"the group {group_id}", actual=answer.excerpt(200), exchange=answer)
    judge_members(verdict, "groups.member-add", read_group(client, group_id), [i for _, i in members],
                  "the group lists the two users added, by id, and nobody else", may_omit=idp.members_optional is not None)
    for _, user_id in members:
        user = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
        verdict.check("groups.user-groups", group_id in group_ids(user.json), "the user's groups names the group",
                      expected=f"groups with value {group_id}", actual=dig(user.json, "groups"), exchange=user)


@pytest.mark.parametrize("shape", variant_params("removeMembers"))
@pytest.mark.requirement("groups.member-remove", "groups.user-groups")
def test_member_remove(idp, client, verdict, users, discovered, shape):
    """Creates a group with two members (the IdP's default add), then sends the IdP's remove of one of them in
    this shape (Okta OIN: PATCH remove with the path members[value eq "<id>"]; Okta AIW: PUT of the group
    without the member; Entra: PATCH "Remove" of members naming the member in value, or the filter path with
    aadOptscim062020; OneLogin: remove by filter path or by value, both inferred).

    Verifies: 200 with the group or 204; GET /Groups/{id} then lists the other member only; the removed user's
    groups no longer names the group, the other's still does (RFC 7644 §3.5.2.2,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.2; RFC 7643 §4.1.2).
    """
    needs(idp, "removeMembers", shape)
    needs_groups(client, discovered)
    group, group_id = given_group(client, idp, users)
    leaving, staying = given_user(client, idp, users), given_user(client, idp, users)
    with_members(client, idp, group, group_id, [leaving, staying])
    request = membership(client, idp, "removeMembers", group, group_id, [leaving], [staying], shape)
    answer = client.send(request)
    verdict.require("groups.member-remove", answer.status in request.accepts, "the member remove succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    judge_members(verdict, "groups.member-remove", read_group(client, group_id), [staying[1]],
                  "the group lists the other member only")
    for (_, user_id), listed in ((leaving, False), (staying, True)):
        user = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
        verdict.check("groups.user-groups", (group_id in group_ids(user.json)) is listed,
                      f"the {'remaining' if listed else 'removed'} member's groups "
                      f"{'still names' if listed else 'no longer names'} the group",
                      expected=f"group {group_id} {'listed' if listed else 'not listed'}",
                      actual=dig(user.json, "groups"), exchange=user)


@pytest.mark.requirement("groups.rename")
def test_group_rename(idp, client, verdict, users, discovered):
    """Creates a group with one member, then sends the IdP's rename (Okta: path-less PATCH replace of id and
    displayName; Entra: PATCH "Replace" of displayName), reads the group and looks it up by its new name.

    Verifies: 200 or 204; GET shows the new displayName and the member kept (a replace touches only what it
    names, RFC 7644 §3.5.2.3, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.3); the displayName lookup
    finds the group under its new name (Okta, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/;
    Entra, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    needs(idp, "renameGroup")
    needs_groups(client, discovered)
    group, group_id = given_group(client, idp, users)
    member = given_user(client, idp, users)
    with_members(client, idp, group, group_id, [member])
    renamed = f"{group.displayName} renamed"
    request = idp.request("renameGroup", id=group_id, displayName=renamed)
    answer = client.send(request)
    verdict.require("groups.rename", answer.status in request.accepts, "the rename succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    read = read_group(client, group_id)
    verdict.check("groups.rename", read.status == 200 and _named(read.json, renamed),
                  "GET shows the new displayName", expected=renamed,
                  actual=f"{read.status or read.error}; {dig(read.json, 'displayName')}", exchange=read)
    judge_members(verdict, "groups.rename", read, [member[1]], "the rename keeps the member")
    if idp.has("findGroup"):
        found = client.send(idp.request("findGroup", displayName=renamed))
        verdict.check("groups.rename", [str(r.get("id")) for r in resources(found)] == [group_id],
                      "the displayName lookup finds the group under its new name", expected=[group_id],
                      actual=f"{found.status or found.error}; ids {[r.get('id') for r in resources(found)]}",
                      exchange=found)


@pytest.mark.requirement("groups.exclude-members")
def test_members_excluded(idp, client, verdict, users, discovered):
    """Creates a group with one member, then reads it as the IdP does with excludedAttributes=members (Entra:
    GET /Groups/{id}?excludedAttributes=members, and its displayName lookup with the same parameter).

    Verifies: each answer shows the group (id, displayName) without its members (RFC 7644 §3.9,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.9, and §3.4.2.5: excludedAttributes «MUST be supported»;
    Entra, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    needs(idp, "getGroup")
    if "excludedAttributes=members" not in idp.spec("getGroup").get("query", ""):
        pytest.skip(f"{idp.name} reads groups with their members: it never sends excludedAttributes=members")
    needs_groups(client, discovered)
    group, group_id = given_group(client, idp, users)
    member = given_user(client, idp, users)
    with_members(client, idp, group, group_id, [member])
    read = client.send(idp.request("getGroup", id=group_id))
    verdict.check("groups.exclude-members", read.status == 200 and dig(read.json, "id") == group_id
                  and not member_ids(read.json), "GET with excludedAttributes=members shows the group without members",
                  expected=f"200, group {group_id}, no members",
                  actual=f"{read.status or read.error}; members {member_ids(read.json)}", exchange=read)
    if idp.has("findGroup") and "excludedAttributes=members" in idp.spec("findGroup").get("query", ""):
        found = client.send(idp.request("findGroup", displayName=group.displayName))
        listed = [r for r in resources(found) if str(r.get("id")) == group_id]
        verdict.check("groups.exclude-members", len(listed) == 1 and not member_ids(listed[0]),
                      "the lookup with excludedAttributes=members finds the group without members",
                      expected="the group, no members",
                      actual=f"{found.status or found.error}; {[member_ids(r) for r in listed]}", exchange=found)


@pytest.mark.requirement("groups.large-membership")
def test_large_group(client, verdict, users, discovered):
    """Creates LARGE (101) users (RFC POSTs, eight on the wire at once) and a group, adds them all with one RFC
    PATCH add to members, and reads the group.

    Verifies: where the add is accepted (200 or 204), GET /Groups/{id} lists all 101 members, one list page's worth
    more than 100 (RFC 7644 §3.5.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2: each operation «is
    applied to the target resource»; RFC 7643 §4.2). A target that refuses so many in one request (a 4xx) is not
    judged: limits are its own.
    """
    needs_groups(client, discovered)
    ids = rfc_users(client, users, LARGE)
    _, group_id = rfc_group(client, users)
    body = {"schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}]}
    added = client.raw("PATCH", GROUP.path(group_id), body=body, label=f"RFC PATCH add of {LARGE} members")
    if added.status is not None and 400 <= added.status < 500:
        pytest.skip(f"the target refuses {LARGE} members in one request ({added.status}): its limit, not judged")
    verdict.require("groups.large-membership", added.status in (200, 204), f"the add of {LARGE} members succeeds",
                    expected="200 or 204", actual=added.status or added.error, exchange=added)
    read = read_group(client, group_id)
    listed = set(member_ids(read.json))
    verdict.check("groups.large-membership", read.status == 200 and listed == set(ids),
                  f"GET lists all {LARGE} members", expected=f"{LARGE} members",
                  actual=f"{read.status or read.error}; {len(listed)} listed, {len(set(ids) - listed)} missing, "
                         f"{len(listed - set(ids))} others", exchange=read)


def _refused_member(client, verdict, idp, users, discovered, outsider: str, refused: str, never_listed: str,
                    what: str) -> None:
    """Creates a group with one member, sends the IdP's member add naming `outsider`, and judges `refused` (400,
    scimType invalidValue where one is named) and `never_listed` (the group still lists its one member only)."""
    needs(idp, "addMembers")
    needs_groups(client, discovered)
    group, group_id = given_group(client, idp, users)
    member = given_user(client, idp, users)
    with_members(client, idp, group, group_id, [member])
    named = (users.new(), outsider)
    answer = client.send(membership(client, idp, "addMembers", group, group_id, [named], [member, named]))
    verdict.check(refused, answer.status == 400, f"{what} as a member is refused with 400",
                  expected=400, actual=answer.status or answer.error, exchange=answer)
    if answer.status == 400:
        judge_scim_type(verdict, answer, "invalidValue")
    judge_members(verdict, never_listed, read_group(client, group_id), [member[1]],
                  f"after the add of {what} the group lists its member only")


@pytest.mark.requirement("groups.unknown-member-refused", "errors.scim-type")
def test_unknown_member_refused(idp, client, verdict, users, discovered):
    """Creates a group with one member, then sends the IdP's member add naming an id no user has (a random UUID).

    Verifies: the add is refused with 400, scimType invalidValue where one is named (RFC 7644 §3.12 Table 9,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.12), and the group still lists its one member and no
    phantom.
    """
    _refused_member(client, verdict, idp, users, discovered, str(uuid.uuid4()), "groups.unknown-member-refused",
                    "groups.unknown-member-refused", "an id no user has")


@pytest.mark.requirement("guests.not-member", "guests.member-refused", "errors.scim-type")
def test_guest_member_refused(idp, client, verdict, users, target, discovered):
    """Creates a group with one member, then sends the IdP's member add naming a guest of the tenant by its id
    (SCIM_GUESTS, userName=id).

    Verifies: the group never lists the guest (guests are outside SCIM: Asana, «Does not return Asana guest
    users», https://developers.asana.com/docs/scim); the add is refused with 400, scimType invalidValue where one
    is named (inferred, hence SHOULD).
    """
    guest = next((g for g in target.guests if g.id), None)
    if guest is None:
        pytest.skip("the target names no guest with its id (SCIM_GUESTS=userName=id): no guest to add")
    _refused_member(client, verdict, idp, users, discovered, guest.id, "guests.member-refused", "guests.not-member",
                    f"the guest {guest.userName}")


@pytest.mark.requirement("groups.delete")
def test_group_delete(idp, client, verdict, users, target, discovered):
    """Creates a group, then sends the IdP's DELETE /Groups/{id} (Okta: unlink with «Delete the group in the target
    app»; Entra: group deprovisioning) and reads the group.

    Verifies, where the target deletes groups: 204, then GET /Groups/{id} answers 404 (RFC 7644 §3.6,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.6); where it declares group deletion refused
    (SCIM_GROUP_DELETE=refused, as Asana cannot delete teams,
    https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM): a 4xx
    or 501 SCIM Error, and the group stays readable.
    """
    needs(idp, "deleteGroup")
    needs_groups(client, discovered)
    _, group_id = given_group(client, idp, users)
    request = idp.request("deleteGroup", id=group_id)
    answer = client.send(request)
    after = read_group(client, group_id)
    if target.group_delete == "refused":
        verdict.check("groups.delete", answer.status is not None and (400 <= answer.status < 500 or answer.status == 501)
                      and is_scim_error(answer), "the target declares group deletion refused: a SCIM Error answers",
                      expected="4xx or 501 with a SCIM Error body", actual=answer.excerpt(200), exchange=answer)
        verdict.check("groups.delete", after.status == 200, "the group is still there", expected=200,
                      actual=after.status or after.error, exchange=after)
        return
    verdict.require("groups.delete", answer.status in request.accepts,
                    "the delete succeeds (or declare SCIM_GROUP_DELETE=refused)", expected=request.accepts,
                    actual=answer.status or answer.error, exchange=answer)
    verdict.check("groups.delete", after.status == 404, "the deleted group is gone", expected=404,
                  actual=after.status or after.error, exchange=after)


@pytest.mark.requirement("groups.deleted-user-leaves")
def test_deleted_user_leaves_group(client, verdict, users, discovered):
    """Creates two users and a group with both (RFC POSTs), deletes one user (RFC DELETE /Users/{id}), and reads
    the group.

    Verifies: the group lists the remaining user only (RFC 7644 §3.6, https://www.rfc-editor.org/rfc/rfc7644#section-3.6:
    a deleted resource answers 404 «for all operations associated with» it).
    """
    needs_groups(client, discovered)
    ids = rfc_users(client, users, 2)
    _, group_id = rfc_group(client, users, ids)
    if sorted(member_ids(read_group(client, group_id).json)) != sorted(ids):
        pytest.skip("precondition failed: the group created with two members does not list them "
                    "(judged by groups.member-add)")
    gone = client.raw("DELETE", f"/Users/{ids[0]}", label="RFC DELETE /Users/{id}")
    if gone.status not in (200, 204):
        pytest.skip(f"the target does not delete users (DELETE answered {gone.status or gone.error})")
    judge_members(verdict, "groups.deleted-user-leaves", read_group(client, group_id), [ids[1]],
                  "the group no longer lists the deleted user")
