"""The reference server's tenant: organization domains, tokens, guests, seed users, options.

Loaded from a JSON file validated against schemas/tenant.schema.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import DEFAULT_TENANT
from ..redact import Redactor
from ..schemas import describe, errors


def _token_strings(data: object) -> list[str]:
    tokens = data.get("tokens") if isinstance(data, dict) else None
    entries = tokens if isinstance(tokens, list) else []
    return [e["token"] for e in entries if isinstance(e, dict) and isinstance(e.get("token"), str)]


class TenantError(ValueError):
    """The tenant file is unreadable or violates its schema."""


@dataclass(frozen=True)
class Guest:
    id: str
    userName: str
    displayName: str = ""


@dataclass(frozen=True)
class Options:
    reactivation: str = "allowed"
    defaultPageSize: int = 100
    maxPageSize: int = 100
    maxBodyBytes: int = 1_048_576
    maxOperations: int = 100
    maxValues: int = 100
    maxMembers: int = 10_000
    groupDelete: str = "allowed"
    realm: str = "scimcert-reference"


@dataclass(frozen=True)
class Tenant:
    organization: str
    domains: tuple[str, ...]
    active_tokens: tuple[str, ...]
    revoked_tokens: tuple[str, ...]
    guests: tuple[Guest, ...] = ()
    users: tuple[dict, ...] = ()
    options: Options = field(default_factory=Options)

    @property
    def token(self) -> str:
        """The first active token: what a client of this tenant authenticates with."""
        return self.active_tokens[0]

    @classmethod
    def from_dict(cls, data: object) -> Tenant:
        problems = errors("tenant.schema.json", data)
        if problems:  # jsonschema quotes offending values: never let a token through
            redact = Redactor(_token_strings(data))
            raise TenantError(redact("invalid tenant: " + "; ".join(describe(p) for p in problems)))
        domains = tuple(d.lower() for d in data["domains"])
        guests = tuple(Guest(**g) for g in data.get("guests", []))
        for guest in guests:
            if guest.userName.rpartition("@")[2].lower() in domains:
                raise TenantError(f"guest {guest.userName} is on an organization domain; guests are outside them")
        tokens = data["tokens"]
        return cls(
            organization=data["organization"],
            domains=domains,
            active_tokens=tuple(t["token"] for t in tokens if t["status"] == "active"),
            revoked_tokens=tuple(t["token"] for t in tokens if t["status"] == "revoked"),
            guests=guests,
            users=tuple(data.get("users", [])),
            options=Options(**data.get("options", {})),
        )

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TENANT) -> Tenant:
        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise TenantError(f"cannot read tenant file {path}: {exc}") from exc
        return cls.from_dict(data)
