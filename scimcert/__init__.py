"""scimcert: a SCIM 2.0 conformance suite for IdP provisioning, with an embedded reference server."""

__version__ = "0.1.0"
