"""Filter checks: the IdPs' lookups before a create (GET /Users?filter=userName eq "...", Entra's
externalId eq "..."), in each IdP's encoding, the RFC's invalid filters, and the other query parameter that
shapes an answer, attribute projection (attributes, excludedAttributes)."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

import pytest

from scimcert.suites import (
    CORE_USER,
    PATCH_OP,
    dig,
    given_user,
    is_scim_error,
    judge_scim_type,
    list_of,
    needs,
    number,
    resources,
    returned_always,
    rfc_patch,
    rfc_user,
)


def needs_find(idp) -> None:
    needs(idp, "findUser")


def judge_found(verdict, requirement: str, answer, user_id: str, user_name: str, how: str) -> None:
    """The lookup answered 200 with exactly one resource: the user `user_id`."""
    verdict.require(requirement, answer.status == 200, f"the lookup by {how} succeeds",
                    expected=200, actual=answer.status or answer.error, exchange=answer)
    found = [dig(r, "id") for r in resources(answer)]
    verdict.check(requirement, found == [user_id] and number(dig(answer.json, "totalResults")) == 1,
                  f"the lookup by {how} returns exactly that user (Okta: 'Expected 0 or 1 results')",
                  expected={"totalResults": 1, "ids": [user_id], "userName": user_name},
                  actual={"totalResults": dig(answer.json, "totalResults"), "ids": found[:5]}, exchange=answer)


def finds(answer, user_id: str) -> bool:
    return answer.status == 200 and [dig(r, "id") for r in resources(answer)] == [user_id]


@pytest.mark.requirement("filter.no-match-200", "filter.no-match-list")
def test_unknown_user_not_found(idp, client, verdict, users):
    """Sends the IdP's existence check for a userName nobody has (Okta SCIM 2.0 SPEC test steps 5 and 9,
    https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json; OneLogin's lookup before a
    create, https://developers.onelogin.com/scim/implement-scim-api; Entra's matching query,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).

    Verifies: 200 with a ListResponse, totalResults 0 and no resources, never 404 (RFC 7644 §3.4.2). For an
    IdP that also takes 404 as "not found" (OneLogin, https://developers.onelogin.com/scim/implement-scim-api) the 404 does not break it:
    the RFC's empty list is then judged at SHOULD level (filter.no-match-list) instead of MUST.
    """
    needs_find(idp)
    nobody = users.new()
    request = idp.request("findUser", userName=nobody.userName)
    answer = client.send(request)
    tolerant = 404 in request.accepts
    judged, other = ("filter.no-match-list", "filter.no-match-200") if tolerant else \
        ("filter.no-match-200", "filter.no-match-list")
    verdict.skip(other, f"{idp.name} also takes 404 for a lookup matching nobody: judged by {judged} (SHOULD)"
                 if tolerant else f"{idp.name} takes only an empty list: judged by {judged} (MUST)")
    verdict.require(judged, answer.status == 200, "a lookup that matches nobody answers 200, not 404"
                    + (f" ({idp.name} takes the 404 too; the RFC wants the empty list)" if tolerant else ""),
                    expected=200, actual=answer.status or answer.error, exchange=answer)
    body = list_of(answer)
    verdict.check(judged, body is not None and number(body.get("totalResults")) == 0
                  and not resources(answer), "it answers an empty ListResponse (totalResults 0, no resources)",
                  expected={"totalResults": 0, "Resources": "none"},
                  actual=answer.excerpt(200), exchange=answer)


def with_external_id(given: tuple):
    """`given` (a user and its id), when the user has an externalId to look up; skips otherwise (read-only
    mode borrows existing users, which may have none)."""
    if not given[0].externalId:
        pytest.skip(f"the user {given[0].userName} has no externalId to look up")
    return given


def _encoding(name: str, requirement: str):
    return pytest.param(name, id=name, marks=[pytest.mark.requirement(requirement), pytest.mark.variant_of("findUser", name)])


def _filter_on_the_wire(client, idp, encoding: str) -> str:
    """The filter parameter of the IdP's lookup in this encoding, as the client sends it."""
    target = client.on_the_wire(idp.request("findUser", encoding, userName="Jo.Doe@example.com"))
    query = target.partition("?")[2]
    return next((p.removeprefix("filter=") for p in query.split("&") if p.startswith("filter=")), query)


# Each IdP's encodings, cited with their public URLs in the sources of fixtures/idps/<idp>.json (findUser).
@pytest.mark.parametrize("encoding", [
    _encoding("default", "filter.username-eq"),  # Okta SCIM 2.0 guide %20/%22; OneLogin +/%22/&; Entra's documented text
    _encoding("plus", "filter.encodings"),       # Okta's 2019 SCIM reference and Microsoft's validator: + for spaces
    _encoding("literal", "filter.encodings"),    # Okta's SPEC and CRUD tests (Runscope): raw spaces and quotes
])
def test_find_created_user(idp, client, verdict, users, encoding):
    """Creates two users, then sends the IdP's existence check for one of them, in the IdP's encoding
    (Okta default: userName%20eq%20%22...%22, plus: userName+eq+%22...%22, literal: userName eq "...";
    OneLogin: userName+eq+%22...%22&; Entra: userName eq "...", plus: userName+eq+"...%40...").

    Verifies: 200 with exactly that one user (RFC 7644 §3.4.2.2; Okta SCIM 2.0 guide,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/; OneLogin, https://developers.onelogin.com/scim/implement-scim-api;
    Entra, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups), whichever way
    the spaces and quotes arrive.
    """
    needs(idp, "findUser", encoding)
    sent, default = (_filter_on_the_wire(client, idp, e) for e in (encoding, "default"))
    if encoding != "default" and unquote(sent) == unquote(default):
        pytest.skip(f"the {encoding} form reaches the wire as filter={sent}: percent-decoded, it is the default "
                    "form, which a server reads alike (judged by filter.username-eq)")
    new, user_id = given_user(client, idp, users)
    given_user(client, idp, users)  # a second user, so an ignored filter shows
    requirement = "filter.username-eq" if encoding == "default" else "filter.encodings"
    if encoding != "default" and not finds(client.send(idp.request("findUser", userName=new.userName)), user_id):
        pytest.skip("precondition failed: the %20 form does not find the user either (judged by filter.username-eq)")
    answer = client.send(idp.request("findUser", encoding, userName=new.userName))
    judge_found(verdict, requirement, answer, user_id, new.userName, f"userName ({encoding} encoding)")


@pytest.mark.parametrize("case", ["upper", "lower"])
@pytest.mark.requirement("filter.case-insensitive")
def test_find_user_in_other_case(idp, client, verdict, users, case):
    """Creates a user with a mixed-case userName, then sends the IdP's existence check with the userName
    upper-cased (Okta SCIM 2.0 SPEC test step 17,
    https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json) or lower-cased.

    Verifies: 200 with exactly that user: userName is caseExact false (RFC 7643 §4.1.1, RFC 7644 §3.4.2.2).
    """
    needs_find(idp)
    new, user_id = given_user(client, idp, users)
    if not finds(client.send(idp.request("findUser", userName=new.userName)), user_id):
        pytest.skip("precondition failed: the lookup with the exact userName does not find the user "
                    "(judged by filter.username-eq)")
    other = new.userName.upper() if case == "upper" else new.userName.lower()
    answer = client.send(idp.request("findUser", userName=other))
    judge_found(verdict, "filter.case-insensitive", answer, user_id, new.userName, f"the {case}-cased userName")


@pytest.mark.requirement("filter.externalid-eq")
def test_find_by_external_id(idp, client, verdict, users):
    """Creates two users, then sends the IdP's matching query on externalId for one of them (Entra:
    filter=externalId eq "<externalId>").

    Verifies: 200 with exactly that one user (Entra, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups;
    RFC 7644 §3.4.2.2).
    """
    needs(idp, "findUserByExternalId")
    new, user_id = with_external_id(given_user(client, idp, users))
    given_user(client, idp, users)  # a second user, so an ignored filter shows
    answer = client.send(idp.request("findUserByExternalId", externalId=new.externalId))
    judge_found(verdict, "filter.externalid-eq", answer, user_id, new.userName, f"externalId {new.externalId}")


@pytest.mark.requirement("filter.case-exact")
def test_case_exact_attribute_filter(client, verdict, users):
    """Creates a user with a mixed-case externalId (RFC POST /Users), then sends filter=externalId eq with
    the exact value and with its letters in the other case (RFC probes).

    Verifies: the exact value finds the user, the other case finds nobody (RFC 7644 §3.4.2.2,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2: «the case sensitivity for String type
    attributes SHALL be determined by the attribute's "caseExact" characteristic»; RFC 7643 §3.1: externalId
    is caseExact). Entra matches users on externalId: a case-blind match can link the wrong user.
    """
    external_id = "Ext-" + users.new().externalId
    _, user_id, _ = rfc_user(client, users, externalId=external_id)

    def lookup(value: str):
        expression = quote(f'externalId eq "{value}"', safe="")
        return client.raw("GET", "/Users", query=f"filter={expression}", label="RFC GET /Users?filter=externalId eq")

    exact = lookup(external_id)
    if not finds(exact, user_id):
        pytest.skip("precondition failed: the exact externalId does not find the user (judged by filter.externalid-eq)")
    other = lookup(external_id.swapcase())
    verdict.check("filter.case-exact", other.status == 200 and not resources(other),
                  f"externalId eq {external_id.swapcase()!r} (another case) finds nobody",
                  expected="200 with no resources", actual=f"{other.status or other.error}; "
                  f"{[dig(r, 'id') for r in resources(other)]}", exchange=other)


@pytest.mark.requirement("filter.unquoted-tolerated", "errors.scim-type")
def test_unquoted_filter_value(idp, client, verdict, users):
    """Creates a user, then sends the IdP's legacy matching query with the value unquoted (Entra's
    documentation: filter=externalId eq jyoung).

    Verifies: 200 finding exactly that user, or 400 with a SCIM Error (whose scimType, where named, is
    invalidFilter); never a 5xx or another user (Entra's legacy example,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    needs(idp, "findUserByExternalId", "unquoted")
    new, user_id = with_external_id(given_user(client, idp, users))
    answer = client.send(idp.request("findUserByExternalId", "unquoted", externalId=new.externalId))
    refused = answer.status == 400 and is_scim_error(answer)
    verdict.check("filter.unquoted-tolerated", refused or finds(answer, user_id),
                  "the unquoted value is read as the externalId, or refused as an invalid filter",
                  expected=f"200 with exactly {user_id}, or 400 with a SCIM Error",
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    if refused:
        judge_scim_type(verdict, answer, "invalidFilter")


@pytest.mark.parametrize("query", [
    pytest.param("filter=userName%20regex%20%22x%22", id="unknown-operator"),
    pytest.param("filter=userName%20eq", id="missing-value"),
    pytest.param("filter=userName%20eq%20%22unterminated", id="unterminated-quote"),
    pytest.param("filter=", id="empty"),
    pytest.param("filter=active%20gt%20true", id="boolean-ordering"),
])
@pytest.mark.requirement("filter.invalid-400", "errors.scim-type")
def test_invalid_filter_rejected(client, verdict, query):
    """Sends GET /Users with a malformed filter: an unknown operator (regex), eq without a value, an
    unterminated quote, an empty filter, an ordering comparison of a Boolean (active gt true) (RFC probes;
    no IdP sends them).

    Verifies: 400 with a SCIM Error, not a crash or an unfiltered list; for the unknown operator, scimType
    invalidFilter (RFC 7644 §3.4.2.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2: «Providers
    MUST decline to filter results if the specified filter operation is not recognized and return an HTTP
    400 error with a "scimType" error of "invalidFilter"»; «Boolean and Binary attributes SHALL cause a failed
    response (HTTP status code 400) with "scimType" of "invalidFilter"» for gt, ge, lt, le); for the other
    malformed filters, a scimType
    that is given is invalidFilter (RFC 7644 §3.12 Table 9; errors.scim-type).
    """
    answer = client.raw("GET", "/Users", query=query, label=f"GET /Users?{query}")
    verdict.check("filter.invalid-400", answer.status == 400, "the malformed filter is refused with 400",
                  expected=400, actual=answer.status or answer.error, exchange=answer)
    verdict.check("filter.invalid-400", is_scim_error(answer), "the refusal is a SCIM Error",
                  expected="a SCIM Error body", actual=answer.excerpt(200), exchange=answer)
    if "regex" in query or "active" in query:  # an unknown operator, an ordering of a Boolean: the RFC names it
        verdict.check("filter.invalid-400", dig(answer.json, "scimType") == "invalidFilter",
                      "the unknown operator is refused with scimType invalidFilter", expected="invalidFilter",
                      actual=dig(answer.json, "scimType") or "(no scimType)", exchange=answer)
    else:
        judge_scim_type(verdict, answer, "invalidFilter")


# ---- filter semantics beyond the IdPs' lookups: RFC probes ----

def _filtered(client, expression: str, label: str):
    return client.raw("GET", "/Users", query=f"filter={quote(expression, safe='')}", label=label)


def _skip_refused(answer, what: str) -> None:
    """Filtering beyond what the IdPs send is OPTIONAL (RFC 7644 §3.4.2.2: «Filtering is an OPTIONAL parameter
    for SCIM service providers»); a 400 or 501 refusal of it leaves nothing to judge."""
    if answer.status in (400, 501):
        pytest.skip(f"the target refuses {what} ({answer.status} {dig(answer.json, 'scimType') or ''}): "
                    "nothing to judge")


@pytest.mark.requirement("filter.precedence")
def test_logical_operators_follow_precedence(client, verdict, users):
    """Creates two users A and B (RFC POST /Users), then filters with `A or B and nobody`, `B and nobody or
    A` and `(A or B) and B` on userName (RFC probes).

    Verifies: each answers exactly the users the RFC's order of operations denotes (A, A, B): "and" binds
    tighter than "or", parentheses first, whichever side is written first (RFC 7644 §3.4.2.2,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2: «Filters MUST be evaluated using the following
    order of operations, in order of precedence: 1. Grouping operators 2. Logical operators - where "not"
    takes precedence over "and", which takes precedence over "or" 3. Attribute operators»). A target that
    refuses logical operators (400 or 501) is skipped: filtering is OPTIONAL.
    """
    a, a_id, _ = rfc_user(client, users)
    b, b_id, _ = rfc_user(client, users)
    nobody = f"nobody-{users.new().userName}"
    expressions = {
        f'userName eq "{a.userName}" or userName eq "{b.userName}" and userName eq "{nobody}"': [a_id],
        f'userName eq "{b.userName}" and userName eq "{nobody}" or userName eq "{a.userName}"': [a_id],
        f'(userName eq "{a.userName}" or userName eq "{b.userName}") and userName eq "{b.userName}"': [b_id],
    }
    for expression, wanted in expressions.items():
        answer = _filtered(client, expression, "RFC GET /Users?filter (and, or, parentheses)")
        _skip_refused(answer, "logical operators in a filter")
        found = sorted(str(dig(r, "id")) for r in resources(answer))
        verdict.check("filter.precedence", answer.status == 200 and found == wanted,
                      f"filter={expression} answers exactly the users it denotes", expected=wanted,
                      actual=f"{answer.status or answer.error}; ids {found}", exchange=answer)


@pytest.mark.requirement("filter.defaulted-value")
def test_defaulted_attributes_filter_as_returned(client, verdict, users):
    """Creates a user without active (RFC POST /Users), reads it back, and for each simple attribute the server
    returned though it was not sent (a defaulted value, e.g. active true), filters on userName and that
    attribute's returned value (RFC probes).

    Verifies: each filter finds the user (RFC 7644 §3.4.2.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2:
    «When applying a comparison (e.g., "eq") or presence filter (e.g., "pr") to a defaulted attribute, the
    service provider SHALL use the value that was returned to the client that last created or modified the
    attribute»). A server that returns no defaulted attribute has nothing to judge (skipped); a refusal of the
    filter (400, 501) is allowed: filtering is OPTIONAL.
    """
    new, user_id, sent = rfc_user(client, users, omit=("active",))
    read = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    if read.status != 200 or not isinstance(read.json, dict):
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {read.status or read.error}")
    defaulted = {key: value for key, value in read.json.items()
                 if key not in sent and key.lower() not in ("id", "externalid", "password") and isinstance(value, (str, bool, int))
                 and not isinstance(value, float)}
    if not defaulted:
        pytest.skip("the target returns no attribute the create did not send: no defaulted value to filter on")
    for key, value in sorted(defaulted.items())[:3]:
        literal = json.dumps(value)
        expression = f'userName eq "{new.userName}" and {key} eq {literal}'
        answer = _filtered(client, expression, f"RFC GET /Users?filter (defaulted {key})")
        _skip_refused(answer, f"a filter on {key}")
        found = [str(dig(r, "id")) for r in resources(answer)]
        verdict.check("filter.defaulted-value", answer.status == 200 and found == [user_id],
                      f"{key} eq {literal}, the value the server returned, finds the user", expected=[user_id],
                      actual=f"{answer.status or answer.error}; ids {found}", exchange=answer)


@pytest.mark.requirement("filter.too-many")
def test_broad_query_answered_or_refused_as_too_many(client, verdict):
    """Sends GET /Users?filter=userName pr without count, a query every user matches (RFC probe).

    Verifies: a ListResponse (paged as the server likes), or a refusal with 400 and scimType tooMany (RFC 7644
    §3.4.2.1, https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.1: «If the specified filter would result
    in too many results … the server SHALL reject the request by returning an HTTP response with HTTP status
    code 400 (Bad Request) and JSON attribute "scimType" set to "tooMany"»), or, where the server does not
    support pr, 400 with scimType invalidFilter (§3.4.2.2: «Providers MUST decline to filter results if the
    specified filter operation is not recognized and return an HTTP 400 error with a "scimType" error of
    "invalidFilter"»).
    """
    answer = _filtered(client, "userName pr", "RFC GET /Users?filter=userName pr")
    if answer.status == 501:  # filtering itself is OPTIONAL (§3.4.2.2); 501 says the target offers none
        pytest.skip("the target does not implement filtering (501): no result set to judge")
    listed = answer.status == 200 and list_of(answer) is not None
    refused = answer.status == 400 and dig(answer.json, "scimType") in ("tooMany", "invalidFilter")
    verdict.check("filter.too-many", listed or refused,
                  "the broad query is answered with a ListResponse, or refused with 400 tooMany",
                  expected="200 ListResponse, or 400 scimType tooMany (invalidFilter where pr is not supported)",
                  actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)


# ---- attribute projection (RFC 7644 §3.4.2.5, §3.9): RFC probes; no IdP sends them for users ----

ASKED = "userName,name.familyName"  # an attribute and a sub-attribute
ASKED_URN = f"{CORE_USER}:userName,{CORE_USER}:name.familyName"  # the same, fully qualified (RFC 7644 §3.10)
EXCLUDED = "emails,title,id"  # id is returned always: excluding it has no effect


def _resource(answer, where: str, user_id: str):
    """The user in the answer: the body (by id, or of the PATCH) or the list's resource with that id."""
    if where in ("user", "patch"):
        return answer.json if isinstance(answer.json, dict) else None
    return next((r for r in resources(answer) if str(r.get("id")) == user_id), None)


def _get(client, where: str, user_id: str, user_name: str, parameter: str, value: str):
    if where == "patch":  # RFC 7644 §3.5.2: «MUST return a 200 OK if the "attributes" parameter is specified»
        return rfc_patch(client, user_id, {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "nickName", "value": "Pat"}]}, f"RFC PATCH ?{parameter}", query=f"{parameter}={value}")
    if where == "user":
        return client.raw("GET", f"/Users/{user_id}", query=f"{parameter}={value}",
                          label=f"RFC GET /Users/{{id}}?{parameter}")
    expression = quote(f'userName eq "{user_name}"', safe="")
    return client.raw("GET", "/Users", query=f"filter={expression}&{parameter}={value}",
                      label=f"RFC GET /Users?filter&{parameter}")


def _answered(verdict, answer, where: str, user_id: str):
    verdict.require("filter.projection", answer.status == 200, "the projected read answers 200",
                    expected=200, actual=f"{answer.status or answer.error}: {answer.excerpt(200)}", exchange=answer)
    user = _resource(answer, where, user_id)
    verdict.require("filter.projection", isinstance(user, dict), "the answer holds the user",
                    expected=f"the user {user_id}", actual=answer.excerpt(200), exchange=answer)
    return user


@pytest.mark.parametrize(("where", "asked"), [
    pytest.param("user", ASKED, id="user"), pytest.param("list", ASKED, id="list"),
    pytest.param("patch", ASKED, id="patch"), pytest.param("user", ASKED_URN, id="user-urn"),
    pytest.param("list", ASKED_URN, id="list-urn")])
@pytest.mark.requirement("filter.projection")
def test_attributes_names_what_comes_back(client, verdict, users, discovered, where, asked):
    """Creates a user with a name, emails, a title and a display name (RFC POST /Users), then reads it by id
    (user) or by a userName filter (list), or PATCHes its nickName (patch), with
    attributes=userName,name.familyName, and (user-urn, list-urn) with the same names in their fully
    qualified form (urn:ietf:params:scim:schemas:core:2.0:User:userName, …:name.familyName).

    Verifies: the user holds id and schemas (returned always), userName and name.familyName, and nothing
    else it has: not name.givenName, emails, title, displayName or active, unless GET /Schemas declares one
    of them «returned: "always"» (RFC 7644 §3.9,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.9: «the default list of attributes SHALL be
    overridden, and each resource returned MUST contain the minimum set of resource attributes and any
    attributes or sub-attributes explicitly requested»; §3.4.2.5: the parameters «MUST be supported»; §3.5.2:
    a PATCH with attributes «MUST return a 200 OK»; §3.10: «Attribute names MUST be in standard attribute
    notation», which includes the fully qualified URN form).
    """
    new, user_id, _ = rfc_user(client, users, title="Analyst")
    answer = _get(client, where, user_id, new.userName, "attributes", asked)
    user = _answered(verdict, answer, where, user_id)
    for path in (("id",), ("schemas",), ("userName",), ("name", "familyName")):
        verdict.check("filter.projection", dig(user, *path) is not None, f"{'.'.join(path)} is returned",
                      expected="present", actual=dig(user, *path) or "(absent)", exchange=answer)
    always = returned_always(client, discovered)  # a server may declare more than id «returned: always»
    extra = [".".join(path) for path in (("name", "givenName"), ("emails",), ("title",), ("displayName",), ("active",))
             if dig(user, *path) is not None and path[0].lower() not in always]
    verdict.check("filter.projection", not extra, f"nothing but what attributes={asked} names (and id, schemas)",
                  expected="no other attribute", actual=extra or "(none)", exchange=answer)


@pytest.mark.parametrize("where", ["user", "list"])
@pytest.mark.requirement("filter.projection")
def test_excluded_attributes_leave_out_what_is_named(client, verdict, users, where):
    """Creates a user with a name, emails and a title (RFC POST /Users), then reads it by id (user) or by a
    userName filter (list) with excludedAttributes=emails,title,id.

    Verifies: no emails and no title; id is still there (returned always) and so are userName and name
    (RFC 7644 §3.9: «the default set of attributes minus those attributes listed in "excludedAttributes"
    is returned»; §3.4.2.5: «SHALL have no effect on attributes whose schema "returned" setting is
    "always"», https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.5).
    """
    new, user_id, _ = rfc_user(client, users, title="Analyst")
    answer = _get(client, where, user_id, new.userName, "excludedAttributes", EXCLUDED)
    user = _answered(verdict, answer, where, user_id)
    for path in (("id",), ("userName",), ("name", "familyName")):
        verdict.check("filter.projection", dig(user, *path) is not None, f"{'.'.join(path)} is still returned",
                      expected="present", actual=dig(user, *path) or "(absent)", exchange=answer)
    kept = [name for name in ("emails", "title") if dig(user, name) is not None]
    verdict.check("filter.projection", not kept, "the excluded emails and title are left out",
                  expected="absent", actual=kept or "(none)", exchange=answer)
