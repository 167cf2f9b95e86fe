"""Rewriting layers wrapped around the correct server: the machinery faults are built from.

A `Rewrite` sees each request as an `Exchange` (method, path below the base path, query, headers,
raw JSON body) and may change it, answer it itself, or change the `Answer` the server gave.
The correct server never knows it is being wrapped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http import bearer_token, token_matches

SCIM_JSON = "application/scim+json"


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class JsonBody:
    """`body`: the parsed JSON of `raw_body` (None when absent or not JSON). A copy: assign it back to change it."""

    raw_body: bytes

    @property
    def body(self) -> Any:
        return _parse_json(self.raw_body)

    @body.setter
    def body(self, value: Any) -> None:
        self.raw_body = json.dumps(value).encode("utf-8")


@dataclass
class Exchange(JsonBody):
    """A request as a fault sees it. `path` is relative to the base path (e.g. '/Users/abc').

    Changes to `method`, `path`, `query`, `headers` and the body are what the server receives.
    `notes` carries what `on_request` wants `on_response` to know about this one request.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: MutableHeaders
    raw_body: bytes
    raw_query: str = ""
    state: Any = None
    notes: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def set_param(self, name: str, value: str | None) -> None:
        """Replace (or with None, remove) every occurrence of a query parameter."""
        self.query = [(k, v) for k, v in self.query if k != name]
        if value is not None:
            self.query.append((name, value))

    @property
    def user_id(self) -> str | None:
        """The id of /Users/{id}, else None."""
        parts = self.path.strip("/").split("/")
        return parts[1] if len(parts) == 2 and parts[0] == "Users" and parts[1] != ".search" else None

    @property
    def is_list(self) -> bool:
        """GET /Users: a query answered by a ListResponse."""
        return self.method == "GET" and self.path.rstrip("/") == "/Users"


@dataclass
class Answer(JsonBody):
    """A response as a fault sees it; `body` is parsed JSON when the response was JSON."""

    status: int
    headers: MutableHeaders
    raw_body: bytes = b""

    @classmethod
    def json(cls, status: int, body: Any, content_type: str = SCIM_JSON, **headers: str) -> Answer:
        answer = cls(status, MutableHeaders({"content-type": content_type, **headers}))
        if body is not None:
            answer.body = body
        return answer

    def replace(self, other: Answer) -> None:
        """Become `other` (status, headers and body)."""
        self.status, self.headers, self.raw_body = other.status, other.headers, other.raw_body


OnRequest = Callable[[Exchange], "Answer | None"]
OnResponse = Callable[[Exchange, Answer], None]


class Rewrite:
    """A Layer built from optional functions: `on_request`, `on_response`, and `adjust(state)`
    (run once when the app is built, for a fault that swaps one object or method on the state)."""

    def __init__(self, on_request: OnRequest | None = None, on_response: OnResponse | None = None,
                 adjust: Callable[[Any], None] | None = None):
        self.on_request = on_request
        self.on_response = on_response
        self._adjust = adjust

    def adjust(self, state) -> None:
        if self._adjust:
            self._adjust(state)

    def wrap(self, app: ASGIApp, state) -> ASGIApp:
        async def layer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            await self._handle(app, state, scope, receive, send)
        return layer

    async def _handle(self, app: ASGIApp, state, scope: Scope, receive: Receive, send: Send) -> None:
        limit = state.tenant.options.maxBodyBytes
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        base = state.base_path
        path = _relative(scope["path"], base)
        raw_query = scope["query_string"].decode("latin-1")
        exchange = Exchange(
            method=scope["method"],
            path=path,
            query=parse_qsl(raw_query, keep_blank_values=True),
            headers=MutableHeaders(raw=list(scope["headers"])),
            raw_body=b"".join(chunks),
            raw_query=raw_query,
            state=state,
        )
        if more:
            # Over the size limit: not a request to rewrite. Pass it on as it came, so the server's
            # own limit answers 413, and only rewrite that answer.
            answer, error = await _forward(app, scope, _replay(chunks, receive), scope["headers"])
        else:
            answer = self.on_request(exchange) if self.on_request else None
            if answer is not None and _authenticated(exchange, state):
                return await _send_answer(answer, send)
            # Unauthenticated, a fault's own answer is not given: the server's auth answers 401.
            answer, error = await _forward(app, _rewritten_scope(scope, exchange, base),
                                           _replay([exchange.raw_body], receive), exchange.headers.raw)
        if self.on_response:
            self.on_response(exchange, answer)
        await _send_answer(answer, send, head=scope["method"] == "HEAD")
        if error is not None:
            raise error  # as the correct server does: its SCIM 500 was sent, the crash is logged


def _authenticated(exchange: Exchange, state) -> bool:
    """Whether the request (as rewritten so far) carries an active token. Layers sit outside the
    server's auth, so a fault answering by itself must not answer requests the server would refuse."""
    token = bearer_token(exchange.headers.get("authorization"))
    return token is not None and token_matches(token, state.tenant.active_tokens)


def _relative(path: str, base: str) -> str:
    """The path below the base path ('/Users/abc'); a path outside it stays whole."""
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base):]
    return path or "/"


def _rewritten_scope(scope: Scope, exchange: Exchange, base: str) -> Scope:
    inner = dict(scope)
    inner["method"] = exchange.method
    original = scope["query_string"]
    unchanged = urlencode(parse_qsl(exchange.raw_query, keep_blank_values=True))
    query = urlencode(exchange.query)
    inner["query_string"] = original if query == unchanged else query.encode("latin-1")
    if exchange.path != _relative(scope["path"], base):
        inner["path"] = base + exchange.path
        inner["raw_path"] = quote(inner["path"]).encode("latin-1")
    exchange.headers["content-length"] = str(len(exchange.raw_body))
    if "transfer-encoding" in exchange.headers:
        del exchange.headers["transfer-encoding"]
    return inner


def _replay(chunks: list[bytes], receive: Receive) -> Receive:
    """A `receive` that gives the already-read body once, then defers to the client's connection."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay


async def _forward(app: ASGIApp, scope: Scope, receive: Receive,
                   headers: list[tuple[bytes, bytes]]) -> tuple[Answer, Exception | None]:
    """Run the wrapped app and capture its response. An exception after a complete response
    (Starlette sends its 500 page, then re-raises) is returned for re-raising once the answer is out."""
    inner = dict(scope)
    inner["headers"] = list(headers)
    answer = Answer(500, MutableHeaders())
    chunks: list[bytes] = []
    started = False

    async def capture(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
            answer.status = message["status"]
            answer.headers = MutableHeaders(raw=list(message.get("headers", [])))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(inner, receive, capture)
    except Exception as exc:
        if not started:
            raise
        answer.raw_body = b"".join(chunks)
        return answer, exc
    answer.raw_body = b"".join(chunks)
    return answer, None


async def _send_answer(answer: Answer, send: Send, head: bool = False) -> None:
    """Send `answer`, its Content-Length fitted to the (possibly rewritten) body; a HEAD answer
    keeps the length the server declared for the body it did not send."""
    empty = answer.status in (204, 304) or answer.status < 200
    headers = MutableHeaders(raw=[(k, v) for k, v in answer.headers.raw if k.lower() != b"content-length" or head])
    if not empty and not head:
        headers["content-length"] = str(len(answer.raw_body))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": b"" if empty or head else answer.raw_body})
