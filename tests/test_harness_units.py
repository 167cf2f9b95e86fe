"""Unit tests of the harness: configuration, redaction, profiles, requirements, verdicts, client."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from scimcert import config
from scimcert.client import EMPTY_ERROR, Exchange, response_kind
from scimcert.paths import FIXTURES
from scimcert.profiles import ProfileError, profiles, render, select
from scimcert.redact import MASK, Redactor
from scimcert.requirements import CatalogueError, lookup
from scimcert.validation import Violation, validate
from scimcert.verdict import NotReached, Verdict

# ---- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("url, refused", [
    ("http://127.0.0.5:8080/scim/v2", False), ("http://[::1]:8080/scim/v2", False),
    ("http://localhost/scim/v2", False), ("https://scim.example.net/scim/v2", False),
    ("http://10.0.0.1/scim/v2", True), ("http://127.example.net/scim/v2", True),
])
def test_plain_http_is_refused_beyond_loopback(url, refused):
    env = {"SCIM_BASE_URL": url, "SCIM_TOKEN": "t0ken-value-123"}
    if refused:
        with pytest.raises(config.ConfigError, match="--allow-http"):
            config.load(env=env, available_idps=("okta",))
        assert config.load(env=env, options={"allow_http": True}, available_idps=("okta",))[0].base_url == url
    else:
        assert config.load(env=env, available_idps=("okta",))[0].base_url == url


def test_environment_contract_is_parsed():
    settings, secrets = config.load(env={
        "SCIM_BASE_URL": "https://app.example.com/scim/v2", "SCIM_TOKEN": "t0ken-value-123",
        "SCIM_ORG_DOMAINS": "example.com, example.org", "SCIM_GUESTS": "pat@gmail.com=g-1, lee@agency.io",
        "SCIM_REVOKED_TOKEN": "old-token-456", "SCIM_IDPS": "okta"}, available_idps=("okta",))
    assert settings.org_domains == ("example.com", "example.org")
    assert settings.guests == (config.Guest("pat@gmail.com", "g-1"), config.Guest("lee@agency.io"))
    assert secrets == {"token": "t0ken-value-123", "revoked_token": "old-token-456"}
    target = config.target(settings, secrets)
    assert target.user_domain == "example.com" and target.guests[1].id is None
    assert "t0ken-value-123" not in json.dumps(target.describe())


def test_later_sources_override_earlier(tmp_path):
    toml = tmp_path / "target.toml"
    toml.write_text('base_url = "https://file.example/scim"\norg_domains = ["file.example"]\ntimeout = 5\n')
    settings, _ = config.load(toml=toml, env={"SCIM_BASE_URL": "https://env.example/scim", "SCIM_TOKEN": "x" * 8},
                              options={"base_url": "https://option.example/scim"}, available_idps=("okta",))
    assert settings.base_url == "https://option.example/scim"
    assert settings.org_domains == ("file.example",) and settings.timeout == 5


@pytest.mark.parametrize("content, message", [
    ('token = "abc"\n', "tokens"),
    ("timeout = -1\n", "timeout"),
    ('base_url = "https://x.example/scim?tenant=1"\n', "base_url"),
    ("idps = [\"nobody\"]\n", "unknown IdP"),
])
def test_invalid_target_files_are_refused(tmp_path, content, message):
    toml = tmp_path / "target.toml"
    toml.write_text(content)
    with pytest.raises(config.ConfigError, match=message):
        config.load(toml=toml, env={}, available_idps=("okta",))


def test_base_url_without_token_is_refused():
    with pytest.raises(config.ConfigError, match="SCIM_TOKEN"):
        config.load(env={"SCIM_BASE_URL": "https://x.example/scim"}, available_idps=("okta",))


# ---- redaction ------------------------------------------------------------------------------

def test_a_base_url_with_a_query_string_is_refused():
    """RFC 7644 §1.3: «The Base URI MUST NOT contain a query string» (schemas/target.schema.json's pattern)."""
    with pytest.raises(config.ConfigError, match=r"\$\.base_url: .*tenant=a"):
        config.load(env={"SCIM_BASE_URL": "https://scim.example.net/v2?tenant=a", "SCIM_TOKEN": "t0ken-t0ken-t0ken"},
                    available_idps=("okta",))


def test_redactor_masks_token_and_its_base64_form():
    redact = Redactor(["secret-token-123"])
    text = redact("Bearer secret-token-123 and c2VjcmV0LXRva2VuLTEyMw== in a body")
    assert "secret-token-123" not in text and "c2VjcmV0LXRva2VuLTEyMw==" not in text and MASK in text
    assert redact.header("Authorization", "Bearer anything") == f"Bearer {MASK}"


@pytest.mark.parametrize("reference, absolute", [
    ("/scim/v2/Users/1", "https://t.example/scim/v2/Users/1"), ("Users/1", "https://t.example/scim/v2/Users/1"),
    ("https://t.example/scim/v2/Users/1", "https://t.example/scim/v2/Users/1"),
])
def test_references_resolve_against_the_scim_base(reference, absolute):
    """RFC 7643 §2.3.7: a relative reference resolves against the base URI up to the endpoint."""
    from scimcert.client import ScimClient

    client = ScimClient("https://t.example/scim/v2", "t0ken-t0ken-t0ken", redactor=Redactor())
    assert client.resolve(reference) == absolute
    client.close()


def test_exchange_curl_never_carries_the_token():
    exchange = Exchange("x", "GET", "https://t.example/Users", {"Authorization": f"Bearer {MASK}"}, None)
    assert "$SCIM_TOKEN" in exchange.curl() and MASK not in exchange.curl()


# ---- profiles -------------------------------------------------------------------------------

# The value set every step is rendered with (docs/writing-checks.md, "The value set"): the standard values
# of scimcert.suites.values_for, and the optional ones a check passes when it wants them.
STANDARD = {"userName", "givenName", "familyName", "email", "displayName", "externalId", "password", "active",
            "changes", "id", "current"}
OPTIONAL = {"title", "department", "managerId", "managerRef", "city", "startIndex", "count", "probe",
            "members", "operations", "complete"}
MEMBER = {"memberId", "memberUserName"}  # what each member of a membership list renders


def _sample(**wanted):
    from scimcert.data import NewUser
    from scimcert.suites import merged, values_for

    new = NewUser("A.B@example.com", "A", "B", "00u1", "p")
    values = values_for(new, id="42", **wanted)
    return {**values, "current": merged({"id": "42", "userName": new.userName}, values["changes"])}


def test_every_profile_validates_and_renders_every_step():
    """Every step of every profile renders with the standard value set (plus the optional values), and
    uses no placeholder outside that contract."""
    for profile in profiles().values():
        for step in profile.steps:
            for variant in profile.variants(step):
                used = profile.placeholders(step, variant) - set(profile.spec(step, variant).get("defaults", {}))
                assert used <= STANDARD | OPTIONAL | MEMBER, (profile.id, step, variant, used - STANDARD - OPTIONAL)
                request = profile.request(step, variant, **_sample(title="T", department="D", managerId="m",
                                                                   managerRef="r", city="C", startIndex=1))
                assert request.path.startswith("/") and request.accepts, (profile.id, step, variant)


def test_every_update_applies_the_values_it_is_given():
    """The updateUser contract: each working shape of every profile applies the given name, the title and
    the userName it is rendered with (in its body, or through changes/current)."""
    from scimcert.suites import TOLERANCE

    wanted = {"givenName": "Contract-Given", "title": "Contract-Title", "userName": "Contract.User@example.com"}
    for profile in profiles().values():
        for variant in [v for v in profile.variants("updateUser") if v not in TOLERANCE]:
            body = json.dumps(profile.request("updateUser", variant, **_sample(**wanted)).body)
            for value in wanted.values():
                assert value in body, (profile.id, variant, value)


def _active_values(body) -> list:
    """What a write body assigns to active: a member of a PUT body, a PATCH op on path active, or a key
    of a path-less PATCH value."""
    if not isinstance(body, dict):
        return []
    if "Operations" not in body:
        return [body["active"]] if "active" in body else []
    found = []
    for op in body["Operations"]:
        if op.get("path") == "active":
            found.append(op.get("value"))
        elif "path" not in op and isinstance(op.get("value"), dict) and "active" in op["value"]:
            found.append(op["value"]["active"])
    return found


def test_deactivation_and_reactivation_set_active():
    """deactivateUser sets active false, reactivateUser true, in every shape, rendered as the checks render
    them (active given): as a boolean or as the string an IdP sends ("False", "false")."""
    for profile in profiles().values():
        for step, state in (("deactivateUser", False), ("reactivateUser", True)):
            for variant in profile.variants(step):
                body = profile.request(step, variant, **_sample(active=state)).body
                assert [str(v).lower() for v in _active_values(body)] == [str(state).lower()], (profile.id, step, variant)


def test_a_step_neither_defined_nor_explained_is_refused(tmp_path):
    from scimcert.profiles import load

    data = json.loads((FIXTURES / "idps" / "entra.json").read_text())
    del data["lacks"]["importPage"]
    path = tmp_path / "entra.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="importPage"):
        load(path)


def test_like_and_with_build_a_step_from_another():
    onelogin = profiles()["onelogin"]
    update = onelogin.request("updateUser", **_sample())
    suspend = onelogin.request("deactivateUser", **_sample())
    string = onelogin.request("deactivateUser", "string", **_sample())
    assert (suspend.method, suspend.path) == ("PUT", "/Users/42?") and suspend.inferred
    assert suspend.body == {**update.body, "active": False} and string.body["active"] == "false"
    assert render({"a": "{x|text}", "b": "{y|text}"}, {"x": True, "y": "s"}) == {"a": "true", "b": "s"}


def test_onelogin_and_entra_requests_are_what_the_reference_documents():
    onelogin, entra = profiles()["onelogin"], profiles()["entra"]
    probe = onelogin.request("testCredentials", probe="nobody@example.com")
    assert probe.query == "filter=userName+eq+%22nobody%40example.com%22&" and probe.accepts == (200, 404)
    assert onelogin.request("findUser", userName="j@e.com").query == "filter=userName+eq+%22j%40e.com%22&"
    assert onelogin.request("deleteUser", id="42").accepts == (200, 204)
    assert onelogin.request("createUser", "observed", **_sample()).body["schemas"][0] == "urn:scim:schemas:core:2.0"
    assert isinstance(onelogin.request("createUser", "emails-object", **_sample()).body["emails"], dict)
    assert entra.request("testCredentials", probe="g").query == 'filter=userName eq "g"'
    assert entra.request("testCredentials").accepts == (200,)
    assert entra.request("deactivateUser", id="42").body["Operations"] == [
        {"op": "Replace", "path": "active", "value": "False"}]
    ops = entra.request("updateUser", **_sample()).body["Operations"]
    assert {o["op"] for o in ops} == {"Replace", "Add"} and 'emails[type eq "work"].value' in [o["path"] for o in ops]
    flagged = entra.request("updateUser", "aadOptscim062020", **_sample()).body["Operations"]
    assert flagged[0]["op"] == "replace" and "path" not in flagged[0] and "name.givenName" in flagged[0]["value"]
    assert not entra.has("importPage") and "how-provisioning-works" in entra.lacks_reason("importPage")
    assert not profiles()["okta"].has("deleteUser") and "okta-scim/guides/scim-20" in profiles()["okta"].lacks_reason("deleteUser")


def test_placeholders_keep_types_and_encode_on_request():
    assert render({"a": "{x}", "b": "id {x}", "c": "{x|url}"}, {"x": True}) == {"a": True, "b": "id True", "c": "True"}
    assert render("q={u|url}", {"u": 'O\'Neil "x"@e.com'}) == "q=O%27Neil%20%22x%22%40e.com"
    with pytest.raises(ProfileError, match="no value"):
        render("{missing}", {})


def test_okta_requests_are_exactly_what_okta_sends():
    okta = profiles()["okta"]
    credentials = okta.request("testCredentials")
    assert (credentials.method, credentials.path, credentials.query) == ("GET", "/Users", "startIndex=1&count=2")
    assert credentials.headers["User-Agent"] == "Okta SCIM Client 1.0.0"
    find = okta.request("findUser", userName="jane.doe@example.com")
    assert find.query == "filter=userName%20eq%20%22jane.doe%40example.com%22&startIndex=1&count=100"
    assert okta.request("findUser", "plus", userName="j@e.com").query.startswith("filter=userName+eq+%22")
    create = okta.request("createUser", userName="u@e.com", givenName="G", familyName="F", email="u@e.com",
                          displayName="G F", externalId="00u1", password="abcd1234")
    assert create.body["groups"] == [] and create.body["password"] == "abcd1234" and create.accepts == (201,)
    assert create.headers["Content-Type"] == "application/scim+json; charset=utf-8"
    deactivate = okta.request("deactivateUser", id="42")
    assert deactivate.body["Operations"] == [{"op": "replace", "value": {"active": False}}]


def test_unknown_profile_is_refused():
    with pytest.raises(ProfileError, match="unknown IdP"):
        select(["nobody"])


def test_a_chosen_variant_is_what_the_default_step_renders():
    chosen = {p.id: p for p in select(None, {"onelogin.createUser": "emails-object", "deactivateUser": "put"})}
    create = chosen["onelogin"].request("createUser", **_sample())
    assert create.variant == "emails-object" and isinstance(create.body["emails"], dict)
    assert create.label == "createUser[emails-object]"
    assert chosen["okta"].request("deactivateUser", **_sample()).variant == "put"  # only Okta has 'put'
    assert chosen["entra"].request("createUser", **_sample()).variant == "default"
    assert chosen["onelogin"].request("createUser", "keepnet", **_sample()).variant == "keepnet"
    # the step a variant is `like` keeps its own default: OneLogin's PUT is not the chosen create shape
    assert isinstance(chosen["onelogin"].request("updateUser", **_sample()).body["emails"], list)


def test_an_inferred_shape_is_a_fact_once_the_tenant_declares_it():
    onelogin = profiles()["onelogin"]
    assert onelogin.request("deactivateUser", "string", **_sample()).inferred
    declared = {p.id: p for p in select(["onelogin"], {"onelogin.deactivateUser": "string"})}["onelogin"]
    assert not declared.request("deactivateUser", **_sample()).inferred
    assert declared.request("reactivateUser", **_sample()).inferred  # another step keeps its mark


@pytest.mark.parametrize("variants, message", [
    ({"onelogin.createUser": "nonesuch"}, "OneLogin has no variant 'nonesuch'"),
    ({"createUser": "nonesuch"}, "no selected IdP profile has the variant"),
])
def test_an_unknown_variant_is_refused(variants, message):
    with pytest.raises(ProfileError, match=message):
        select(None, variants)


# ---- requirements ---------------------------------------------------------------------------

def test_unknown_requirement_is_an_error():
    with pytest.raises(CatalogueError, match="nope.nothing"):
        lookup(["token.missing-401", "nope.nothing"])


# ---- verdicts -------------------------------------------------------------------------------

def test_must_violation_fails_and_should_violation_warns():
    verdict = Verdict.for_ids(["create.duplicate-409", "create.round-trip"])
    verdict.check("create.duplicate-409", False, "duplicate refused", expected=409, actual=201)
    verdict.check("create.round-trip", False, "the title came back", expected=409, actual=201)
    outcomes = {r.requirement: r.outcome for r in verdict.results()}
    assert outcomes == {"create.duplicate-409": "failed", "create.round-trip": "warning"}
    assert [f.requirement for f in verdict.failures] == ["create.duplicate-409"]
    assert "expected: 409" in verdict.report(verdict.failures)


def test_strict_turns_should_into_failure():
    verdict = Verdict.for_ids(["create.round-trip"], strict=True)
    verdict.check("create.round-trip", False, "the title came back")
    assert verdict.results()[0].outcome == "failed"


def test_require_stops_and_unreached_requirements_say_why():
    verdict = Verdict.for_ids(["create.created-201", "create.echo-values"])
    with pytest.raises(NotReached):
        verdict.require("create.created-201", False, "created")
    reasons = {r.requirement: (r.outcome, r.reason) for r in verdict.results()}
    assert reasons["create.echo-values"] == ("skipped", "not reached: create.created-201 failed first")


def test_undeclared_requirement_cannot_be_judged():
    verdict = Verdict.for_ids(["create.created-201"])
    with pytest.raises(KeyError, match="not declared"):
        verdict.check("token.missing-401", True, "x")


def _answer(kind: str, body, *, status: int = 401, overlay: str | None = None, content_type="application/json"):
    """An Exchange as the client builds it: parsed and validated (RFC schema, and `overlay` when given)."""
    text = "" if body is None else json.dumps(body)
    answer = Exchange("x", "GET", "http://t/Users", {}, None, status=status, response_text=text,
                      response_headers={"content-type": content_type}, kind=kind)
    answer._parsed = body
    if text:
        answer.violations = validate(kind, body)
    elif kind == "error":
        answer.violations = [Violation("", EMPTY_ERROR, "scim/error.json", "required")]
    if overlay:
        answer.overlay = overlay
        answer.idp_violations = [v for v in validate(kind, body, idp=overlay) if v.schema.startswith("idp/")]
    return answer


def _outcomes(*answers) -> dict[str, str]:
    verdict = Verdict.for_ids(["token.missing-401"])
    for answer in answers:
        verdict.absorb(answer)
    return {r.requirement: r.outcome for r in verdict.results()}


def test_responses_are_judged_automatically():
    outcomes = _outcomes(_answer("error", {"status": 401}))
    assert outcomes["errors.scim-error-body"] == "failed"
    assert outcomes["errors.status-string"] == "warning"
    assert outcomes["errors.content-type"] == "warning"


def test_an_empty_error_body_fails_and_judges_nothing_it_cannot_see():
    """RFC 7644 §3.12: errors MUST be returned in the body; an empty body cannot show a status string."""
    outcomes = _outcomes(_answer("error", None))
    assert outcomes == {"token.missing-401": "skipped", "errors.scim-error-body": "failed"}


def test_an_empty_user_body_is_not_judged():
    """A PATCH may answer 200 with no body: there is no user to validate, so no schema finding at all."""
    assert _outcomes(_answer("user", None, status=200)) == {"token.missing-401": "skipped"}


def test_idp_readable_is_judged_only_where_an_overlay_applies():
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a@example.com"}
    without = _outcomes(_answer("user", user, status=200))
    assert "schema.idp-readable" not in without  # an RFC-only check: nothing the IdP reads was checked
    with_overlay = _outcomes(_answer("user", user, status=200, overlay="okta"))
    assert with_overlay["schema.idp-readable"] == "failed"  # Okta reads name.givenName and name.familyName


def test_status_string_needs_a_status_to_judge():
    error = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": "no"}
    assert "errors.status-string" not in _outcomes(_answer("error", error))
    assert _outcomes(_answer("error", {**error, "status": "401"}))["errors.status-string"] == "passed"


def _sent(inferred: bool, status: int = 400) -> Exchange:
    return Exchange("deactivateUser[string]", "PUT", "http://t/Users/1", {}, "{}", status=status, inferred=inferred)


@pytest.mark.parametrize("inferred, strict, outcome", [(True, False, "warning"), (False, False, "failed"),
                                                       (True, True, "failed")])
def test_a_must_failure_on_an_inferred_shape_alone_is_graded_should(inferred, strict, outcome):
    """A verdict is only as good as its source: a failure seen only on request shapes the reference infers
    warns (failing under --strict); one documented or declared shape among the failures makes it fail."""
    verdict = Verdict.for_ids(["deactivate.accepted"], strict=strict)
    verdict.check("deactivate.accepted", False, "the deactivation succeeds", exchange=_sent(inferred))
    [result] = verdict.results()
    assert result.outcome == outcome
    assert result.reason.startswith("graded SHOULD") == (outcome == "warning")
    verdict.check("deactivate.accepted", False, "the documented shape too", exchange=_sent(False))
    assert verdict.results()[0].outcome == "failed"


@pytest.mark.parametrize("column, outcome", [("okta", "failed"), ("entra", "warning"), ("onelogin", "warning")])
def test_a_column_grades_by_its_own_source(column, outcome):
    """Where the RFC and an IdP disagree, each column grades by its own source: create.echo-values is a MUST
    for Okta (its SPEC test compares the echo) and a SHOULD where only the RFC speaks («the server MAY alter
    case»), and the reason names that column's source."""
    verdict = Verdict.for_ids(["create.echo-values"], column=column)
    verdict.check("create.echo-values", False, "userName is echoed exactly as sent")
    [result] = verdict.results()
    assert (result.outcome, result.level) == (outcome, "MUST" if outcome == "failed" else "SHOULD")
    assert result.reason.startswith(f"graded SHOULD in the {column} column") == (outcome == "warning")


@pytest.mark.parametrize("scim_type, outcome", [(None, None), ("invalidSyntax", "passed"), ("invalidValue", "warning")])
def test_scim_type_is_optional_but_right_when_given(scim_type, outcome):
    """RFC 7644 §3.12: scimType is OPTIONAL; when an error names one, it is the Table 9 keyword."""
    from scimcert.suites import judge_scim_type

    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
            **({"scimType": scim_type} if scim_type else {})}
    verdict = Verdict.for_ids(["errors.scim-type"])
    judge_scim_type(verdict, _answer("error", body, status=400), "invalidSyntax")
    assert {r.requirement: r.outcome for r in verdict.results()}["errors.scim-type"] == (outcome or "skipped")


def test_a_crash_leaves_what_was_judged_and_errors_the_rest():
    verdict = Verdict.for_ids(["create.created-201", "create.echo-values", "create.location"])
    verdict.check("create.created-201", True, "created")
    verdict.skip("create.location", "no Location asked")
    verdict.crash(KeyError("x"))
    outcomes = {r.requirement: (r.outcome, r.reason) for r in verdict.results()}
    assert outcomes["create.created-201"] == ("passed", "")
    assert outcomes["create.location"] == ("skipped", "no Location asked")
    assert outcomes["create.echo-values"][0] == "error"
    assert outcomes["create.echo-values"][1].startswith("harness error: the check crashed before judging it (KeyError")


def test_automatic_failures_carry_a_cause_alike_across_resources():
    users = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 2,
             "startIndex": 1, "itemsPerPage": 2, "Resources": [{"id": "1"}, {"id": "2"}]}
    causes = {v.cause for v in validate("user-list", users)}
    assert causes == {"/Resources/*: 'userName' is a required property (scim/user.json)",
                      "/Resources/*: 'schemas' is a required property (scim/user.json)"}


@pytest.mark.parametrize("method, path, status, kind", [
    ("GET", "/scim/v2/Users", 200, "user-list"),
    ("POST", "/scim/v2/Users", 201, "user"),
    ("GET", "/scim/v2/Users/abc", 200, "user"),
    ("PATCH", "/scim/v2/Users/abc", 204, None),
    ("DELETE", "/scim/v2/Users/abc", 200, None),  # OneLogin's sample answers 200: not a User to validate
    ("DELETE", "/scim/v2/Users/abc", 404, "error"),
    ("GET", "/scim/v2/Users/abc", 404, "error"),
    ("GET", "/v2/ServiceProviderConfig", 200, "service-provider-config"),
    ("GET", "/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", 200, "schema"),
    ("GET", "/v2/Users", None, None),
    ("GET", "/scim/v2/Groups", 200, "group-list"),
    ("POST", "/scim/v2/Groups", 201, "group"),
    ("PUT", "/scim/v2/Groups/g1", 200, "group"),
    ("PATCH", "/scim/v2/Groups/g1", 204, None),
    ("DELETE", "/scim/v2/Groups/g1", 405, "error"),
    ("GET", "/v2/ResourceTypes/Group", 200, "resource-type"),
])
def test_response_kind(method, path, status, kind):
    assert response_kind(method, path, status) == kind


@pytest.mark.parametrize("method, url, status, body, created", [
    ("POST", "http://h/scim/v2/Users", 201, '{"id": "u1", "userName": "a"}', ("User", "u1")),
    ("POST", "http://h/scim/v2/Groups", 201, '{"id": "g1", "displayName": "a"}', ("Group", "g1")),
    ("POST", "http://h/scim/v2/Groups/", 201, '{"id": 7}', ("Group", "7")),
    ("POST", "http://h/scim/v2/Groups/.search", 200, '{"id": "x"}', None),
    ("PUT", "http://h/scim/v2/Groups/g1", 200, '{"id": "g1"}', None),
    ("POST", "http://h/scim/v2/Groups", 409, '{"status": "409"}', None),
])
def test_a_create_names_its_resource_type_and_id(method, url, status, body, created):
    """The cleanup tracker and the ledger learn creates by resource type: a 2xx POST to /Users or /Groups."""
    exchange = Exchange(label="x", method=method, url=url, request_headers={}, request_body="{}", status=status,
                        response_text=body)
    exchange._parsed = json.loads(body)
    assert ((exchange.creates.name, exchange.created_id) if exchange.created_id else None) == created


def test_a_membership_step_renders_one_element_per_member():
    """`each`: a list placeholder is built member by member from the step's template (Okta: value and
    display; Entra: "$ref": null; a remove by filter path: one operation per member)."""
    okta, entra = profiles()["okta"], profiles()["entra"]
    members = [{"memberId": "u1", "memberUserName": "a@example.com"}, {"memberId": "u2", "memberUserName": "b@x.io"}]
    add = okta.request("addMembers", id="g", displayName="G", members=members)
    assert add.body["Operations"] == [{"op": "add", "path": "members", "value": [
        {"value": "u1", "display": "a@example.com"}, {"value": "u2", "display": "b@x.io"}]}]
    put = okta.request("addMembers", "put", id="g", displayName="G", members=members[1:], complete=members)
    assert (put.method, [m["value"] for m in put.body["members"]]) == ("PUT", ["u1", "u2"])
    remove = okta.request("removeMembers", id="g", operations=members[:1])
    assert remove.body["Operations"] == [{"op": "remove", "path": 'members[value eq "u1"]'}]
    entra_remove = entra.request("removeMembers", id="g", members=members[:1])
    assert entra_remove.body["Operations"] == [{"op": "Remove", "path": "members",
                                                "value": [{"$ref": None, "value": "u1"}]}]


# ---- report files ------------------------------------------------------------------------------

def test_the_transcript_writes_a_repeated_body_once_and_reads_every_record_whole(tmp_path):
    """A long response body seen before in the same file (a page of the user list read again) and a request
    shape's source are written by reference to the record that holds them; `records` gives every record as
    it was, also from a file cut after its last flush (a killed run)."""
    from scimcert import transcript

    page = json.dumps({"Resources": [{"id": str(i), "userName": f"user{i}@example.com"} for i in range(100)]})
    written = [{"id": f"main-{n}", "label": "importPage", "source": "Okta docs", "responseBody": body, "status": 200}
               for n, body in enumerate([page, "{}", page, page[:-1] + " ", page], start=1)]
    writer = transcript.Writer(tmp_path, "")
    for record in written:
        writer.write(dict(record))
    lines = [json.loads(line) for line in transcript.text(tmp_path / "transcript.jsonl.gz").splitlines()]
    assert [line.get("responseBodyOf") for line in lines] == [None, None, "main-1", None, "main-1"]
    assert [line.get("sourceOf") for line in lines] == [None, "main-1", "main-1", "main-1", "main-1"]
    assert list(transcript.records(tmp_path)) == written  # the same keys, in the same order
    writer.close()
    assert list(transcript.records(tmp_path)) == written


def _container(befores, afters=(), children=("a-test",)):
    from allure_commons.model2 import TestAfterResult, TestBeforeResult, TestResultContainer

    return TestResultContainer(uuid="u", children=list(children), befores=[TestBeforeResult(**f) for f in befores],
                               afters=[TestAfterResult(**f) for f in afters])


def _written(folder: Path, pattern: str) -> list[dict]:
    return sorted((json.loads(p.read_text()) for p in folder.glob(pattern)), key=lambda found: found.get("name", ""))


def test_allure_writes_only_the_containers_that_say_something(tmp_path):
    """Containers naming no test, and scimcert's own per-check fixtures that set up cleanly, are never written;
    a harness fixture that failed, the target's and a suite's own fixtures are."""
    from scimcert.allure_files import AllureFiles

    passed = {"status": "passed", "start": 1, "stop": 2}
    containers = {
        "parameter": _container([{"name": "idp", **passed}], children=()),
        "verdict": _container([{"name": "verdict", **passed}], [{"name": "verdict::<lambda>", "start": 2}]),
        "client": _container([{"name": "client", **passed}], [{"name": "client::<lambda>", **passed}]),
        "users-broken": _container([{"name": "users", "status": "broken", "start": 1}]),
        "client-teardown-failed": _container([{"name": "client", **passed}],
                                             [{"name": "client::<lambda>", "status": "failed"}]),
        "target": _container([{"name": "target", **passed}], children=("a-test", "another-test")),
        "suite-fixture": _container([{"name": "seeded", **passed}]),
    }
    files = AllureFiles(tmp_path)
    for name, container in containers.items():
        container.name = name
        files.report_container(container)
    assert [c["name"] for c in _written(tmp_path, "*-container.json")] == [
        "client-teardown-failed", "suite-fixture", "target", "users-broken"]


def test_allure_results_name_no_machine_and_say_a_docstring_once_but_every_warning(tmp_path):
    """The machine's and the tool's labels are left out; a check's docstring stays on its first parameter set (by
    name) and the others point there, except a parameter set that warned, whose description is its warning; a
    check with one parameter set, or none, keeps its docstring."""
    from allure_commons.model2 import Label, TestResult

    from scimcert.allure_files import WARNED, AllureFiles

    names = ["test_a[okta]", "test_a[entra]", "test_a[onelogin]", "test_b"]
    files = AllureFiles(tmp_path)
    files.first_by_name((f"suites.test_x#{name.split('[')[0]}", name) for name in names)
    for name in names:
        labels = [Label("host", "a-machine"), Label("thread", "1"), Label("story", "create.user")]
        warned = name == "test_a[onelogin]"
        files.report_result(TestResult(
            uuid=name, name=name, fullName=f"suites.test_x#{name.split('[')[0]}",
            description="SHOULD violated: the warning" if warned else "What the check sends.",
            labels=labels + ([Label(WARNED, "warning")] if warned else [])))
    written = {r["name"]: r for r in _written(tmp_path, "*-result.json")}
    assert {r["name"]: r["description"] for r in written.values()} == {
        "test_a[entra]": "What the check sends.", "test_a[okta]": "Described in test_a[entra].",
        "test_a[onelogin]": "SHOULD violated: the warning", "test_b": "What the check sends."}
    assert {label["name"] for r in written.values() for label in r["labels"]} == {"story", WARNED}


def test_allure_files_take_over_allure_pytests_registered_logger_in_place(tmp_path):
    """adopt() turns the file logger allure-pytest registered into an AllureFiles, still registered under its name
    (allure-pytest's cleanup unregisters it by that name); without one, there is nothing to adopt."""
    import allure_commons
    from allure_commons.logger import AllureFileLogger

    from scimcert.allure_files import AllureFiles, adopt

    manager = allure_commons.plugin_manager
    assert all(type(p) is not AllureFileLogger for p in manager.get_plugins())
    assert adopt() is None
    logger = AllureFileLogger(tmp_path)
    manager.register(logger, "a-file-logger")
    try:
        assert adopt() is logger and isinstance(logger, AllureFiles)
        assert manager.get_plugin("a-file-logger") is logger
        manager.hook.report_container(container=_container([{"name": "verdict", "status": "passed"}]))
        assert not list(tmp_path.glob("*-container.json"))  # the hook now reaches AllureFiles, not the old logger
    finally:
        manager.unregister(name="a-file-logger")


def test_conformance_json_keeps_a_passed_findings_evidence_by_reference_and_a_failures_in_full():
    from scimcert.records import CheckRecord, Result

    failed = {"requirement": "create.location", "ok": False, "message": "no Location", "expected": "a Location",
              "actual": None, "exchange": {"id": "main-2", "curl": "curl ..."}, "exchangeId": "main-2"}
    passed = [{"ok": True, "message": "created", "expected": [201], "actual": 201, "exchangeId": "main-1"},
              {"ok": True, "message": "all 2 responses judged met it", "exchangeIds": ["main-1", "main-2"]},
              {"ok": True, "message": "all 2 responses judged met it", "exchangeIds": []},
              {"ok": True, "message": "the ids differ", "expected": "two ids", "actual": ["1", "2"]}]
    record = CheckRecord(
        nodeid="suites/test_create.py::test_create_user[okta]", check="test_create_user", idp="okta", doc="Creates.",
        requirements=[Result("create.created-201", "MUST", "create", "passed", findings=tuple(passed)),
                      Result("create.location", "MUST", "create", "failed", findings=(failed,)),
                      Result("schema.user", "MUST", "schema", "passed", automatic=True)],
        exchanges=[{"id": "main-1", "label": "createUser", "method": "POST", "url": "u", "status": 201, "error": None,
                    "elapsedMs": 3.2, "throttled": []},
                   {"id": "main-2", "label": "getUser", "method": "GET", "url": "u", "status": None, "error": "reset",
                    "elapsedMs": 1.0, "throttled": [1]}])
    written = record.report_json()
    assert "doc" not in written and record.test_id == "suites/test_create.py::test_create_user"
    assert written["exchanges"] == [
        {"id": "main-1", "label": "createUser", "method": "POST", "url": "u", "status": 201},  # nothing waited out
        {"id": "main-2", "label": "getUser", "method": "GET", "url": "u", "status": None, "error": "reset",
         "throttled": [1]}]
    by_reference, failing, automatic = written["requirements"]
    assert by_reference["findings"] == [
        {"ok": True, "message": "created", "exchangeId": "main-1"},
        {"ok": True, "message": "all 2 responses judged met it", "exchangeIds": ["main-1", "main-2"]},
        {"ok": True, "message": "all 2 responses judged met it"},
        {"ok": True, "message": "the ids differ", "expected": "two ids", "actual": ["1", "2"]}]  # it names no exchange
    assert "automatic" not in by_reference and automatic["automatic"] is True
    assert "reason" not in by_reference  # a reason only where one is given
    assert failing["findings"] == [failed]
    assert CheckRecord.from_json(json.loads(json.dumps(record.to_json()))) == record  # the xdist codec loses nothing


def test_settings_are_typed_frozen_and_describe_themselves():
    """config.load gives a frozen Settings (no secret in it), which describes itself as the report's target."""
    settings, secrets = config.load(env={"SCIM_BASE_URL": "https://scim.example/v2", "SCIM_TOKEN": "t0ken-t0ken-t0ken",
                                         "SCIM_ORG_DOMAINS": "example.com", "SCIM_MAX_RPS": "5"},
                                    options={"idps": ["okta", "entra"]}, available_idps=("okta", "entra"))
    assert isinstance(settings, config.Settings) and not settings.embedded
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.base_url = "https://elsewhere.example"  # type: ignore[misc]
    assert "t0ken" not in repr(settings) and secrets["token"] == "t0ken-t0ken-t0ken"
    described = settings.describe()
    assert described["baseUrl"] == "https://scim.example/v2" and described["idps"] == ["okta", "entra"]
    assert described["orgDomains"] == ["example.com"] and described["limits"]["maxRps"] == 5.0
    assert config.load(env={}, available_idps=("okta",))[0].embedded


def test_integer_paging_asks_integers_of_the_numbers_required_and_of_any_other_given():
    """All three required (a user listing): each a JSON integer, not a bool nor a string of digits; only totalResults
    required (the group list, RFC 7644 §3.4.2 asks startIndex and itemsPerPage of partial results only): an absent
    or null one passes, one given as a string does not."""
    from scimcert.suites import integer_paging

    full = {"totalResults": 3, "startIndex": 1, "itemsPerPage": 3}
    assert integer_paging(full)
    assert not integer_paging({**full, "itemsPerPage": "3"})
    assert not integer_paging({**full, "startIndex": True})
    assert not integer_paging({"totalResults": 3})
    only_total = ("totalResults",)
    assert integer_paging({"totalResults": 3}, required=only_total)
    assert integer_paging({"totalResults": 3, "startIndex": None}, required=only_total)
    assert not integer_paging({"totalResults": 3, "startIndex": "1"}, required=only_total)
    assert not integer_paging({"startIndex": 1, "itemsPerPage": 0}, required=only_total)


def test_the_users_of_two_checks_of_a_run_never_share_a_username():
    """Seed 352 gave the checks below users named alike (scimcert.9a72c2.jos.325493@…) when a check's part of the
    name was a number below 36**4 written in hex with the user's number right after it: the second create met a
    409 and its check skipped. Now a check's part is CHECK_DIGITS hex digits, then "." and the number."""
    from scimcert.data import CHECK_DIGITS, UserFactory

    checks = ["suites/test_create.py::test_create_with_enterprise_extension[okta]",
              "suites/test_discovery.py::test_discovery_ignores_query_parameters[/ResourceTypes]",
              "suites/test_groups.py::test_member_remove[entra-filter]"]
    factories = [UserFactory(352, check, "example.com") for check in checks]
    names = [factory.new().userName.casefold() for factory in factories for _ in range(12)]
    assert len(set(names)) == len(names) == 12 * len(checks)
    assert names[10].split("@")[0].rsplit(".", 2)[1:] == [factories[0].check, "11"]
    assert len(factories[0].check) == CHECK_DIGITS
