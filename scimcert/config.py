"""The target under test: one loader for every entry point (pytest, tox, CLI wrappers).

Sources, later overriding earlier: an optional TOML file, environment variables, pytest options.
Secrets (tokens) only from the environment. Without SCIM_BASE_URL the embedded reference server
is started and described from its tenant file, so checks never know which kind of target they face.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
    "SCIM_GROUP_DELETE": "group_delete",
    "SCIM_USER_DOMAIN": "user_domain",
    "SCIM_TIMEOUT": "timeout",
    "SCIM_MAX_RUN_SECONDS": "max_run_seconds",
    "SCIM_MAX_RPS": "max_rps",
    "SCIM_MAX_IN_FLIGHT": "max_in_flight",
    "SCIM_READ_ONLY": "read_only",
    "SCIM_CA_BUNDLE": "ca_bundle",
}
NUMBERS = {"timeout": float, "max_run_seconds": float, "max_rps": float, "max_in_flight": int}
SECRETS = ("token", "revoked_token")
# Okta closes the socket after 60 s: Okta's SCIM FAQs (GitHub okta/okta-developer-docs, docs/concepts/scim/faqs)
DEFAULT_TIMEOUT = 60.0
DEFAULT_RUN_SECONDS = 1800.0  # the whole run, cleanup included: a CI gate never hangs


class ConfigError(ValueError):
    """The target configuration is invalid; the message says which source and field."""


@dataclass(frozen=True)
class Guest:
    userName: str
    id: str | None = None


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str = field(repr=False)  # never in a repr: tracebacks with --showlocals print reprs
    revoked_token: str | None = field(repr=False)
    org_domains: tuple[str, ...]
    guests: tuple[Guest, ...]
    idps: tuple[str, ...]
    variants: Mapping[str, str] = field(default_factory=dict)
    reactivation: str = "supported"
    group_delete: str = "supported"
    user_domain: str = "example.com"
    timeout: float = DEFAULT_TIMEOUT
    verify_tls: bool = True
    ca_bundle: str | None = None
    read_only: bool = False
    max_rps: float | None = None
    max_in_flight: int | None = None
    max_run_seconds: float = DEFAULT_RUN_SECONDS
    embedded: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.revoked_token) if s)

    def describe(self) -> dict:
        """The target as a report may show it: no secrets."""
        return {
            "base_url": self.base_url, "embedded": self.embedded, "org_domains": list(self.org_domains),
            "guests": [g.userName for g in self.guests], "idps": list(self.idps), "variants": dict(self.variants),
            "reactivation": self.reactivation, "group_delete": self.group_delete, "timeout": self.timeout, "read_only": self.read_only,
            "verify_tls": self.verify_tls, "max_rps": self.max_rps, "max_in_flight": self.max_in_flight,
            "max_run_seconds": self.max_run_seconds,
        }

    def tls(self) -> bool | ssl.SSLContext:
        """What the client verifies the server's certificate with: the system's CAs, a CA bundle, or
        nothing (--insecure)."""
        if not self.verify_tls:
            return False
        return ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else True


@dataclass(frozen=True)
class Settings:
    """What the user asked for (TOML file < environment < options), validated against
    schemas/target.schema.json, and never a secret: the run's typed settings. Each field is named as in that
    schema; `base_url` None means the embedded reference server."""

    idps: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT
    base_url: str | None = None
    org_domains: tuple[str, ...] = ()
    guests: tuple[Guest, ...] = ()
    variants: Mapping[str, str] = field(default_factory=dict)
    reactivation: str = "supported"
    group_delete: str = "supported"
    user_domain: str | None = None
    verify_tls: bool = True
    ca_bundle: str | None = None
    allow_http: bool = False
    read_only: bool = False
    max_rps: float | None = None
    max_in_flight: int | None = None
    max_run_seconds: float = DEFAULT_RUN_SECONDS
    reference_faults: tuple[str, ...] = ()

    @classmethod
    def of(cls, merged: Mapping) -> Settings:
        """From the merged, validated sources (a mapping of target.schema.json)."""
        tuples = {"idps", "org_domains", "reference_faults"}
        values = {name: tuple(value) if name in tuples else value for name, value in merged.items()}
        values["guests"] = tuple(Guest(**g) for g in merged.get("guests", ()))
        return cls(**values)

    @property
    def embedded(self) -> bool:
        """No base URL: the run tests the embedded reference server."""
        return self.base_url is None

    def describe(self) -> dict:
        """The settings as a report shows them (conformance.json `target`), under its names."""
        return {"baseUrl": self.base_url or "embedded reference server", "embedded": self.embedded,
                "idps": list(dict.fromkeys(self.idps)), "orgDomains": list(self.org_domains),
                "variants": dict(self.variants), "referenceFaults": list(self.reference_faults),
                "readOnly": self.read_only, "verifyTls": self.verify_tls,
                "limits": {"maxRps": self.max_rps, "maxInFlight": self.max_in_flight,
                           "maxRunSeconds": self.max_run_seconds}}


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
        elif key in NUMBERS:
            try:
                settings[key] = NUMBERS[key](raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        elif key == "read_only":
            settings[key] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            settings[key] = raw.strip()
    return settings


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_plain_http(settings: dict) -> None:
    """A token sent in clear text over a network needs the user's explicit consent (--allow-http)."""
    url = settings.get("base_url")
    if not url or not url.startswith("http://") or settings.get("allow_http"):
        return
    if not _loopback(urlsplit(url).hostname or ""):
        raise ConfigError(f"{url} is plain http to a host that is not loopback: the bearer token would cross the "
                          "network unencrypted. Use https, or pass --allow-http (allow_http = true) to accept that.")


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


TARGET_ONLY = {"SCIM_TOKEN": "token", "SCIM_REVOKED_TOKEN": "revoked_token", "SCIM_GUESTS": "guests",
               "SCIM_ORG_DOMAINS": "org_domains"}  # settings that only mean something for a target of one's own


def load(*, toml: str | Path | None = None, env: Mapping[str, str] | None = None,
         options: Mapping | None = None, available_idps: tuple[str, ...] = (),
         embedded: bool = False) -> tuple[Settings, dict]:
    """(settings, secrets) from the three sources, validated. Settings carry no secret. `embedded`: the
    embedded reference server is asked for explicitly (a base URL is then an error, target-only settings
    are ignored); otherwise target-only settings without a base URL are an error (a typo in a CI file
    would test the embedded server and pass)."""
    env = os.environ if env is None else env
    settings = merge(from_toml(toml) if toml else {}, from_env(env), options or {})
    if embedded and "base_url" in settings:
        raise ConfigError("--embedded tests the embedded reference server, but a base URL is set "
                          f"({settings['base_url']}): drop one of them")
    given = [name for name, key in TARGET_ONLY.items() if (env.get(name) or "").strip() or key in settings]
    if given and "base_url" not in settings and not embedded:
        raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but SCIM_BASE_URL is not: "
                          "set SCIM_BASE_URL (or --base-url) for your endpoint; a run tests the embedded reference "
                          "server with these set only when asked (--embedded)")
    if settings.get("reference_faults") and "base_url" in settings:
        raise ConfigError("--reference-fault applies to the embedded reference server only, but a base URL is set "
                          f"({settings['base_url']})")
    settings.setdefault("idps", list(available_idps))
    settings.setdefault("timeout", DEFAULT_TIMEOUT)
    validate(settings)
    unknown = [i for i in settings["idps"] if i not in available_idps]
    if available_idps and unknown:
        raise ConfigError(f"unknown IdP profile(s) {', '.join(unknown)}; available: {', '.join(available_idps)}")
    if "base_url" in settings and not env.get("SCIM_TOKEN"):
        raise ConfigError("SCIM_BASE_URL is set but SCIM_TOKEN is not: the bearer token comes from the environment")
    _refuse_plain_http(settings)
    secrets = {"token": env.get("SCIM_TOKEN"), "revoked_token": env.get("SCIM_REVOKED_TOKEN") or None}
    return Settings.of(settings), secrets


def _how(settings: Settings) -> dict:
    """The Target fields that say how to test, the same for an external and the embedded target."""
    return {"idps": settings.idps, "variants": settings.variants, "timeout": settings.timeout,
            "read_only": settings.read_only, "max_rps": settings.max_rps, "max_in_flight": settings.max_in_flight,
            "max_run_seconds": settings.max_run_seconds}


def target(settings: Settings, secrets: dict) -> Target:
    """A Target for an external endpoint (base_url present)."""
    domains = settings.org_domains
    return Target(
        base_url=settings.base_url.rstrip("/"),
        token=secrets["token"],
        revoked_token=secrets["revoked_token"],
        org_domains=domains,
        guests=settings.guests,
        reactivation=settings.reactivation,
        group_delete=settings.group_delete,
        user_domain=settings.user_domain or (domains[0] if domains else "example.com"),
        verify_tls=settings.verify_tls,
        ca_bundle=settings.ca_bundle,
        **_how(settings),
    )


def embedded_target(settings: Settings, server) -> Target:
    """A Target describing a running embedded reference server, from its tenant."""
    tenant = server.tenant
    return Target(
        base_url=server.base_url,
        token=tenant.token,
        revoked_token=tenant.revoked_tokens[0] if tenant.revoked_tokens else None,
        org_domains=tenant.domains,
        guests=tuple(Guest(g.userName, g.id) for g in tenant.guests),
        reactivation="refused" if tenant.options.reactivation == "refused" else "supported",
        group_delete="refused" if tenant.options.groupDelete == "refused" else "supported",
        user_domain=settings.user_domain or tenant.domains[0],
        embedded=True,
        **_how(settings),
    )
