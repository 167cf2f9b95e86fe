"""Create checks: the IdP's existence check and POST, the created user read back, duplicates, unknown ids."""

from __future__ import annotations

import uuid

import pytest

from scimcert.suites import created_id, dig, given_user, is_scim_error, resources

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _password_keys(body: object) -> list[str]:
    """The keys of a user body that name the password attribute (attribute names are case-insensitive)."""
    if not isinstance(body, dict):
        return []
    return [k for k in body if isinstance(k, str) and k.lower().rsplit(":", 1)[-1] == "password"]


@pytest.mark.requirement("create.created-201", "create.echo-values", "create.location", "create.get-same",
                         "create.password-never-returned")
def test_create_user(idp, client, verdict, users):
    """Sends the IdP's assignment of a new user (Okta: filter on userName, then POST /Users with the
    password placeholder, groups and externalId), then reads the user back by id and by filter.

    Verifies: 201 with a string id, userName and name echoed with their case, Location equal to
    meta.location, GET /Users/{id} returning the created values, and no password in any answer
    (RFC 7644 §3.3, RFC 7643 §4.1.1, Okta SPEC steps 11 and 13).
    """
    new = users.new()
    client.send(idp.request("findUser", userName=new.userName))  # evidence only: the filter is judged elsewhere
    request = idp.request("createUser", **new.values())
    answer = client.send(request)
    user_id = dig(answer.json, "id")
    verdict.require("create.created-201", answer.status in request.accepts, "the create succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    verdict.require("create.created-201", isinstance(user_id, str) and user_id != "",
                    "the created user carries its id as a non-empty string",
                    expected="a non-empty string id", actual=repr(user_id), exchange=answer)

    sent = {("userName",): new.userName, ("name", "givenName"): new.givenName, ("name", "familyName"): new.familyName}
    for path, value in sent.items():
        verdict.check("create.echo-values", dig(answer.json, *path) == value,
                      f"{'.'.join(path)} is echoed exactly as sent (case preserved)",
                      expected=value, actual=dig(answer.json, *path), exchange=answer)

    location, meta_location = answer.header("location"), dig(answer.json, "meta", "location")
    verdict.check("create.location", bool(location) and location == meta_location,
                  "the Location header is present and equals meta.location",
                  expected=meta_location or "(meta.location and an equal Location header)",
                  actual=location or "(no Location header)", exchange=answer)

    read = client.send(idp.request("getUser", id=user_id))
    verdict.require("create.get-same", read.status == 200, "the created user is readable by id",
                    expected=200, actual=read.status or read.error, exchange=read)
    created = {**sent, ("id",): user_id, ("active",): True, ("externalId",): new.externalId}
    for path, value in created.items():
        verdict.check("create.get-same", dig(read.json, *path) == value,
                      f"GET returns the created {'.'.join(path)}",
                      expected=value, actual=dig(read.json, *path), exchange=read)

    found = client.send(idp.request("findUser", userName=new.userName))
    listed = [r for r in resources(found) if r.get("id") == user_id]
    for exchange, body in [(answer, answer.json), (read, read.json), *((found, r) for r in listed)]:
        verdict.check("create.password-never-returned", not _password_keys(body),
                      f"the answer to {exchange.label} holds no password",
                      expected="no password attribute", actual=_password_keys(body) or "(none)", exchange=exchange)


@pytest.mark.requirement("create.enterprise-extension")
def test_create_with_enterprise_extension(idp, client, verdict, users):
    """Sends the IdP's create with enterprise attributes mapped (Okta: the extension URN in schemas,
    department under it, core title), then reads the user back.

    Verifies: department comes back under the extension URN, which schemas lists (RFC 7643 §3.3, §4.3).
    """
    if "enterprise" not in idp.variants("createUser"):
        pytest.skip(f"{idp.name} sends no enterprise extension on create")
    request = idp.request("createUser", "enterprise", **users.new().values(), title="Staff Engineer",
                          department="Platform Reliability")
    answer = client.send(request)
    verdict.require("create.enterprise-extension", answer.status in request.accepts and created_id(answer),
                    "the create with the enterprise extension succeeds", expected=request.accepts,
                    actual=answer.status or answer.error, exchange=answer)
    read = client.send(idp.request("getUser", id=created_id(answer)))
    verdict.check("create.enterprise-extension", dig(read.json, ENTERPRISE, "department") == "Platform Reliability",
                  "department is stored under the extension URN", expected="Platform Reliability",
                  actual=dig(read.json, ENTERPRISE, "department"), exchange=read)
    verdict.check("create.enterprise-extension", ENTERPRISE in (dig(read.json, "schemas") or []),
                  "schemas lists the extension URN", expected=ENTERPRISE, actual=dig(read.json, "schemas"),
                  exchange=read)


def _duplicate(name: str, requirements: tuple[str, ...]):
    return pytest.param(name, requirements, id=name, marks=pytest.mark.requirement(*requirements))


@pytest.mark.parametrize("duplicate, requirements", [
    _duplicate("same-body", ("create.duplicate-409", "create.duplicate-uniqueness")),
    _duplicate("case-variant", ("create.case-variant-409",)),
])
def test_duplicate_username_conflicts(idp, client, verdict, users, duplicate, requirements):
    """Creates a user, then sends the IdP's create again: the same body (Okta SPEC step 15), or another
    user (own externalId and email) whose userName differs from the existing one only in case.

    Verifies: 409 with scimType uniqueness for the same userName, 409 for the case variant
    (RFC 7644 §3.3, §3.12; RFC 7643 §4.1.1 userName caseExact false).
    """
    new, existing_id = given_user(client, idp, users)
    values = new.values() if duplicate == "same-body" else {**users.new().values(), "userName": new.userName.swapcase()}
    request = idp.request("createUser", **values)
    answer = client.send(request)
    actual = answer.status or answer.error
    if answer.status in request.accepts:
        actual = f"{answer.status}: created a second user (id {created_id(answer)}) beside {existing_id}"
    verdict.check(requirements[0], answer.status == 409,
                  f"a create of {values['userName']!r} while {new.userName!r} exists is refused as a conflict",
                  expected=409, actual=actual, exchange=answer)
    if "create.duplicate-uniqueness" in requirements and answer.status == 409:
        verdict.check("create.duplicate-uniqueness", dig(answer.json, "scimType") == "uniqueness",
                      "the conflict names scimType uniqueness", expected="uniqueness",
                      actual=dig(answer.json, "scimType") or "(absent)", exchange=answer)


@pytest.mark.requirement("create.unknown-id-404")
def test_unknown_id_not_found(idp, client, verdict):
    """Sends the IdP's read by id for ids that do not exist (Okta's SPEC test ids, and a random UUID).

    Verifies: each answers 404 with a SCIM Error body (RFC 7644 §3.12; Okta SPEC steps 7 and 23).
    """
    for unknown in [*idp.unknown_ids, str(uuid.uuid4())]:
        answer = client.send(idp.request("getUser", id=unknown))
        verdict.check("create.unknown-id-404", answer.status == 404 and is_scim_error(answer),
                      f"GET of the unknown id {unknown} answers 404 with a SCIM Error",
                      expected="404 with a SCIM Error body", actual=f"{answer.status or answer.error}: "
                      f"{answer.excerpt(200)}", exchange=answer)
