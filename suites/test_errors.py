"""Error handling probes no IdP sends on purpose, but every IdP meets when a body goes wrong; and the
media type of JSON responses, which the IdPs read differently (Entra insists on application/scim+json;
OneLogin documents application/json; Okta tolerates either)."""

from __future__ import annotations

import uuid

import pytest

from scimcert.suites import given_user, is_scim_error, judge_scim_type

MALFORMED = {
    "truncated": b'{"userName": "broken@example.com", "name": {"givenName": "Bro',
    "not-json": b"userName=broken@example.com",
    "trailing-comma": b'{"userName": "broken@example.com",}',
}


@pytest.mark.parametrize("body", list(MALFORMED))
@pytest.mark.requirement("errors.malformed-400", "errors.scim-type")
def test_malformed_body_is_a_client_error(client, verdict, body):
    """Sends POST /Users with a body that is not valid JSON (truncated, form-encoded, trailing comma).

    Verifies: 400 with a SCIM Error, never a 5xx (RFC 7644 §3.12 Table 8, "Request is unparsable");
    where the error names a scimType (OPTIONAL), it is invalidSyntax (Table 9).
    """
    answer = client.raw("POST", "/Users", content=MALFORMED[body], label=f"POST /Users ({body} body)")
    verdict.check("errors.malformed-400", answer.status == 400,
                  "a malformed body answers 400", expected=400, actual=answer.status or answer.error, exchange=answer)
    verdict.check("errors.malformed-400", is_scim_error(answer), "the answer is a SCIM Error",
                  expected="a SCIM Error body", actual=answer.excerpt(200), exchange=answer)
    judge_scim_type(verdict, answer, "invalidSyntax")


def _media_type(answer) -> str:
    return answer.content_type.split(";")[0].strip().lower()


@pytest.mark.requirement("errors.idp-content-type")
def test_response_media_type(idp, client, verdict, users):
    """Sends the IdP's connection test, creates a user, reads it by id and by the IdP's lookup, and reads
    an id that does not exist.

    Verifies: each JSON answer is labelled with a media type the IdP accepts, and records which one the
    endpoint sends (Entra: application/scim+json only,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups; OneLogin documents
    application/json, https://developers.onelogin.com/scim/implement-scim-api; Okta tolerates application/json,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/). Whether the RFC's
    application/scim+json is sent is judged for every IdP by errors.content-type.
    """
    new, user_id = given_user(client, idp, users)
    answers = [client.send(idp.request("testCredentials")),
               client.send(idp.request("getUser", id=user_id)),
               client.send(idp.request("findUser", userName=new.userName)),
               client.send(idp.request("getUser", id=str(uuid.uuid4())))]
    accepted = [t.lower() for t in idp.response_content_types]
    if not any(a.is_json for a in answers):
        verdict.skip("errors.idp-content-type", "no answer had a JSON body to judge")
    for answer in (a for a in answers if a.is_json):
        verdict.check("errors.idp-content-type", _media_type(answer) in accepted,
                      f"{answer.label} answers {_media_type(answer) or '(no Content-Type)'}, which {idp.name} reads",
                      expected=" or ".join(accepted), actual=answer.content_type or "(none)", exchange=answer)


@pytest.mark.requirement("errors.unknown-endpoint-404")
def test_unknown_endpoint_answers_404(client, verdict):
    """Sends GET to an endpoint no SCIM server has (/scimcert-no-such-endpoint), with the valid token.

    Verifies: 404 with a SCIM Error body (RFC 7644 §3.12 Table 8, https://www.rfc-editor.org/rfc/rfc7644#section-3.12:
    404 «Specified resource (e.g., User) or endpoint does not exist»; «implementers MUST return the errors
    in the body of the response in a JSON format»).
    """
    answer = client.raw("GET", "/scimcert-no-such-endpoint", label="RFC GET of an unknown endpoint")
    verdict.check("errors.unknown-endpoint-404", answer.status == 404, "an unknown endpoint answers 404",
                  expected=404, actual=answer.status or answer.error, exchange=answer)
    verdict.check("errors.unknown-endpoint-404", is_scim_error(answer), "the 404 is a SCIM Error",
                  expected="a SCIM Error body", actual=answer.excerpt(200), exchange=answer)
