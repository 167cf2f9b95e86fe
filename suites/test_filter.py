"""Filter checks: Okta's existence check (GET /Users?filter=userName eq "...") and the RFC's invalid filters."""

from __future__ import annotations

import pytest

from scimcert.suites import dig, given_user, is_scim_error, list_of, number, resources, variant


def needs_find(idp) -> None:
    if not idp.has("findUser"):
        pytest.skip(f"{idp.name} does not look users up by userName")


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


@pytest.mark.requirement("filter.no-match-200")
def test_unknown_user_not_found(idp, client, verdict, users, target):
    """Sends the IdP's existence check for a userName nobody has (Okta SPEC steps 5 and 9).

    Verifies: 200 with a ListResponse, totalResults 0 and no resources, never 404 (RFC 7644 §3.4.2).
    """
    needs_find(idp)
    nobody = users.new()
    answer = client.send(idp.request("findUser", variant(target, "findUser"), userName=nobody.userName))
    verdict.require("filter.no-match-200", answer.status == 200, "a lookup that matches nobody answers 200, not 404",
                    expected=200, actual=answer.status or answer.error, exchange=answer)
    body = list_of(answer)
    verdict.check("filter.no-match-200", body is not None and number(body.get("totalResults")) == 0
                  and not resources(answer), "it answers an empty ListResponse (totalResults 0, no resources)",
                  expected={"totalResults": 0, "Resources": "none"},
                  actual=answer.excerpt(200), exchange=answer)


def _encoding(name: str, requirement: str):
    return pytest.param(name, id=name, marks=pytest.mark.requirement(requirement))


@pytest.mark.parametrize("encoding", [
    _encoding("default", "filter.username-eq"),  # Okta REF20: %20 and %22
    _encoding("plus", "filter.encodings"),       # Okta REF2019: + for spaces
    _encoding("literal", "filter.encodings"),    # Okta Runscope tests: raw spaces and quotes
])
def test_find_created_user(idp, client, verdict, users, encoding):
    """Creates two users, then sends the IdP's existence check for one of them, in the IdP's encoding
    (default: userName%20eq%20%22...%22; plus: userName+eq+%22...%22; literal: userName eq "...").

    Verifies: 200 with exactly that one user (RFC 7644 §3.4.2.2; okta.md §3.1), whichever way the spaces
    and quotes arrive.
    """
    needs_find(idp)
    if encoding not in idp.variants("findUser"):
        pytest.skip(f"{idp.name} does not send the {encoding} form of its existence check")
    new, user_id = given_user(client, idp, users)
    given_user(client, idp, users)  # a second user, so an ignored filter shows
    requirement = "filter.username-eq" if encoding == "default" else "filter.encodings"
    if encoding != "default" and not finds(client.send(idp.request("findUser", userName=new.userName)), user_id):
        pytest.skip("precondition failed: the %20 form does not find the user either (judged by filter.username-eq)")
    answer = client.send(idp.request("findUser", encoding, userName=new.userName))
    judge_found(verdict, requirement, answer, user_id, new.userName, f"userName ({encoding} encoding)")


@pytest.mark.parametrize("case", ["upper", "lower"])
@pytest.mark.requirement("filter.case-insensitive")
def test_find_user_in_other_case(idp, client, verdict, users, target, case):
    """Creates a user with a mixed-case userName, then sends the IdP's existence check with the userName
    upper-cased (Okta SPEC step 17) or lower-cased.

    Verifies: 200 with exactly that user: userName is caseExact false (RFC 7643 §4.1.1, RFC 7644 §3.4.2.2).
    """
    needs_find(idp)
    new, user_id = given_user(client, idp, users)
    form = variant(target, "findUser")
    if not finds(client.send(idp.request("findUser", form, userName=new.userName)), user_id):
        pytest.skip("precondition failed: the lookup with the exact userName does not find the user "
                    "(judged by filter.username-eq)")
    other = new.userName.upper() if case == "upper" else new.userName.lower()
    answer = client.send(idp.request("findUser", form, userName=other))
    judge_found(verdict, "filter.case-insensitive", answer, user_id, new.userName, f"the {case}-cased userName")


@pytest.mark.parametrize("query", [
    pytest.param("filter=userName%20regex%20%22x%22", id="unknown-operator"),
    pytest.param("filter=userName%20eq", id="missing-value"),
    pytest.param("filter=userName%20eq%20%22unterminated", id="unterminated-quote"),
    pytest.param("filter=", id="empty"),
])
@pytest.mark.requirement("filter.invalid-400")
def test_invalid_filter_rejected(client, verdict, query):
    """Sends GET /Users with a malformed filter: an unknown operator (regex), eq without a value, an
    unterminated quote, an empty filter (RFC probes; no IdP sends them).

    Verifies: 400 with scimType invalidFilter, not a crash or an unfiltered list (RFC 7644 §3.4.2.2).
    """
    answer = client.raw("GET", "/Users", query=query, label=f"GET /Users?{query}")
    verdict.check("filter.invalid-400", answer.status == 400, "the malformed filter is refused with 400",
                  expected=400, actual=answer.status or answer.error, exchange=answer)
    verdict.check("filter.invalid-400", is_scim_error(answer) and dig(answer.json, "scimType") == "invalidFilter",
                  "the refusal is a SCIM Error with scimType invalidFilter", expected="invalidFilter",
                  actual=dig(answer.json, "scimType") or answer.excerpt(200), exchange=answer)
