"""Ordinary users generated for scale tests (`--seed-users N`), realistic and deterministic."""

from __future__ import annotations

from faker import Faker

_POOL = 200


def generated_users(count: int, domains: tuple[str, ...], seed: int = 7643) -> list[dict]:
    """`count` SCIM user bodies on the tenant's first domain; unique userNames, faker names."""
    if count <= 0:
        return []
    fake = Faker(["en_US", "de_DE", "fr_FR"])
    fake.seed_instance(seed)
    given = [fake.first_name() for _ in range(_POOL)]
    family = [fake.last_name() for _ in range(_POOL)]
    users = []
    for n in range(count):
        first, last = given[n % _POOL], family[(n // _POOL) % _POOL]
        user_name = f"{first}.{last}.{n}@{domains[0]}".replace(" ", "").replace("'", "")
        users.append({
            "userName": user_name,
            "name": {"givenName": first, "familyName": last, "formatted": f"{first} {last}"},
            "displayName": f"{first} {last}",
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "active": True,
        })
    return users
