"""Helpers the checks share (scimcert.suites), against reference servers over real HTTP."""

from __future__ import annotations

import pytest
from helpers import create_user, faulty_server, scim_client

from scimcert.client import ScimClient
from scimcert.profiles import Request
from scimcert.redact import Redactor
from scimcert.suites import PATCH_OP, refused_operations


def _patch(user_id: str, *operations: dict) -> Request:
    return Request(step="updateUser", variant="default", source="test", method="PATCH", path=f"/Users/{user_id}",
                   headers={"Content-Type": "application/scim+json"}, accepts=(200, 204),
                   body={"schemas": [PATCH_OP], "Operations": list(operations)})


@pytest.mark.parametrize("fault, refused", [
    ("patch-value-path-unsupported", ['Replace emails[type eq "work"].value: 400 invalidPath']),
    (None, []),
])
def test_refused_operations_are_named_one_by_one(tenant, fault, refused):
    with faulty_server(tenant, *([fault] if fault else [])) as server, scim_client(server) as http:
        user = create_user(http)
        client = ScimClient(server.base_url, server.token, redactor=Redactor())
        request = _patch(user["id"], {"op": "Replace", "path": "title", "value": "Lead"},
                         {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"})
        found = refused_operations(client, request)
        client.close()
    assert [r.split(" Filtered")[0] for r in found] == refused


def test_a_single_operation_is_not_replayed(tenant):
    request = _patch("1", {"op": "replace", "path": "title", "value": "x"})
    assert refused_operations(None, request) == []
