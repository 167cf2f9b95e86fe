"""What the group checks in suites/test_groups.py share: a group created as the IdP creates one, its members
as an RFC GET shows them, and the IdP's membership requests rendered for a change.

Preconditions skip with the requirement that judges them (groups.create-201, groups.member-add), so one
broken create or add never turns another check red.
"""

from __future__ import annotations

from typing import Any

import pytest

from .client import Exchange
from .data import NewGroup, NewUser
from .resources import GROUP
from .suites import dig, is_endpoint, resource_types, resources

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def needs_groups(client, discovered: dict) -> None:
    """Skip when GET /ResourceTypes answers a list of resource types none of which is at /Groups: Groups are
    optional for a service provider (Okta, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/,
    and Entra, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
    provision groups only where the app supports them). A target that does not answer /ResourceTypes is judged."""
    answer = resource_types(client, discovered)
    declared = resources(answer)
    if answer.status == 200 and declared and not any(is_endpoint(client, t.get("endpoint"), GROUP) for t in declared):
        pytest.skip("the target declares no Group resource type (GET /ResourceTypes): a users-only service "
                    "provider has no groups to judge")


def given_group(client, idp, users) -> tuple[NewGroup, str]:
    """A fresh group created the way the IdP creates one (its createGroup step): (NewGroup, its id); skips
    when the target does not create it (judged by groups.create-201)."""
    group = users.group()
    request = idp.request("createGroup", displayName=group.displayName, externalId=group.externalId)
    answer = client.send(request)
    if answer.status not in request.accepts or answer.created_id is None:
        pytest.skip(f"precondition failed: {idp.name}'s group create answered {answer.status or answer.error} "
                    "(judged by groups.create-201)")
    return group, answer.created_id


def rfc_group(client, users, members: list[str] = ()) -> tuple[NewGroup, str]:
    """A group created by an RFC POST /Groups with these member ids; skips when the target does not create it."""
    group = users.group()
    body = {"schemas": [CORE_GROUP], "displayName": group.displayName, "members": [{"value": m} for m in members]}
    answer = client.raw("POST", GROUP.path(), body=body, label="RFC POST /Groups")
    if answer.status != 201 or answer.created_id is None:
        pytest.skip(f"precondition failed: POST /Groups answered {answer.status or answer.error} "
                    "(judged by groups.create-201)")
    return group, answer.created_id


def read_group(client, group_id: str, query: str = "") -> Exchange:
    """GET /Groups/{id} as the RFC reads it: the full group, members included."""
    return client.raw("GET", GROUP.path(group_id), query=query, label="RFC GET /Groups/{id}")


def member_ids(group: Any) -> list[str]:
    """The member values of a group body, as strings, in order ([] when it lists none)."""
    members = dig(group, "members")
    return [str(m.get("value")) for m in members if isinstance(m, dict)] if isinstance(members, list) else []


def judge_members(verdict, requirement: str, read: Exchange, wanted: list[str], message: str, *,
                  may_omit: bool = False) -> None:
    """`requirement`: GET /Groups/{id} (`read`) lists exactly the member ids `wanted`, in any order. `may_omit`:
    the IdP does not need the server to return members (its profile's `membersOptional` quotes where it says so;
    Entra: «It isn't necessary to support returning all the members of the group») and nothing has shown yet that
    this server does (with_members has, for the checks that use it): an answer without any members attribute
    where members are wanted is then not judged."""
    if may_omit and wanted and read.status == 200 and dig(read.json, "members") is None:
        return
    verdict.check(requirement, read.status == 200 and sorted(member_ids(read.json)) == sorted(wanted), message,
                  expected=sorted(wanted), actual=f"{read.status or read.error}; members {member_ids(read.json)}",
                  exchange=read)


def group_ids(user: Any) -> list[str]:
    """The group values of a user body's `groups` ([] when absent)."""
    return member_ids({"members": dig(user, "groups")})


def items(members: list[tuple[NewUser, str]]) -> list[dict]:
    """The values an IdP's membership template renders per member (profiles.Request `each`)."""
    return [{"memberId": user_id, "memberUserName": new.userName} for new, user_id in members]


def membership(client, idp, step: str, group: NewGroup, group_id: str, changed: list[tuple[NewUser, str]],
               complete: list[tuple[NewUser, str]], variant: str = "default"):
    """The IdP's `step` (addMembers, removeMembers) naming the `changed` members; `complete` is the member list
    after the change, which a full PUT (Okta AIW) sends. Okta AIW reads the group first (its getGroup)."""
    request = idp.request(step, variant, id=group_id, displayName=group.displayName, members=items(changed),
                          operations=items(changed), complete=items(complete))
    if request.method == "PUT" and idp.has("getGroup"):
        client.send(idp.request("getGroup", id=group_id))
    return request


def with_members(client, idp, group: NewGroup, group_id: str, members: list[tuple[NewUser, str]]) -> None:
    """Add `members` with the IdP's default addMembers and make sure the group lists them: a precondition,
    skipped with its reason when the target does not (judged by groups.member-add)."""
    request = membership(client, idp, "addMembers", group, group_id, members, members)
    answer = client.send(request)
    listed = read_group(client, group_id)
    if answer.status not in request.accepts or not {m for _, m in members} <= set(member_ids(listed.json)):
        pytest.skip(f"precondition failed: {idp.name}'s member add answered {answer.status or answer.error} and "
                    f"the group lists {member_ids(listed.json)} (judged by groups.member-add)")
