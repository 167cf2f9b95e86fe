"""The embedded reference SCIM 2.0 server: an Asana-like service provider for Users.

`ReferenceServer` serves it on a free loopback port; `create_app` gives the ASGI app
(for in-process tests through httpx's ASGI transport).
"""

from .app import create_app
from .server import ReferenceServer
from .tenant import Tenant

__all__ = ["ReferenceServer", "Tenant", "create_app"]
