"""Input bounds of the reference server, so that no single request costs enough to hold up the others
(docs/reference-server.md, "Limits"). Each bound is a tenant option; crossing one answers 400 invalidValue.
Filters have their own bounds (filter.py: MAX_LENGTH, MAX_DEPTH); bodies are capped by maxBodyBytes."""

from __future__ import annotations

from typing import Any

from .errors import invalid_value


def check_operations(body: Any, limit: int) -> None:
    """A PATCH holds at most `limit` operations (RFC 7644 §3.5.2 sets no number; each costs a pass over the user)."""
    operations = next((v for k, v in body.items() if isinstance(k, str) and k.lower() == "operations"), None) \
        if isinstance(body, dict) else None
    if isinstance(operations, list) and len(operations) > limit:
        raise invalid_value(f"A PATCH may hold at most {limit} operations; this one has {len(operations)}")


def check_values(user: dict, limit: int) -> None:
    """Each multi-valued attribute of a user (core or extension) holds at most `limit` values."""
    containers = [user, *(v for v in user.values() if isinstance(v, dict))]
    for container in containers:
        for name, value in container.items():
            if isinstance(value, list) and len(value) > limit:
                raise invalid_value(f"'{name}' may hold at most {limit} values; this user has {len(value)}")
