"""The target under test: one loader for every entry point (pytest, tox, CLI wrappers).

Sources, later overriding earlier: an optional TOML file, environment variables, pytest options.
Secrets (tokens) only from the environment. Without SCIM_BASE_URL the embedded reference server
is started and described from its tenant file, so checks never know which kind of target they face.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .schemas import describe, errors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV = {
    "SCIM_BASE_URL": "base_url",
    "SCIM_ORG_DOMAINS": "org_domains",
    "SCIM_GUESTS": "guests",
    "SCIM_IDPS": "idps",
    "SCIM_REACTIVATION": "reactivation",
    "SCIM_USER_DOMAIN": "user_domain",
    "SCIM_TIMEOUT": "timeout",
}
SECRETS = ("token", "revoked_token")
DEFAULT_TIMEOUT = 60.0  # okta.md §8: Okta closes the socket after 60 s


class ConfigError(ValueError):
    """The target configuration is invalid; the message says which source and field."""


@dataclass(frozen=True)
class Guest:
    userName: str
    id: str | None = None


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str
    revoked_token: str | None
    org_domains: tuple[str, ...]
    guests: tuple[Guest, ...]
    idps: tuple[str, ...]
    variants: Mapping[str, str] = field(default_factory=dict)
    reactivation: str = "supported"
    user_domain: str = "example.com"
    timeout: float = DEFAULT_TIMEOUT
    verify_tls: bool = True
    embedded: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.revoked_token) if s)

    def describe(self) -> dict:
        """The target as a report may show it: no secrets."""
        return {
            "base_url": self.base_url, "embedded": self.embedded, "org_domains": list(self.org_domains),
            "guests": [g.userName for g in self.guests], "idps": list(self.idps), "variants": dict(self.variants),
            "reactivation": self.reactivation, "timeout": self.timeout,
        }


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_guest(text: str) -> dict:
    user_name, _, guest_id = text.partition("=")
    return {"userName": user_name.strip(), **({"id": guest_id.strip()} if guest_id.strip() else {})}


def from_env(env: Mapping[str, str]) -> dict:
    settings: dict = {}
    for name, key in ENV.items():
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        if key in ("org_domains", "idps"):
            settings[key] = _split(raw)
        elif key == "guests":
            settings[key] = [_parse_guest(g) for g in _split(raw)]
        elif key == "timeout":
            try:
                settings[key] = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
        else:
            settings[key] = raw.strip()
    return settings


def from_toml(path: str | Path) -> dict:
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read target file {path}: {exc}") from exc
    leaked = [key for key in SECRETS if key in data]
    if leaked:
        raise ConfigError(f"{path}: tokens ({', '.join(leaked)}) are not read from files; "
                          "set SCIM_TOKEN / SCIM_REVOKED_TOKEN in the environment instead")
    if isinstance(data.get("guests"), list):
        data["guests"] = [_parse_guest(g) if isinstance(g, str) else g for g in data["guests"]]
    return data


def merge(*layers: Mapping) -> dict:
    merged: dict = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    return merged


def validate(settings: dict) -> None:
    problems = errors("target.schema.json", settings)
    if problems:
        raise ConfigError("invalid target configuration: " + "; ".join(describe(p) for p in problems))


def load(*, toml: str | Path | None = None, env: Mapping[str, str] | None = None,
         options: Mapping | None = None, available_idps: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """(settings, secrets) from the three sources, validated. Settings carry no secret."""
    env = os.environ if env is None else env
    settings = merge(from_toml(toml) if toml else {}, from_env(env), options or {})
    settings.setdefault("idps", list(available_idps))
    settings.setdefault("timeout", DEFAULT_TIMEOUT)
    validate(settings)
    unknown = [i for i in settings["idps"] if i not in available_idps]
    if available_idps and unknown:
        raise ConfigError(f"unknown IdP profile(s) {', '.join(unknown)}; available: {', '.join(available_idps)}")
    if "base_url" in settings and not env.get("SCIM_TOKEN"):
        raise ConfigError("SCIM_BASE_URL is set but SCIM_TOKEN is not: the bearer token comes from the environment")
    secrets = {"token": env.get("SCIM_TOKEN"), "revoked_token": env.get("SCIM_REVOKED_TOKEN") or None}
    return settings, secrets


def target(settings: dict, secrets: dict) -> Target:
    """A Target for an external endpoint (base_url present)."""
    domains = tuple(settings.get("org_domains", ()))
    return Target(
        base_url=settings["base_url"].rstrip("/"),
        token=secrets["token"],
        revoked_token=secrets["revoked_token"],
        org_domains=domains,
        guests=tuple(Guest(**g) for g in settings.get("guests", ())),
        idps=tuple(settings["idps"]),
        variants=settings.get("variants", {}),
        reactivation=settings.get("reactivation", "supported"),
        user_domain=settings.get("user_domain") or (domains[0] if domains else "example.com"),
        timeout=settings["timeout"],
        verify_tls=settings.get("verify_tls", True),
    )


def embedded_target(settings: dict, server) -> Target:
    """A Target describing a running embedded reference server, from its tenant."""
    tenant = server.tenant
    return Target(
        base_url=server.base_url,
        token=tenant.token,
        revoked_token=tenant.revoked_tokens[0] if tenant.revoked_tokens else None,
        org_domains=tenant.domains,
        guests=tuple(Guest(g.userName, g.id) for g in tenant.guests),
        idps=tuple(settings["idps"]),
        variants=settings.get("variants", {}),
        reactivation="refused" if tenant.options.reactivation == "refused" else "supported",
        user_domain=settings.get("user_domain") or tenant.domains[0],
        timeout=settings["timeout"],
        embedded=True,
    )
