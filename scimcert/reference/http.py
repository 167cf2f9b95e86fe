"""HTTP plumbing of the reference server: SCIM responses, bearer auth and the body-size limit.

Auth and the size limit are pure ASGI middleware so they hold for every path, unknown ones included.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ScimError

SCIM_JSON = "application/scim+json"


class ScimResponse(JSONResponse):
    media_type = SCIM_JSON

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_response(error: ScimError) -> ScimResponse:
    return ScimResponse(error.body(), status_code=error.status, headers=error.headers)


def token_matches(presented: str, tokens: Iterable[str]) -> bool:
    """Constant-time comparison against every active token (no early exit on a match)."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8"))
    return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Bearer <token>` (scheme case-insensitive, RFC 6750 §2.1), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


class BearerAuth:
    """401 with a SCIM Error and `WWW-Authenticate` unless the request carries an active token."""

    def __init__(self, app: ASGIApp, tokens: tuple[str, ...], realm: str):
        self.app = app
        self.tokens = tokens
        self.challenge = f'Bearer realm="{realm}"'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = bearer_token(Headers(scope=scope).get("authorization"))
        if token is not None and token_matches(token, self.tokens):
            return await self.app(scope, receive, send)
        detail = "Authentication required: send 'Authorization: Bearer <token>' with an active token"
        if token is not None:
            detail = "The bearer token is not valid (unknown or revoked)"
        error = ScimError(401, detail, headers={"WWW-Authenticate": self.challenge})
        await error_response(error)(scope, receive, send)


class BodyLimit:
    """413 with a SCIM Error for a request body over `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = ScimError(413, f"The request body exceeds {self.limit} bytes")
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            return await error_response(too_large)(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await error_response(too_large)(scope, receive, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
