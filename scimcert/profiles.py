"""IdP profiles (fixtures/idps/*.json): what each IdP sends, as data. Python only renders it.

A check asks `profile.request("createUser", userName=..., ...)` and sends exactly what comes back.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import quote

from .paths import FIXTURES
from .schemas import describe, errors

PROFILES_DIR = FIXTURES / "idps"
_WHOLE = re.compile(r"^\{([A-Za-z]+)\}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z]+)(\|url|\|text)?\}")
STEPS = ("testCredentials", "importPage", "findUser", "findUserByExternalId", "getUser", "createUser", "updateUser",
         "updateManager", "updateAddress", "updateSequence", "deactivateUser", "reactivateUser", "deleteUser",
         "listGroups", "findGroup", "getGroup", "createGroup", "renameGroup", "addMembers", "removeMembers",
         "deleteGroup")


class ProfileError(ValueError):
    """A profile violates schemas/idp-profile.schema.json, or a placeholder has no value."""


@dataclass(frozen=True)
class Request:
    """One rendered IdP request: what the client sends, and which answers the IdP accepts."""

    step: str
    variant: str
    source: str
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    accepts: tuple[int, ...] = (200,)
    inferred: bool = False

    @property
    def label(self) -> str:
        return self.step if self.variant == "default" else f"{self.step}[{self.variant}]"


def _fill_text(text: str, values: dict[str, Any], where: str) -> str:
    def substitute(match: re.Match) -> str:
        name, conversion = match.group(1), match.group(2)
        if name not in values:
            raise ProfileError(f"{where}: no value for placeholder {{{name}}}")
        value = values[name]
        if conversion == "|text":  # the value as JSON would write it: true, not True (OneLogin's "{$user.active}")
            return value if isinstance(value, str) else json.dumps(value)
        return quote(str(value), safe="") if conversion == "|url" else str(value)
    return _PLACEHOLDER.sub(substitute, text)


def render(template: Any, values: dict[str, Any], where: str = "template") -> Any:
    """Replace placeholders: a whole-string "{x}" takes x's value as is; "{x}" inside text is substituted."""
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            if whole.group(1) not in values:
                raise ProfileError(f"{where}: no value for placeholder {template}")
            return copy.deepcopy(values[whole.group(1)])
        return _fill_text(template, values, where)
    if isinstance(template, list):
        return [render(item, values, where) for item in template]
    if isinstance(template, dict):
        return {key: render(value, values, where) for key, value in template.items()}
    return template


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    description: str
    headers: dict[str, str]
    body_content_type: str
    reads: str | None
    steps: dict[str, dict]
    unknown_ids: tuple[str, ...] = ()
    lacks: dict[str, str] = field(default_factory=dict)
    response_content_types: tuple[str, ...] = ("application/scim+json",)
    members_optional: str | None = None  # where the IdP says a group answer need not list members (its source)
    chosen: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        """The profile and the variants chosen: what reports show of a check's `idp` parameter (Allure), not
        the whole sequence."""
        return f"Profile({self.id}" + "".join(f", {step}={name}" for step, name in sorted(self.chosen.items())) + ")"

    def choosing(self, variants: dict[str, str]) -> Profile:
        """This profile with the tenant's configured variants (target `variants`, --variant): a step's
        'default' then renders the chosen variant, the shape this tenant's IdP app really sends.
        Keys are `step` (taken by every profile that has such a variant) or `idp.step` (this one only)."""
        chosen = {}
        for key, name in variants.items():
            idp, _, step = key.rpartition(".")
            if idp in ("", self.id) and name in self.variants(step):
                chosen[step] = name
            elif idp == self.id:
                raise ProfileError(f"{self.name} has no variant '{name}' of {step}; "
                                   f"it has: {', '.join(self.variants(step)) or 'no such step'}")
        return replace(self, chosen=chosen)

    def has(self, step: str) -> bool:
        return step in self.steps

    def variants(self, step: str) -> list[str]:
        return ["default", *self.steps[step].get("variants", {})] if step in self.steps else []

    def lacks_reason(self, step: str) -> str:
        """Why this IdP never sends `step` (the profile's `lacks`, citing the reference)."""
        return self.lacks.get(step, f"{self.name} never sends {step}")

    def resolve(self, step: str, variant: str = "default") -> str:
        """The variant a request for `variant` of `step` renders: 'default' means the chosen one."""
        return self.chosen.get(step, "default") if variant == "default" else variant

    def spec(self, step: str, variant: str = "default") -> dict:
        """The effective request fields of a step's variant ('default': the chosen one)."""
        return self._spec(step, self.resolve(step, variant))

    def _spec(self, step: str, variant: str) -> dict:
        """The step it is `like` (its own default), then the step's own fields, then the variant's (each
        replacing what it names); "with" is merged into the body."""
        own = dict(self.steps[step])
        overrides = own.pop("variants", {})
        spec = self._spec(own.pop("like"), "default") if "like" in own else {}
        spec.update(own)
        if variant != "default":
            spec.update(overrides[variant])
        if "with" in spec:
            extra = spec.pop("with")
            spec["body"] = {**(spec.get("body") if isinstance(spec.get("body"), dict) else {}), **extra}
        return spec

    def placeholders(self, step: str, variant: str = "default") -> set[str]:
        """The names of the placeholders a step's variant uses (path, query and body)."""
        spec = self.spec(step, variant)
        text = json.dumps([spec.get("path", ""), spec.get("query", ""), spec.get("body")])
        return set(re.findall(r"\{([A-Za-z]+)(?:\|url|\|text)?\}", text))

    def request(self, step: str, variant: str = "default", **values: Any) -> Request:
        """Render one step (optionally a variant of it) with the check's values."""
        variant = self.resolve(step, variant)
        spec = self.spec(step, variant)
        where = f"{self.id}.{step}[{variant}]"
        values = {**spec.get("defaults", {}), **values}
        for name, template in spec.get("each", {}).items():  # a list placeholder: one rendered element per item
            values[name] = [render(template, {**values, **item}, where) for item in values.get(name, ())]
        body = render(spec["body"], values, where) if "body" in spec else None
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = self.body_content_type
        headers.update(spec.get("headers", {}))
        return Request(
            step=step, variant=variant, source=spec["source"], method=spec["method"],
            path=_fill_text(spec["path"], values, where), query=_fill_text(spec.get("query", ""), values, where),
            headers=headers, body=body, accepts=tuple(spec["accepts"]),
            inferred=spec.get("inferred", False) and self.chosen.get(step) != variant,  # declared: a fact
        )


def load(path) -> Profile:
    data = json.loads(path.read_text("utf-8"))
    problems = errors("idp-profile.schema.json", data)
    if problems:
        raise ProfileError(f"{path.name}: " + "; ".join(describe(p) for p in problems))
    unexplained = [s for s in STEPS if s not in data["steps"] and s not in data.get("lacks", {})]
    if unexplained:
        raise ProfileError(f"{path.name}: steps neither defined nor explained in 'lacks': {', '.join(unexplained)}")
    return Profile(
        id=data["id"], name=data["name"], description=data["description"], headers=data["headers"],
        body_content_type=data["bodyContentType"], reads=data.get("reads"), steps=data["steps"],
        unknown_ids=tuple(data.get("unknownIds", ())), lacks=dict(data.get("lacks", {})),
        response_content_types=tuple(data.get("responseContentTypes", ("application/scim+json",))),
        members_optional=data.get("membersOptional"),
    )


@cache
def profiles() -> dict[str, Profile]:
    """Every profile under fixtures/idps/, by id."""
    found = {}
    for path in sorted(PROFILES_DIR.glob("*.json")):
        profile = load(path)
        found[profile.id] = profile
    return found


def select(ids: list[str] | None, variants: dict[str, str] | None = None) -> list[Profile]:
    """The profiles named (all when None), each choosing the configured `variants` (Profile.choosing);
    ProfileError for an unknown profile, or a variant that none of them has."""
    known = profiles()
    unknown = [i for i in ids or () if i not in known]
    if unknown:
        raise ProfileError(f"unknown IdP profile(s): {', '.join(unknown)}; available: {', '.join(known)}")
    chosen = [known[i].choosing(variants or {}) for i in ids or known]
    unused = [f"{key}={name}" for key, name in (variants or {}).items()
              if not any(key.rpartition(".")[2] in p.chosen for p in chosen)]
    if unused:
        raise ProfileError(f"no selected IdP profile has the variant(s) {', '.join(unused)} "
                           "(a step's variants are listed under 'variants' in fixtures/idps/*.json)")
    return chosen
