"""Token checks: the IdP's connection test (Okta "Test API Credentials", OneLogin "Enable", Entra "Test
Connection"), and every way a request can lack a valid token."""

from __future__ import annotations

import re
import uuid

import pytest

from scimcert.suites import (
    TOLERANCE,
    dig,
    found_nobody,
    given_user,
    integer_paging,
    is_scim_error,
    list_of,
    named,
    values_for,
    write_request,
)


@pytest.mark.requirement("token.test-credentials")
def test_test_api_credentials(idp, client, verdict):
    """Sends the IdP's connection test with the valid token (Okta: GET /Users?startIndex=1&count=2;
    OneLogin: GET /Users?filter=userName+eq+%22<non-existent>%22&; Entra: GET /Users?filter=userName eq
    "<random GUID>").

    Verifies: it answers a status the IdP accepts; a 200 is a ListResponse with a Resources array and, for
    Okta's paging probe, integer paging numbers even when the tenant is empty, for a filter probe an
    integer totalResults 0 and no resources (Okta KB 'No results for users returned',
    https://support.okta.com/help/s/article/okta-scim-connector-error-no-results-for-users-returned-when-testing-connection;
    OneLogin, https://developers.onelogin.com/scim/implement-scim-api; Entra,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups). OneLogin also
    takes 404; that the RFC prefers the empty list is judged by filter.no-match-list.
    """
    request = idp.request("testCredentials", probe=str(uuid.uuid4()))
    answer = client.send(request)
    verdict.require("token.test-credentials", answer.status in request.accepts,
                    "the connection test succeeds", expected=list(request.accepts),
                    actual=answer.status or answer.error, exchange=answer)
    if answer.status != 200:
        return  # a 404 the IdP accepts (OneLogin): nothing more to read
    body = list_of(answer)
    if "filter=" not in request.query:
        verdict.check("token.test-credentials", body is not None and isinstance(body.get("Resources"), list)
                      and integer_paging(body),
                      "the answer is a full ListResponse (integers, Resources present)",
                      expected="ListResponse with integer totalResults/startIndex/itemsPerPage and a Resources array",
                      actual=answer.excerpt(200), exchange=answer)
        return
    total = body.get("totalResults") if body is not None else None
    verdict.check("token.test-credentials", body is not None and body.get("Resources", []) == []
                  and isinstance(total, int) and not isinstance(total, bool) and total == 0,
                  "the probe for a non-existent userName answers an empty ListResponse",
                  expected={"totalResults": 0, "Resources": []}, actual=answer.excerpt(200), exchange=answer)


def _credential(name: str, header: str | None, requirement: str):
    return pytest.param(name, header, requirement, id=name, marks=pytest.mark.requirement(requirement))


@pytest.mark.parametrize("credential, header, requirement", [
    _credential("missing", None, "token.missing-401"),
    _credential("empty-bearer", "Bearer", "token.invalid-401"),
    _credential("unknown-token", "Bearer scimcert-unknown-token-0000000000", "token.invalid-401"),
    _credential("token-with-a-character-more", "Bearer {token}x", "token.invalid-401"),
    _credential("token-without-its-last-character", "Bearer {token-cut}", "token.invalid-401"),
    _credential("token-in-another-case", "Bearer {token-case}", "token.invalid-401"),
    _credential("basic-scheme", "Basic c2NpbWNlcnQ6c2NpbWNlcnQ=", "token.invalid-401"),
    _credential("revoked-token", "Bearer {revoked}", "token.revoked-401"),
])
@pytest.mark.requirement("token.error-body", "token.www-authenticate")
def test_bad_credentials_rejected(idp, client, verdict, target, credential, header, requirement):
    """Sends the IdP's connection test without a valid token: missing, empty, unknown, the valid token with
    a character more, without its last character or in another letter case, the Basic scheme, a revoked
    token. (The valid token without a scheme is not sent: Okta's "Header" authentication mode sends exactly
    that, https://developer.okta.com/docs/guides/submit-oin-app/scim/main/, so a server may
    accept it.)

    Verifies: 401 with a SCIM Error body, and a WWW-Authenticate challenge naming the Bearer scheme the
    IdPs use (RFC 7644 §2, https://www.rfc-editor.org/rfc/rfc7644#section-2: the service provider «SHALL
    indicate supported HTTP authentication schemes via the "WWW-Authenticate" header»; RFC 6750 §3: «All
    challenges defined by this specification MUST use the auth-scheme value "Bearer"»). A token is a
    secret compared exactly: nearly the token is not the token (RFC 6750 §3.1 invalid_token).
    """
    if "{revoked}" in (header or "") and not target.revoked_token:
        pytest.skip("no revoked token configured (set SCIM_REVOKED_TOKEN)")
    if "{token-case}" in (header or "") and target.token.swapcase() == target.token:
        pytest.skip("the configured token has no letters: no other letter case to try")
    if header is not None:
        header = (header.replace("{token-cut}", target.token[:-1]).replace("{token-case}", target.token.swapcase())
                  .replace("{token}", target.token).replace("{revoked}", target.revoked_token or ""))
    answer = client.send(idp.request("testCredentials"), auth=header)
    verdict.check(requirement, answer.status == 401, f"a request with a {credential} credential is refused",
                  expected=401, actual=answer.status or answer.error, exchange=answer)
    verdict.check("token.error-body", is_scim_error(answer), "the refusal carries a SCIM Error body",
                  expected="SCIM Error", actual=answer.excerpt(200), exchange=answer)
    challenge = answer.header("www-authenticate") or ""
    verdict.check("token.www-authenticate", re.search(r"(^|,)\s*bearer\b", challenge, re.IGNORECASE) is not None,
                  "the refusal challenges with the Bearer scheme in WWW-Authenticate",
                  expected='WWW-Authenticate: Bearer realm="..."', actual=challenge or "(absent)", exchange=answer)


@pytest.mark.parametrize("credential, header", [
    ("missing", None),
    ("unknown-token", "Bearer scimcert-unknown-token-0000000000"),
], ids=["missing", "unknown-token"])
@pytest.mark.requirement("token.writes-refused")
def test_writes_without_token_change_nothing(idp, client, verdict, users, credential, header):
    """Creates a user with the valid token, then sends the IdP's writes without a valid token: a create of
    another user, each shape of its profile update (Okta: read-modify-write PUT and path-less PATCH;
    OneLogin: PUT of its template; Entra: both of its PATCH shapes) with another name and a title, reads
    back with the valid token, then sends the IdP's DELETE (an RFC DELETE for IdPs that never delete)
    without a valid token and reads the user again.

    Verifies: each write answers 401, the POSTed user does not exist, and the existing user is still
    there and unchanged (RFC 7644 §2; RFC 6750 §3.1).
    """
    new, user_id = given_user(client, idp, users)
    before = client.send(idp.request("getUser", id=user_id)).json
    intruder = users.new()
    change = {"title": "Changed without a token", "givenName": intruder.givenName, "familyName": intruder.familyName}
    writes = [idp.request("createUser", **values_for(intruder))]
    writes += [write_request(client, idp, "updateUser", new, user_id, shape, **change)
               for shape in idp.variants("updateUser") if shape not in TOLERANCE]
    for answer in [client.send(request, auth=header) for request in writes]:
        _refused(verdict, answer, credential)

    lookup = idp.request("findUser", userName=intruder.userName)
    found = client.send(lookup)
    created = [r.get("id") for r in named(found, intruder.userName)]
    verdict.check("token.writes-refused", found_nobody(found, lookup) or (found.status == 200 and not created),
                  "the user POSTed without a valid token does not exist",
                  expected=f"no user {intruder.userName}",
                  actual=f"{found.status or found.error}, found as id(s) {created}" if created
                  else found.status or found.error, exchange=found)
    after = client.send(idp.request("getUser", id=user_id))
    for path in [("name", "givenName"), ("name", "familyName"), ("title",), ("active",)]:
        verdict.check("token.writes-refused", dig(after.json, *path) == dig(before, *path),
                      f"{'.'.join(path)} is unchanged by the updates", expected=dig(before, *path),
                      actual=dig(after.json, *path) if after.status == 200 else after.status or after.error,
                      exchange=after)

    delete = idp.request("deleteUser", id=user_id) if idp.has("deleteUser") else None
    _refused(verdict, client.send(delete, auth=header) if delete else
             client.raw("DELETE", f"/Users/{user_id}", auth=header), credential)
    still = client.send(idp.request("getUser", id=user_id))
    verdict.check("token.writes-refused", still.status == 200, "the user is still there after the DELETE",
                  expected=200, actual=still.status or still.error, exchange=still)


def _refused(verdict, answer, credential: str) -> None:
    verdict.check("token.writes-refused", answer.status == 401,
                  f"{answer.method} with a {credential} credential is refused",
                  expected=401, actual=answer.status or answer.error, exchange=answer)
