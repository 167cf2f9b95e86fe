"""The requirement catalogue (fixtures/requirements.json): the primary key from check to report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

from .paths import FIXTURES
from .schemas import describe, errors

LEVELS = ("MUST", "SHOULD", "MAY")
CAPABILITIES = ("token", "import", "filter", "create", "update", "deactivate", "delete",
                "groups", "domain", "guests", "errors", "schema", "discovery")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    capability: str
    source: str
    statement: str
    columns: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def rank(self) -> int:
        """0 for MUST, 1 for SHOULD, 2 for MAY: lower is stricter."""
        return LEVELS.index(self.level)

    def level_in(self, column: str) -> str:
        """The level in a report column (an IdP, or "rfc"): the column's own where its source sets one."""
        return self.columns.get(column, {}).get("level", self.level)

    def source_in(self, column: str) -> str:
        return self.columns.get(column, {}).get("source", self.source)


class CatalogueError(ValueError):
    """The catalogue violates its schema, or a check names an unknown requirement."""


@cache
def catalogue() -> dict[str, Requirement]:
    data = json.loads((FIXTURES / "requirements.json").read_text("utf-8"))
    problems = errors("requirements.schema.json", data)
    if problems:
        raise CatalogueError("; ".join(describe(p) for p in problems))
    found: dict[str, Requirement] = {}
    for entry in data["requirements"]:
        if entry["id"] in found:
            raise CatalogueError(f"duplicate requirement id {entry['id']}")
        found[entry["id"]] = Requirement(**entry)
    return found


def lookup(ids: tuple[str, ...] | list[str]) -> list[Requirement]:
    """The requirements with these ids; CatalogueError naming any unknown one."""
    known = catalogue()
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise CatalogueError(f"unknown requirement id(s): {', '.join(unknown)} (see fixtures/requirements.json)")
    return [known[i] for i in ids]


def main(argv: list[str] | None = None) -> int:
    """`scimcert requirements`: the catalogue, one requirement a line, or as JSON."""
    import argparse

    p = argparse.ArgumentParser(prog="scimcert requirements", description="List the requirement catalogue.")
    p.add_argument("--capability", choices=CAPABILITIES, action="append", help="only these capabilities")
    p.add_argument("--level", choices=LEVELS, action="append", help="only these levels (in the --idp column)")
    p.add_argument("--idp", metavar="ID", help="levels and sources as in this IdP's column (okta, onelogin, entra, rfc)")
    p.add_argument("--json", action="store_true", help="JSON: a list of {id, level, capability, source, statement}")
    args = p.parse_args(argv)
    column = args.idp or "rfc"
    chosen = [r for r in catalogue().values()
              if (not args.capability or r.capability in args.capability)
              and (not args.level or r.level_in(column) in args.level)]
    if args.json:
        print(json.dumps([{"id": r.id, "level": r.level_in(column), "capability": r.capability,
                           "source": r.source_in(column), "statement": r.statement} for r in chosen],
                         indent=2, ensure_ascii=False))
    else:
        for r in chosen:
            print(f"{r.id:<36} {r.level_in(column):<6} {r.capability:<10} {r.statement}")
    return 0
