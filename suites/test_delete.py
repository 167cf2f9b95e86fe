"""Delete checks: the IdP's DELETE /Users/{id} (OneLogin's "Delete" setting, Entra's hard delete), the user
gone afterwards, and DELETE of what is not there. Okta never deletes users (Okta SCIM 2.0 guide,
https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/)."""

from __future__ import annotations

import uuid

import pytest

from scimcert.suites import CORE_USER, given_user, named, needs, values_for


@pytest.mark.requirement("delete.accepted", "delete.gone-404", "delete.missing-404")
def test_deleted_user_is_gone(idp, client, verdict, users):
    """Creates a user and looks it up by its userName the IdP's way, sends the IdP's DELETE /Users/{id},
    then reads the user by id, sends the IdP's update of it, looks it up again, and sends the DELETE again.

    Verifies: the DELETE answers 204 (OneLogin also takes 200); afterwards GET and the IdP's update answer
    404 (RFC 7644 §3.6, https://www.rfc-editor.org/rfc/rfc7644#section-3.6: «MUST return a 404 (Not Found)
    error code for all operations associated with the previously deleted resource»), the lookup that found
    the user finds nobody, and the second DELETE answers 404 (OneLogin's
    Delete setting, https://developers.onelogin.com/scim/test-your-scim; Entra's hard delete,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups; the Microsoft SCIM Validator's
    preview test 'delete twice', https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial, observed in
    third-party runs).
    """
    needs(idp, "deleteUser")
    new, user_id = given_user(client, idp, users)
    lookup = idp.request("findUser", userName=new.userName)
    control = client.send(lookup)  # the lookup works while the user exists
    lookup_works = [str(r.get("id")) for r in named(control, new.userName)] == [user_id]
    request = idp.request("deleteUser", id=user_id)
    answer = client.send(request)
    verdict.require("delete.accepted", answer.status in request.accepts, "the DELETE succeeds",
                    expected=list(request.accepts), actual=answer.status or answer.error, exchange=answer)

    read = client.send(idp.request("getUser", id=user_id))
    verdict.check("delete.gone-404", read.status == 404, "GET of the deleted user answers 404",
                  expected=404, actual=f"{read.status or read.error}: {read.excerpt(200)}", exchange=read)
    if lookup_works:  # otherwise the lookup itself is broken: judged by filter.*
        found = client.send(lookup)
        ids = [r.get("id") for r in named(found, new.userName)]
        # a 404 says "nobody" too; whether the IdP takes a 404 for a lookup is judged by filter.no-match-*
        verdict.check("delete.gone-404", found.status == 404 or (found.status == 200 and not ids),
                      "the userName lookup no longer finds the deleted user",
                      expected=f"no user {new.userName}", actual=f"{found.status or found.error}; ids {ids}",
                      exchange=found)
    if idp.has("updateUser"):  # RFC 7644 §3.6: 404 "for all operations associated with the previously deleted resource"
        update = idp.request("updateUser", **values_for(new, id=user_id, title="Written after the delete"),
                             current={"schemas": [CORE_USER], "id": user_id, "userName": new.userName})
        written = client.send(update)
        verdict.check("delete.gone-404", written.status == 404, f"the IdP's update ({update.method}) of the deleted "
                      "user answers 404", expected=404, actual=f"{written.status or written.error}: "
                      f"{written.excerpt(200)}", exchange=written)
    again = client.send(idp.request("deleteUser", id=user_id))
    verdict.check("delete.missing-404", again.status == 404, "a second DELETE of the user answers 404",
                  expected=404, actual=again.status or again.error, exchange=again)


@pytest.mark.requirement("delete.missing-404")
def test_delete_unknown_id(idp, client, verdict):
    """Sends the IdP's DELETE /Users/{id} for a random id that never existed.

    Verifies: 404 (RFC 7644 §3.6, §3.12; the Microsoft SCIM Validator's preview test 'delete a non-existent user',
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial, observed in third-party runs).
    """
    needs(idp, "deleteUser")
    unknown = str(uuid.uuid4())
    answer = client.send(idp.request("deleteUser", id=unknown))
    verdict.check("delete.missing-404", answer.status == 404, f"DELETE of the unknown id {unknown} answers 404",
                  expected=404, actual=answer.status or answer.error, exchange=answer)
