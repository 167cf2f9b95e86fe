"""Shared fixtures of the project's own tests: reference servers on free loopback ports, and clients."""

from __future__ import annotations

import pytest
from helpers import scim_client

from scimcert.reference import ReferenceServer, Tenant


@pytest.fixture(scope="session")
def tenant() -> Tenant:
    return Tenant.load()


@pytest.fixture(scope="module")
def server(tenant):
    """One correct reference server per test module."""
    with ReferenceServer(tenant) as running:
        yield running


@pytest.fixture
def fresh_server(tenant):
    """A correct reference server of its own, for tests that count or list every user."""
    with ReferenceServer(tenant) as running:
        yield running


@pytest.fixture
def client(server):
    with scim_client(server) as c:
        yield c


@pytest.fixture
def fresh_client(fresh_server):
    with scim_client(fresh_server) as c:
        yield c
