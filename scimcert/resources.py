"""The resource types the harness knows (RFC 7643 §6: «the resource types … supported by the service provider»):
Users and Groups. One row per type drives what is otherwise written once for every type: which schema a
response is validated against, which POST creates something the run must clean up, how a created
resource is named in the ledger and the cleanup report, and in which order cleanup removes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    name: str  # RFC 7643 §6 "name": "User", "Group"
    endpoint: str  # the path segment under the base URL: "Users", "Groups"
    key: str  # the attribute a person knows one by, and the run's tag is put in: userName, displayName
    kind: str  # the validation kind of one resource (scimcert.validation.KINDS)
    list_kind: str  # the validation kind of a ListResponse of them

    def path(self, resource_id: str | None = None) -> str:
        """/Users, or /Users/{id}."""
        return f"/{self.endpoint}" + (f"/{resource_id}" if resource_id is not None else "")


USER = ResourceType("User", "Users", "userName", "user", "user-list")
GROUP = ResourceType("Group", "Groups", "displayName", "group", "group-list")
RESOURCE_TYPES = (USER, GROUP)
REMOVAL_ORDER = (GROUP, USER)  # a group goes before its members: a target may refuse to delete a member's user
BY_NAME = {t.name: t for t in RESOURCE_TYPES}


def at(path: str) -> tuple[ResourceType, str | None] | None:
    """The resource type a request path addresses, and the id when it names one resource:
    ".../Users" → (USER, None), ".../Groups/abc" → (GROUP, "abc"); None for any other path."""
    segments = [s for s in path.split("?")[0].split("/") if s]
    for resource_type in RESOURCE_TYPES:
        if segments and segments[-1] == resource_type.endpoint:
            return resource_type, None
        if len(segments) >= 2 and segments[-2] == resource_type.endpoint:
            return resource_type, segments[-1]
    return None
