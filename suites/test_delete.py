"""Delete checks: the IdP's DELETE /Users/{id} (OneLogin's "Delete" setting, Entra's hard delete), the user
gone afterwards, and DELETE of what is not there; an RFC probe for what a delete leaves behind (the list, the
userName, the id). Okta never deletes users (Okta SCIM 2.0 guide,
https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/)."""

from __future__ import annotations

import uuid

import pytest

from scimcert.suites import CORE_USER, dig, given_user, named, needs, number, resources, rfc_user, values_for

PAGES, PAGE_SIZE = 20, 100  # the walk of the unfiltered list after a delete: at most 2,000 users


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


@pytest.mark.requirement("delete.unknown-404")
def test_delete_unknown_id(idp, client, verdict):
    """Sends the IdP's DELETE /Users/{id} for a random id that never existed.

    Verifies: 404 (RFC 7644 §3.6, §3.12; the Microsoft SCIM Validator's preview test 'delete a non-existent user',
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/scim-validator-tutorial, observed in third-party runs).
    """
    needs(idp, "deleteUser")
    unknown = str(uuid.uuid4())
    answer = client.send(idp.request("deleteUser", id=unknown))
    verdict.check("delete.unknown-404", answer.status == 404, f"DELETE of the unknown id {unknown} answers 404",
                  expected=404, actual=answer.status or answer.error, exchange=answer)


def _walk(client, user_id: str):
    """The unfiltered GET /Users?startIndex=…&count=100, page after page (at most PAGES), until an empty page,
    totalResults, or the page listing `user_id`. Returns (the last page read: the one listing it, if any; the
    user as listed or None; users walked; pages read; totalResults as last read; the answer that was not a 200)."""
    start, walked, pages, total, last = 1, 0, 0, None, None
    while pages < PAGES:
        page = client.raw("GET", "/Users", query=f"startIndex={start}&count={PAGE_SIZE}",
                          label="RFC GET /Users (the unfiltered list, page by page)")
        pages += 1
        if page.status != 200:
            return last, None, walked, pages, total, page
        last, total, found = page, number(dig(page.json, "totalResults")), resources(page)
        listed = next((r for r in found if str(r.get("id")) == user_id), None)
        if listed is not None:
            return page, listed, walked + found.index(listed) + 1, pages, total, None
        walked += len(found)
        start += len(found)
        if not found or (total is not None and start > total):
            break
    return last, None, walked, pages, total, None


@pytest.mark.requirement("delete.omitted-from-list", "delete.username-reusable", "delete.id-not-reused")
def test_deleted_user_leaves_the_list_and_its_id(client, verdict, users):
    """Creates a user (RFC POST /Users) and deletes it (RFC DELETE /Users/{id}), walks the unfiltered
    GET /Users?startIndex=…&count=100 (at most 20 pages, up to an empty page or totalResults), then creates a
    user with the deleted one's userName again (RFC probes).

    Verifies: no page lists the deleted id, not even as an inactive user (RFC 7644 §3.6,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.6: «Service providers MUST omit the resource from future
    query results»); the create with the same userName answers 201 (SHOULD: «a CREATE request for a User
    resource with the same userName as the previously deleted resource SHOULD NOT fail with a 409 error due to
    userName conflict»), and the user it creates has an id of its own (RFC 7643 §3.1,
    https://www.rfc-editor.org/rfc/rfc7643#section-3.1: id «MUST be a stable, non-reassignable identifier»).
    A target whose DELETE does not succeed (204, or 200) is skipped: that is judged by delete.accepted.
    """
    new, user_id, body = rfc_user(client, users)
    gone = client.raw("DELETE", f"/Users/{user_id}", label="RFC DELETE /Users/{id}")
    if gone.status not in (200, 204):
        pytest.skip(f"precondition failed: DELETE /Users/{user_id} answered {gone.status or gone.error} "
                    "(judged by delete.accepted)")

    page, listed, walked, pages, total, broken = _walk(client, user_id)
    if page is None:
        verdict.skip("delete.omitted-from-list", f"GET /Users answered {broken.status or broken.error}: no list "
                     "to look in (judged by the import checks)")
    else:
        seen = f"walked {walked} of {total if total is not None else '?'} listed user(s) on {pages} page(s)" + \
            (f", the walk cut short by a {broken.status or broken.error} answer" if broken is not None else "")
        verdict.check("delete.omitted-from-list", listed is None,
                      f"the unfiltered list no longer holds the deleted user {user_id} ({seen})",
                      expected=f"no user with id {user_id}",
                      actual="(not listed)" if listed is None else
                      {"id": user_id, "userName": listed.get("userName"), "active": listed.get("active")},
                      exchange=page)

    again = client.raw("POST", "/Users", body=body, label="RFC POST /Users (the deleted user's userName)")
    verdict.check("delete.username-reusable", again.status == 201 and again.created_id is not None,
                  f"a create of the deleted user's userName {new.userName!r} succeeds", expected=201,
                  actual=f"{again.status or again.error}: {again.excerpt(200)}", exchange=again)
    if again.created_id is None:
        verdict.skip("delete.id-not-reused", "the create with the deleted user's userName created nobody: no new "
                     "id to compare (judged by delete.username-reusable)")
        return
    verdict.check("delete.id-not-reused", again.created_id != user_id,
                  "the user created with the deleted user's userName has an id of its own",
                  expected=f"an id other than {user_id}", actual=again.created_id, exchange=again)
