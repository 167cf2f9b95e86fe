"""A deliberately hostile SCIM server, for tests that the conformance suite survives it.

Raw HTTP/1.1 over asyncio streams, so that it can misbehave at the byte level: answer HTML or garbage,
cut a body short, stream far more than any client should read, reset the connection, redirect, stall,
or echo the caller's token back. Each behaviour is a small coroutine; BEHAVIOURS maps names to them.

    with HostileServer(behaviour="html") as server:
        ...  # point SCIM_BASE_URL at f"{server.url}/scim/v2"

`behaviour="mixed"` rotates through every behaviour, one per request, in the order of BEHAVIOURS
(request n gets behaviour n mod len(BEHAVIOURS)), so a run against it is deterministic.

The server never stores anything: a POST is read and answered (or refused, or dropped) and forgotten,
so a run against it cannot leave a user behind. What it does record is how it was called:
`requests_by_method` (a Counter), `posts_with_body` (POSTs that carried a body: creates the suite
attempted), `paths` (every request target, e.g. to see whether a redirect was followed) and
`authorizations` (the Authorization values it saw, so a test can prove the canary token reached it),
`served` (the behaviour each request got) and `huge_bytes_sent` (per huge response, the body bytes the
client let it write before hanging up).
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
HUGE_SIZE = 64 * 1024 * 1024   # bytes the `huge` behaviour streams
HUGE_CHUNK = 64 * 1024
SLOW_DELAY = 3.0               # seconds the `slow` behaviour waits: longer than the tests' SCIM_TIMEOUT=1
REDIRECT_PREFIX = "/elsewhere"  # where `redirect` points; a request there means the client followed it
FAKE_USER_ID = "2819c223-7f76-453a-919d-413861904646"  # the id of every user `wrong-content-type` pretends to have
REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found", 401: "Unauthorized", 404: "Not Found",
           500: "Internal Server Error"}


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def _user(user_id: str = FAKE_USER_ID, user_name: str = "hostile@example.com") -> dict:
    return {"schemas": [USER], "id": user_id, "userName": user_name, "active": True,
            "name": {"givenName": "Hostile", "familyName": "Server"},
            "meta": {"resourceType": "User", "location": f"/scim/v2/Users/{user_id}"}}


def _list(*resources: dict) -> dict:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(resources), "startIndex": 1,
            "itemsPerPage": len(resources), "Resources": list(resources)}


async def respond(writer: asyncio.StreamWriter, status: int, headers: dict[str, str] | None = None,
                  body: bytes = b"", *, content_length: int | None = None) -> None:
    """Write one response; Content-Length is len(body) unless given (a lie, when it differs)."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


# ---- the behaviours: each answers one request; True keeps the connection open ---------------------------

Behaviour = Callable[["HostileServer", Request, asyncio.StreamWriter], Awaitable[bool]]


async def html(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """500 with a proxy's HTML error page."""
    page = (b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
            b"<body><h1>Internal Server Error</h1><p>The upstream SCIM service is unavailable.</p>"
            b"<hr><address>nginx</address></body></html>\n")
    await respond(writer, 500, {"Content-Type": "text/html; charset=utf-8"}, page)
    return True


async def not_json(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """200 text/plain "OK"."""
    await respond(writer, 200, {"Content-Type": "text/plain"}, b"OK")
    return True


async def invalid_utf8(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """200 application/scim+json that looks like a ListResponse but holds bytes that are not UTF-8."""
    body = (b'{"schemas":["' + LIST_RESPONSE.encode() + b'"],"totalResults":1,"startIndex":1,"itemsPerPage":1,'
            b'"Resources":[{"schemas":["' + USER.encode() + b'"],"id":"bad-\xff\xfe","userName":"\xc3\x28@\x80"}]}')
    await respond(writer, 200, {"Content-Type": "application/scim+json"}, body)
    return True


async def truncated(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """200 application/scim+json whose JSON stops half-way (Content-Length honest for what is sent)."""
    whole = json.dumps(_list(_user())).encode()
    await respond(writer, 200, {"Content-Type": "application/scim+json"}, whole[: len(whole) // 2])
    return True


async def huge(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """200 application/scim+json, chunked, ~64 MiB of one ListResponse, generated as it is sent."""
    head = f'{{"schemas":["{LIST_RESPONSE}"],"totalResults":1,"Resources":[{{"userName":"'.encode()
    tail = b'"}]}'
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n")
    server.huge_bytes_sent.append(0)
    for chunk in _huge_body(head, tail):
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()  # the client stopping to read (and closing) ends this with a ConnectionError
        server.huge_bytes_sent[-1] += len(chunk)
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return False


def _huge_body(head: bytes, tail: bytes):
    """The chunks of the huge body, made as they are sent: one 64 KiB filler is all it holds."""
    yield head
    filler = b"x" * HUGE_CHUNK
    for _ in range((HUGE_SIZE - len(head) - len(tail)) // HUGE_CHUNK):
        yield filler
    yield tail


async def wrong_content_type(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """Plausible SCIM JSON (a ListResponse for a list, else a User) labelled text/html; DELETE answers 204."""
    if request.method == "DELETE":
        await respond(writer, 204)
        return True
    segments = [s for s in request.path.split("/") if s]
    body = _list(_user()) if request.method == "GET" and segments[-1:] == ["Users"] else _user()
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if request.method == "POST":
        headers["Location"] = body["meta"]["location"]
    await respond(writer, 201 if request.method == "POST" else 200, headers, json.dumps(body).encode())
    return True


async def reset(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """Read the request, then close the socket with an RST (SO_LINGER 0) and no answer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


async def redirect(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """302 to another URL on 127.0.0.1 (this server, under /elsewhere: a request there was a followed redirect)."""
    location = f"http://127.0.0.1:{server.port}{REDIRECT_PREFIX}{request.target}"
    await respond(writer, 302, {"Location": location, "Content-Type": "text/html"},
                  f'<a href="{location}">Found</a>'.encode())
    return True


async def slow(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """A correct-looking answer, but only after SLOW_DELAY seconds (other connections are served meanwhile)."""
    await asyncio.sleep(server.slow_delay)
    await respond(writer, 200, {"Content-Type": "application/scim+json"}, json.dumps(_list()).encode())
    return True


async def echo_token(server: HostileServer, request: Request, writer: asyncio.StreamWriter) -> bool:
    """401 whose body and headers repeat the Authorization header it received (and its credential in base64)."""
    received = request.headers.get("authorization", "")
    credential = received.split(" ", 1)[-1]
    body = {"schemas": [ERROR], "status": "401", "detail": f"invalid credentials: {received}",
            "debug": {"authorization": received, "credentialBase64": base64.b64encode(credential.encode()).decode()}}
    await respond(writer, 401, {"Content-Type": "application/scim+json",
                                "WWW-Authenticate": f'Bearer realm="scim", error_description="rejected {received}"',
                                "X-Debug-Auth": received}, json.dumps(body).encode())
    return True


BEHAVIOURS: dict[str, Behaviour] = {
    "html": html,
    "not-json": not_json,
    "invalid-utf8": invalid_utf8,
    "truncated": truncated,
    "huge": huge,
    "wrong-content-type": wrong_content_type,
    "reset": reset,
    "redirect": redirect,
    "slow": slow,
    "echo-token": echo_token,
}


# ---- the server --------------------------------------------------------------------------------------------

@dataclass
class HostileServer:
    """One hostile server on 127.0.0.1 (a free port), its asyncio loop in a background thread."""

    behaviour: str = "mixed"
    slow_delay: float = SLOW_DELAY
    port: int = 0
    requests_by_method: Counter = field(default_factory=Counter)
    posts_with_body: int = 0
    paths: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)  # the behaviour each request got, in order
    authorizations: set[str] = field(default_factory=set)
    huge_bytes_sent: list[int] = field(default_factory=list)  # per huge response: body bytes written
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.behaviour != "mixed" and self.behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {self.behaviour!r}; known: mixed, {', '.join(BEHAVIOURS)}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        async def listen() -> None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(listen())
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=serve, name=f"hostile-{self.behaviour}", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _pick(self) -> Behaviour:
        name = self.behaviour
        if name == "mixed":
            name = list(BEHAVIOURS)[len(self.served) % len(BEHAVIOURS)]
        self.served.append(name)
        return BEHAVIOURS[name]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())
        try:
            keep_open = True
            while keep_open:
                request = await _read_request(reader)
                if request is None:
                    break
                self.requests_by_method[request.method] += 1
                self.paths.append(request.target)
                self.posts_with_body += request.method == "POST" and bool(request.body)
                if "authorization" in request.headers:
                    self.authorizations.add(request.headers["authorization"])
                if request.path.startswith(REDIRECT_PREFIX):  # a followed redirect: answer plainly, keep count
                    await respond(writer, 404, {"Content-Type": "text/plain"}, b"you followed a redirect")
                    continue
                keep_open = await self._pick()(self, request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client hung up (e.g. after reading its cap of `huge`), or sent something unreadable
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self._tasks.discard(asyncio.current_task())
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request (head and body, Content-Length or chunked); None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, target, headers, body)
