"""Test data: realistic, seeded, recognisable users. The seed is printed and stored; --seed replays a run."""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass
from functools import cache

from faker import Faker

PREFIX = "scimcert"
LOCALES = ("en_US", "de_DE", "fr_FR", "ga_IE")
# Names that break naive endpoints: apostrophes, diacritics, non-Latin scripts, hyphens.
HARD_NAMES = [("Zoë", "O'Brien"), ("Łukasz", "Żółć-Ångström"), ("Siobhán", "Ní Dhomhnaill"), ("José", "Muñoz"),
              ("Dvořák", "Šťastný"), ("Ólafur", "Þórsson"), ("Αλέξανδρος", "Παπαδόπουλος"), ("Наталья", "Иванова")]


# Team names as organizations write them: spaces, an ampersand, diacritics, non-Latin scripts (a filter must quote
# and a URL encode them).
TEAMS = ("Design Systems", "R&D Platform", "Équipe Été", "Ventas España", "Маркетинг", "Customer Success", "Data Eng")


@dataclass(frozen=True)
class NewGroup:
    """The values a check needs to create one group (an Asana team)."""

    displayName: str
    externalId: str


@dataclass(frozen=True)
class NewUser:
    """The values a check needs to create one user; `values()` feeds profile templates."""

    userName: str
    givenName: str
    familyName: str
    externalId: str
    password: str

    @property
    def email(self) -> str:
        return self.userName

    @property
    def displayName(self) -> str:
        return f"{self.givenName} {self.familyName}"

    def values(self) -> dict:
        return {"userName": self.userName, "givenName": self.givenName, "familyName": self.familyName,
                "email": self.email, "displayName": self.displayName, "externalId": self.externalId,
                "password": self.password}


def run_tag(seed: int) -> str:
    """A short tag of the run, part of every userName so leftovers are recognisable (and sweepable)."""
    return hashlib.sha256(str(seed).encode()).hexdigest()[:6]


def user_name_prefix(tag: str | None = None) -> str:
    """How every userName the suite creates starts ("Scimcert."), or one run's ("Scimcert.<tag>.")."""
    return f"{PREFIX.capitalize()}." + (f"{tag}." if tag else "")


@cache
def _faker(locale: str) -> Faker:
    """One Faker per locale and process (building one costs ~5 ms); each draw reseeds it (UserFactory._names)."""
    return Faker(locale)


# Hex digits of the check's own part of each name, followed by "." and the user's number within the check. Two
# of a run's ~570 checks share them about once in 10**7 runs. The former part (a number below 36**4, written in
# hex, the number right after it) gave two checks of one run the same userName in a few runs in 1,000 (a 409
# on create: a check skipped that should have been judged).
CHECK_DIGITS = 10


class UserFactory:
    """Users for one check: deterministic from (run seed, check id), unique within the run."""

    def __init__(self, seed: int, check_id: str, domain: str):
        digest = int(hashlib.sha256(f"{seed}:{check_id}".encode()).hexdigest()[:12], 16)
        self.random = random.Random(digest)
        self.tag = run_tag(seed)
        self.check = format(digest, "012x")[:CHECK_DIGITS]
        self.domain = domain
        self.count = 0

    def _names(self) -> tuple[str, str]:
        if self.random.random() < 0.4:
            return self.random.choice(HARD_NAMES)
        faker = _faker(self.random.choice(LOCALES))  # one locale per Faker: a multi-locale Faker is not seedable
        faker.seed_instance(self.random.getrandbits(64))  # the draw depends on this factory's seed only
        return faker.first_name(), faker.last_name()

    def local_part(self, given: str) -> str:
        self.count += 1
        ascii_given = "".join(c for c in given if c in string.ascii_letters) or "User"
        return f"{user_name_prefix(self.tag)}{ascii_given}.{self.check}.{self.count}"

    def group(self) -> NewGroup:
        """A group whose displayName carries the run's prefix (as a userName does) and a team name."""
        self.count += 1
        team = self.random.choice(TEAMS)
        return NewGroup(displayName=f"{user_name_prefix(self.tag)}{team} {self.check}.{self.count}",
                        externalId="".join(self.random.choices(string.hexdigits.lower()[:16], k=32)))

    def new(self, domain: str | None = None) -> NewUser:
        """A user with mixed-case userName on `domain` (default: the target's user domain)."""
        given, family = self._names()
        user_name = f"{self.local_part(given)}@{domain or self.domain}"
        return NewUser(
            userName=user_name, givenName=given, familyName=family,
            externalId="00u" + "".join(self.random.choices(string.ascii_letters + string.digits, k=17)),
            password="".join(self.random.choices(string.ascii_lowercase + string.digits, k=8)),
        )
