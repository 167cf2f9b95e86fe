"""Email-domain rule checks: SCIM creates members only, so userNames and primary emails stay on the
organization's domains (exactly, case-insensitively), on create and on every update. Tenant policy, inferred
from Asana's help pages: SCIM creates members (https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM),
and guests are the users outside the organization's domains (https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ)."""

from __future__ import annotations

import pytest

from scimcert.suites import PATCH_OP, dig, given_user, named, needs, values_for, variant_params, write_request

NO_DOMAINS = "SCIM_ORG_DOMAINS is not set: the email-domain rule cannot be checked"
FOREIGN = "foreign-scimcert.test"
VALUE_PATH = 'emails[type eq "work"].value'


def _org_domains(target) -> list[str]:
    if not target.org_domains:
        pytest.skip(NO_DOMAINS)
    return [d.lower() for d in target.org_domains]


def _member_domain(target) -> str:
    """The domain test members are created on: the target's user domain when it is an organization domain."""
    domains = _org_domains(target)
    return target.user_domain if target.user_domain.lower() in domains else target.org_domains[0]


def _foreign(target, template: str) -> str:
    """`template` filled with the first organization domain; skipped if that happens to be an org domain."""
    domains = _org_domains(target)
    domain = template.format(d=domains[0])
    if domain in domains:
        pytest.skip(f"{domain} is one of the organization's domains, so it cannot serve as a foreign one")
    return domain


def _judge_error_shape(verdict, answer, domain: str) -> None:
    """domain.invalid-value: a refusal names the rule (scimType invalidValue) and the offending domain."""
    verdict.check("domain.invalid-value", dig(answer.json, "scimType") == "invalidValue",
                  "the refusal carries scimType invalidValue", expected="invalidValue",
                  actual=dig(answer.json, "scimType") or "(no scimType)", exchange=answer)
    detail = dig(answer.json, "detail")
    verdict.check("domain.invalid-value", isinstance(detail, str) and domain.lower() in detail.lower(),
                  "the detail names the refused domain", expected=f"a detail mentioning {domain}",
                  actual=detail if detail is not None else "(no detail)", exchange=answer)


def _case(name: str, template: str, field: str, requirement: str):
    return pytest.param(template, field, requirement, id=name,
                        marks=pytest.mark.requirement(requirement, "domain.invalid-value"))


@pytest.mark.parametrize("template, field, requirement", [
    _case("foreign", FOREIGN, "userName", "domain.foreign-rejected"),
    _case("foreign-primary-email", FOREIGN, "email", "domain.foreign-rejected"),
    _case("subdomain", "sub.{d}", "userName", "domain.lookalike-rejected"),
    _case("hyphen-prefix", "evil-{d}", "userName", "domain.lookalike-rejected"),
    _case("org-domain-as-label", "{d}.evil.io", "userName", "domain.lookalike-rejected"),
])
def test_create_outside_org_domains_refused(idp, client, verdict, target, users, template, field, requirement):
    """Sends the IdP's create for a member on an organization domain (the control: a refusal below must
    be the domain rule's), then for a user whose userName (or, with the userName on an organization
    domain, whose primary email) is on a foreign domain or a lookalike of the first organization
    domain d (sub.d, evil-d, d.evil.io), then the IdP's userName filter.

    Verifies: 400 with scimType invalidValue and a detail naming the domain, and no user created
    (tenant policy inferred from https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ; vouch's
    analogous rule, https://github.com/vouch-sh/vouch/pull/826).
    """
    domain = _foreign(target, template)
    given_user(client, idp, users, domain=_member_domain(target))
    if field == "userName":
        new = users.new(domain)
        values = values_for(new)
    else:
        new = users.new(_member_domain(target))
        values = values_for(new, email=f"{new.userName.rpartition('@')[0]}@{domain}")
    answer = client.send(idp.request("createUser", **values))
    verdict.check(requirement, answer.status == 400, f"a create with the {field} on {domain} is refused",
                  expected=400, actual=answer.status or answer.error, exchange=answer)
    if answer.status is not None and 400 <= answer.status < 500:
        _judge_error_shape(verdict, answer, domain)

    found = client.send(idp.request("findUser", userName=new.userName))
    if found.status == 200:  # the filter itself is judged by filter.*; here only what it shows
        verdict.check(requirement, not named(found, new.userName), "no user was created",
                      expected="no user with this userName",
                      actual=[r.get("id") for r in named(found, new.userName)], exchange=found)


@pytest.mark.requirement("domain.case-insensitive")
def test_org_domain_in_upper_case_accepted(idp, client, verdict, target, users):
    """Sends the IdP's create for a member on an organization domain (the control), then for one whose
    userName and email are on that domain written in upper case (local@EXAMPLE.COM).

    Verifies: 201, domains being case-insensitive (RFC 5321 §2.4).
    """
    given_user(client, idp, users, domain=_member_domain(target))
    new = users.new(_member_domain(target).upper())
    request = idp.request("createUser", **values_for(new))
    answer = client.send(request)
    verdict.check("domain.case-insensitive", answer.status in request.accepts,
                  f"a userName on {_member_domain(target).upper()} is accepted",
                  expected=list(request.accepts), actual=answer.status or answer.error, exchange=answer)


UPDATES = [*variant_params("updateUser"), "email-value-path"]


def _move(client, idp, new, user_id: str, update: str, local: str, domain: str):
    """Send the update of shape `update` moving the user to local@domain; returns the answer."""
    address = f"{local}@{domain}"
    if update == "email-value-path":
        # Okta's only PATCH shape is path-less, whose value cannot address one email by type; Entra and
        # the RFC (§3.5.2, value filters) can, so this is sent as an RFC probe.
        return client.raw("PATCH", f"/Users/{user_id}", label=f"PATCH {VALUE_PATH}", body={
            "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": VALUE_PATH, "value": address}]})
    return client.send(write_request(client, idp, "updateUser", new, user_id, update, userName=address, email=address))


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.requirement("domain.update-rejected", "domain.invalid-value")
def test_update_to_foreign_domain_refused(idp, client, verdict, target, users, update):
    """Creates a member and moves it to another address on its organization domain (the control: this
    update shape works), then to a foreign domain: with the IdP's update in each of its shapes (Okta:
    GET then PUT of the whole user, or the path-less PATCH replace; OneLogin: PUT of its template; Entra:
    PATCH Replace of userName and emails[type eq "work"].value, or its path-less replace) carrying the
    new userName and email, or, as an RFC probe for every IdP, a PATCH replace of
    emails[type eq "work"].value alone; then reads the user back.

    Verifies: 400 (scimType invalidValue, detail naming the domain) and GET showing userName and
    emails unchanged (tenant policy inferred from https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ;
    the rule applies to email changes too).
    """
    member_domain = _member_domain(target)
    if update != "email-value-path":
        needs(idp, "updateUser", update)
    new, user_id = given_user(client, idp, users, domain=member_domain)
    local = new.userName.rpartition("@")[0]
    control = _move(client, idp, new, user_id, update, f"{local}.moved", member_domain)
    if control.status not in (200, 204):
        pytest.skip(f"precondition failed: this update shape answered {control.status or control.error} "
                    f"even within {member_domain} (judged by update.*), so a refusal would prove nothing")
    kept = dig(client.send(idp.request("getUser", id=user_id)).json, "userName")

    answer = _move(client, idp, new, user_id, update, local, FOREIGN)
    verdict.check("domain.update-rejected", answer.status == 400, f"moving the user to {FOREIGN} is refused",
                  expected=400, actual=answer.status or answer.error, exchange=answer)
    if answer.status is not None and 400 <= answer.status < 500:
        _judge_error_shape(verdict, answer, FOREIGN)

    after = client.send(idp.request("getUser", id=user_id))
    moved = [e for e in (dig(after.json, "emails") or []) if str(dig(e, "value")).lower().endswith("@" + FOREIGN)]
    user_name = dig(after.json, "userName")
    verdict.check("domain.update-rejected", after.status == 200 and user_name == kept and not moved,
                  "the user is unchanged: userName and emails still on the organization domain",
                  expected=f"200 with userName {kept} and no email on {FOREIGN}",
                  actual=f"{after.status or after.error}; userName {user_name}; emails moved: {moved}",
                  exchange=after)
