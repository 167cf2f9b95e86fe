"""Tenant policy: the email-domain rule, the reactivation rule and the group-deletion rule.

Asana's SCIM docs say userName «must be an email address» and guests are not returned
(https://developers.asana.com/docs/scim); Asana's help says reactivating users and deleting teams are not
supported (https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM).
Refusing a foreign email domain is inferred from these and the Guests FAQ
(https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ).

Kept as one object the app consults for every write, so a fault can swap a rule from outside.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ScimError, invalid_value, mutability
from .precis import check_username


def email_domain(address: object) -> str | None:
    """The domain of `local@domain`, or None when the value is not an email address."""
    if not isinstance(address, str):
        return None
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in address):
        return None
    return domain


def primary_email(user: dict) -> str | None:
    """The email marked primary, else the only email; None when neither exists."""
    emails = [e for e in user.get("emails", []) if "value" in e]
    for entry in emails:
        if entry.get("primary") is True:
            return entry["value"]
    return emails[0]["value"] if len(emails) == 1 else None


@dataclass(frozen=True)
class Policy:
    domains: tuple[str, ...]
    reactivation: str = "allowed"
    group_delete: str = "allowed"

    def domain_allowed(self, domain: str) -> bool:
        """Exact, case-insensitive membership: no subdomains, suffixes or substrings."""
        return domain.lower() in self.domains

    def check_address(self, label: str, address: object) -> None:
        domain = email_domain(address)
        if domain is None:
            raise invalid_value(f"{label} must be an email address, got {address!r}")
        if not self.domain_allowed(domain):
            raise invalid_value(
                f"Email domain '{domain}' of {label} is not one of the organization's domains "
                f"({', '.join(self.domains)})"
            )

    def check_user(self, user: dict) -> None:
        """userName is an email on an organization domain, without control or invisible format characters;
        the primary (or only) email is on an organization domain too."""
        if not user.get("userName"):
            raise invalid_value("userName is required and must not be empty")
        check_username(user["userName"])  # PRECIS enforcement (RFC 7644 §5): no control or format characters
        self.check_address("userName", user["userName"])
        email = primary_email(user)
        if email is not None:
            self.check_address("the primary email", email)

    def admit(self, user: dict) -> None:
        """A user about to be created."""
        self.check_user(user)

    def admit_change(self, before: dict, after: dict) -> None:
        """A user about to be replaced or patched: the domain rule again, and the reactivation rule."""
        self.check_user(after)
        self.check_transition(before, after)

    def check_transition(self, before: dict, after: dict) -> None:
        """With reactivation refused (Asana), an inactive user cannot be made active again."""
        if self.reactivation == "refused" and before.get("active") is False and after.get("active") is True:
            raise mutability("Reactivating a deactivated user is not supported by this organization")

    def check_group_delete(self) -> None:
        """With group deletion refused (Asana does not delete teams), DELETE /Groups/{id} answers 405 Method Not
        Allowed with the methods the group does allow (RFC 9110 §15.5.6,
        https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6); the group stays."""
        if self.group_delete == "refused":
            raise ScimError(405, "This organization does not allow deleting groups (Asana teams); remove their "
                                 "members instead", headers={"Allow": "GET, PUT, PATCH"})
