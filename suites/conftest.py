"""Collection rules of the conformance suites (the plugin itself is wired by the top-level conftest.py).

Checks parametrized over the variants any profile has (scimcert.suites.variant_params) run, for each IdP,
only the variants that IdP has: an (IdP, variant) pair that does not exist is deselected rather than
reported as a skip. An IdP that lacks the step altogether keeps one item, the 'default' one, which skips
with the profile's reason (its `lacks`).

The `discovered` fixture holds what checks read once per run and share (the /ResourceTypes answer).
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "variant_of(step, name): the parameter is the profile variant `name` of `step`")


def _exists(item: pytest.Item) -> bool:
    mark = item.get_closest_marker("variant_of")
    callspec = getattr(item, "callspec", None)
    idp = callspec.params.get("idp") if callspec else None
    if mark is None or idp is None:
        return True
    step, name = mark.args
    return name in idp.variants(step) if idp.has(step) else name == "default"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if not _exists(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if _exists(item)]


@pytest.fixture(scope="session")
def discovered() -> dict:
    """What checks read once per run (per xdist worker) and share, filled by the first check that needs it:
    e.g. "ResourceTypes", the GET /ResourceTypes answer (scimcert.suites.user_resource_type)."""
    return {}
