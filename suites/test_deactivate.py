"""Deactivation checks: the IdP's deactivation in each of its shapes, the user still readable and findable
with active false, and reactivation on the same id (or its refusal where the target declares it)."""

from __future__ import annotations

import pytest

from scimcert.suites import dig, given_user, is_scim_error, named, needs, variant_params, write_request

SHAPES = variant_params("deactivateUser")


def _applies(idp, shape: str) -> None:
    """Skip a shape the IdP never sends, or one the tenant's chosen variant (target `variants`) rules out."""
    needs(idp, "deactivateUser", shape)
    chosen = idp.chosen.get("deactivateUser")
    if chosen and chosen != shape:
        pytest.skip(f"the target declares deactivateUser={chosen}: "
                    f"its {idp.name} app does not send the '{shape}' shape")


def _reads_as(value: object, wanted: bool) -> bool:
    """Whether `value` is `wanted`, as a lenient reader takes it (a boolean, or the string "true"/"false").
    The representation itself (a JSON boolean, present) is judged by deactivate.readable and schema.*."""
    return value is wanted or (isinstance(value, str) and value.strip().lower() == str(wanted).lower())


def _active(body: object) -> object:
    if not isinstance(body, dict):
        return "(not a JSON object)"
    return body["active"] if "active" in body else "(absent)"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.requirement("deactivate.accepted", "deactivate.readable", "deactivate.found-by-filter")
def test_deactivated_user_stays_readable(idp, client, verdict, users, shape):
    """Creates a user, sends the IdP's deactivation in this shape (Okta OIN: path-less PATCH replace
    {active: false}; Okta AIW: GET, then PUT of the whole user with active false; OneLogin Suspend: PUT
    of its template with active false, or the string "false"; Entra: PATCH Replace active "False", or
    replace active false with aadOptscim062020), then reads the user by id and by the IdP's userName filter.

    Verifies: the deactivation answers 200 with the user or 204, GET /Users/{id} then answers 200 with
    active present as the boolean false, and the userName filter, which found the user while active,
    still finds exactly that user, inactive (Okta SCIM 2.0 guide, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/;
    Okta SCIM 2.0 CRUD test steps 11 and 19, published with https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json;
    OneLogin's Suspend setting, https://developers.onelogin.com/scim/test-your-scim; Entra,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility and
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    """
    _applies(idp, shape)
    new, user_id = given_user(client, idp, users)
    control = client.send(idp.request("findUser", userName=new.userName))  # the lookup works for an active user
    lookup_works = [str(r.get("id")) for r in named(control, new.userName)] == [user_id]
    request = write_request(client, idp, "deactivateUser", new, user_id, shape, active=False)
    answer = client.send(request)
    verdict.require("deactivate.accepted", answer.status in request.accepts, "the deactivation succeeds",
                    expected=request.accepts, actual=answer.status or answer.error, exchange=answer)
    if answer.status == 200:
        verdict.check("deactivate.accepted", not _reads_as(dig(answer.json, "active"), True),
                      "the 200 answer shows the user after the change, not still active",
                      expected="active false", actual=_active(answer.json), exchange=answer)

    read = client.send(idp.request("getUser", id=user_id))
    verdict.check("deactivate.readable", read.status == 200, "the deactivated user is still readable by id",
                  expected=200, actual=read.status or read.error, exchange=read)
    if read.status == 200:
        verdict.check("deactivate.readable", dig(read.json, "active") is False,
                      "GET shows active as the JSON boolean false",
                      expected=False, actual=_active(read.json), exchange=read)

    if not lookup_works:
        verdict.skip("deactivate.found-by-filter", f"the userName lookup does not find the user even while it is "
                     f"active (answered {control.status or control.error}): judged by filter.username-eq")
        return
    found = client.send(idp.request("findUser", userName=new.userName))
    matches = named(found, new.userName)
    ids = [str(r.get("id")) for r in matches]
    verdict.check("deactivate.found-by-filter", found.status == 200 and ids == [user_id],
                  "the userName filter finds the deactivated user, once, under its id",
                  expected=f"200 with one resource, id {user_id}",
                  actual=f"{found.status or found.error}; ids found: {ids}", exchange=found)
    for resource in matches:
        verdict.check("deactivate.found-by-filter", not _reads_as(resource.get("active"), True),
                      "the user found by the filter is inactive",
                      expected="active false", actual=_active(resource), exchange=found)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.requirement("deactivate.reactivate")
def test_reactivation(idp, client, verdict, target, users, shape):
    """Creates and deactivates a user (in this shape), then sends the IdP's reactivation in the same
    shape (Okta OIN: path-less PATCH replace {active: true}; AIW: GET, then PUT with active true;
    OneLogin: PUT of its template to the stored id with active true or "true"; Entra: Replace active
    "True", or true), and reads the user back.

    Verifies: where the target supports reactivation, it answers 200 or 204 and GET shows active true on
    the same id with userName and name kept; where it declares reactivation refused (SCIM_REACTIVATION),
    the answer is a 4xx SCIM Error and the user stays inactive (Okta SCIM 2.0 CRUD test step 15 and OIN test
    plan C9293, published with https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json; Asana does not
    support reactivating users, https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM).
    """
    _applies(idp, shape)
    new, user_id = given_user(client, idp, users)
    off_request = write_request(client, idp, "deactivateUser", new, user_id, shape, active=False)
    off = client.send(off_request)
    before = client.send(idp.request("getUser", id=user_id))
    if off.status not in off_request.accepts or before.status != 200 or _reads_as(dig(before.json, "active"), True):
        pytest.skip(f"precondition failed: the user could not be deactivated (deactivation answered "
                    f"{off.status or off.error}, GET answered {before.status or before.error} with active "
                    f"{_active(before.json)}; judged by deactivate.accepted and deactivate.readable)")

    needs(idp, "reactivateUser")
    back = shape if shape in idp.variants("reactivateUser") else "default"
    request = write_request(client, idp, "reactivateUser", new, user_id, back, active=True)
    answer = client.send(request)
    after = client.send(idp.request("getUser", id=user_id))

    if target.reactivation == "refused":
        verdict.check("deactivate.reactivate", answer.status is not None and 400 <= answer.status < 500
                      and is_scim_error(answer),
                      "the target declares reactivation refused: the request is refused with a SCIM Error",
                      expected="4xx with a SCIM Error body", actual=answer.excerpt(200), exchange=answer)
        verdict.check("deactivate.reactivate", after.status == 200 and not _reads_as(dig(after.json, "active"), True),
                      "after the refused reactivation the user is still readable and inactive",
                      expected="200 with active false",
                      actual=f"{after.status or after.error}, active {_active(after.json)}", exchange=after)
        return

    verdict.require("deactivate.reactivate", answer.status in request.accepts, "the reactivation succeeds",
                    expected=f"{list(request.accepts)} (or declare SCIM_REACTIVATION=refused if the target refuses it)",
                    actual=answer.status or answer.error, exchange=answer)
    verdict.require("deactivate.reactivate", after.status == 200, "the reactivated user is readable by its id",
                    expected=200, actual=after.status or after.error, exchange=after)
    verdict.check("deactivate.reactivate", _reads_as(dig(after.json, "active"), True), "GET shows the user active",
                  expected=True, actual=_active(after.json), exchange=after)
    for path in (("id",), ("userName",), ("name", "givenName"), ("name", "familyName")):
        verdict.check("deactivate.reactivate", dig(after.json, *path) == dig(before.json, *path),
                      f"{'.'.join(path)} is kept by the reactivation",
                      expected=dig(before.json, *path), actual=dig(after.json, *path), exchange=after)
