"""Error handling probes no IdP sends on purpose, but every IdP meets when a body goes wrong."""

from __future__ import annotations

import pytest

from scimcert.suites import dig, is_scim_error

MALFORMED = {
    "truncated": b'{"userName": "broken@example.com", "name": {"givenName": "Bro',
    "not-json": b"userName=broken@example.com",
    "trailing-comma": b'{"userName": "broken@example.com",}',
}


@pytest.mark.parametrize("body", list(MALFORMED))
@pytest.mark.requirement("errors.malformed-400")
def test_malformed_body_is_a_client_error(client, verdict, body):
    """Sends POST /Users with a body that is not valid JSON (truncated, form-encoded, trailing comma).

    Verifies: 400 with scimType invalidSyntax, never a 5xx (RFC 7644 §3.12 Tables 8 and 9).
    """
    answer = client.raw("POST", "/Users", content=MALFORMED[body], label=f"POST /Users ({body} body)")
    verdict.check("errors.malformed-400", answer.status == 400,
                  "a malformed body answers 400", expected=400, actual=answer.status or answer.error, exchange=answer)
    verdict.check("errors.malformed-400", is_scim_error(answer) and dig(answer.json, "scimType") == "invalidSyntax",
                  "the answer is a SCIM Error with scimType invalidSyntax", expected="scimType invalidSyntax",
                  actual=dig(answer.json, "scimType") if is_scim_error(answer) else answer.excerpt(200),
                  exchange=answer)
