"""The embedded reference SCIM 2.0 server: an Asana-like service provider for Users and Groups (teams).

`ReferenceServer` serves it on a free loopback port; `create_app` gives the ASGI app
(for in-process tests through httpx's ASGI transport).

The names are imported on first use (PEP 562), so a run against a vendor's endpoint, which reads only
the tenant file, does not load the server (Starlette, uvicorn) at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .server import ReferenceServer
    from .tenant import Tenant

__all__ = ["ReferenceServer", "Tenant", "create_app"]
_HOMES = {"ReferenceServer": ".server", "Tenant": ".tenant", "create_app": ".app"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name], __name__), name)
