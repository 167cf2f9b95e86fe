"""The one client every check talks through: evidence capture, redaction, validation, cleanup tracking.

`ScimClient.send(request)` sends a rendered IdP request (profiles.Request) exactly as the IdP would
and returns an `Exchange`: the request and response as evidence (token redacted), the parsed body,
schema violations of the response, and a curl line to reproduce it. A transport failure (timeout,
reset, garbage) is an Exchange with `error` set and no status, never an exception.

Safe for real tenants: a body is read up to MAX_BODY bytes and a request ends after `timeout` seconds
in all (a server dripping bytes cannot hold it); a 429 with an integer Retry-After is waited out
(at most RETRIES times, MAX_RETRY_AFTER seconds each) and recorded on the exchange; every request
takes its turn from the run's Throttle (in-flight and per-second caps); redirects are never
followed; in read-only mode a write raises WriteRefused before anything is sent.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

from .profiles import Request
from .redact import Redactor
from .resources import USER, ResourceType, at
from .throttle import Throttle
from .validation import Violation, has_overlay, validate

BODY_CAP = 64 * 1024  # bytes of a response body kept as evidence
MAX_BODY = 8 * 1024 * 1024  # bytes of a response body read at most; a longer body is cut and not parsed
RETRIES = 3  # 429 answers waited out per request
MAX_RETRY_AFTER = 60  # seconds: a longer (or absent, or non-integer) Retry-After is not waited for
READS = ("GET", "HEAD")
EMPTY_ERROR = ("the error answer has no body (RFC 7644 §3.12: implementers MUST return the errors in the body "
               "of the response in a JSON format)")
_NOT_JSON = object()
_RELEASED = object()
RELEASED_KEEPS = 600  # characters of a released body kept: as many as a report's excerpt shows


class WriteRefused(Exception):
    """A write was about to be sent in read-only mode (nothing was sent)."""


class HeldInterrupts:
    """Holds back Ctrl-C and SIGTERM while one exchange is on the wire and being reported, then delivers
    them: a user the target created is never lost between its 201 and the cleanup tracker. A second
    signal is delivered at once (a user who insists gets out). Only the main thread receives signals."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending: tuple[int, Any] | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> HeldInterrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.getsignal(s) for s in self.SIGNALS}
            for s in self.SIGNALS:
                signal.signal(s, self._hold)
        return self

    def _hold(self, signum: int, frame: Any) -> None:
        if self.pending is not None:
            _deliver(self.previous[signum], signum, frame)
        self.pending = (signum, frame)

    def __exit__(self, *exc_info: Any) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        if self.pending is not None:
            _deliver(self.previous[self.pending[0]], *self.pending)


def _deliver(handler: Any, signum: int, frame: Any) -> None:
    """Do what `handler` (as signal.getsignal returned it) would have done with the signal."""
    if callable(handler):
        handler(signum, frame)
    elif handler != signal.SIG_IGN:  # the default action: Ctrl-C interrupts, SIGTERM terminates
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@dataclass
class Exchange:
    """One request and its answer, as evidence. Secrets are already redacted."""

    label: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    id: str = ""  # "<process>-<n>": its line in that process's transcript (transcript[-<worker>].jsonl.gz)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_text: str = ""
    elapsed_ms: float = 0.0
    error: str | None = None
    kind: str | None = None
    source: str = ""
    inferred: bool = False
    violations: list[Violation] = field(default_factory=list)
    idp_violations: list[Violation] = field(default_factory=list)
    overlay: str | None = None  # the IdP overlay this body was validated against (None: the RFC schema only)
    throttled: list[int] = field(default_factory=list)  # the Retry-After seconds waited out before this answer
    _parsed: Any = None

    @property
    def json(self) -> Any:
        """The parsed body; None when absent or not JSON."""
        if self._parsed is _RELEASED:
            raise RuntimeError(f"the body of exchange {self.id} was released after it was read")
        return None if self._parsed is _NOT_JSON else self._parsed

    @property
    def is_json(self) -> bool:
        return self.json is not None

    def release(self) -> None:
        """Let go of the body once it is read, keeping its first RELEASED_KEEPS characters as an excerpt: the
        transcript holds it whole, under `id`. A walk of 100,000 users would otherwise keep every user in
        memory; reading `json` afterwards is a bug, and raises."""
        if len(self.response_text) > RELEASED_KEEPS:
            self.response_text = (f"{self.response_text[:RELEASED_KEEPS]}… ({len(self.response_text)} characters; "
                                  f"whole in the transcript, exchange {self.id})")
        self._parsed = _RELEASED

    @property
    def content_type(self) -> str:
        return self.response_headers.get("content-type", "")

    def header(self, name: str) -> str | None:
        return self.response_headers.get(name.lower())

    @property
    def creates(self) -> ResourceType | None:
        """The resource type a POST to its endpoint creates (/Users, /Groups), whatever the target made of it;
        None for any other exchange."""
        addressed = at(self.url) if self.method == "POST" else None
        return addressed[0] if addressed is not None and addressed[1] is None else None

    @property
    def is_users_create(self) -> bool:
        """A POST to the Users endpoint: a create, whatever the target made of it."""
        return self.creates is USER

    @property
    def created_id(self) -> str | None:
        """The id of the resource this exchange created (a 2xx POST /Users or /Groups): from the body, else
        from the Location header; None for any other exchange."""
        if self.creates is None or self.status is None or not 200 <= self.status < 300:
            return None
        resource_id = self.json.get("id") if isinstance(self.json, dict) else None
        if isinstance(resource_id, (str, int)) and not isinstance(resource_id, bool) and str(resource_id):
            return str(resource_id)
        location = self.header("location")
        return location.rstrip("/").rsplit("/", 1)[-1] if location else None

    def summary(self) -> str:
        answer = f"{self.status}" if self.status is not None else f"no answer ({self.error})"
        return f"{self.method} {self.url} → {answer}"

    def curl(self) -> str:
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name.lower() == "authorization":
                value = f"{value.split(' ', 1)[0]} $SCIM_TOKEN" if " " in value else "$SCIM_TOKEN"
                parts += ["-H", f'"{name}: {value}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body is not None:
            parts += ["--data-raw", shlex.quote(self.request_body)]
        return " ".join(parts)

    def excerpt(self, limit: int = 600) -> str:
        return excerpt(self.response_text if self.status is not None else (self.error or ""), limit)

    def summary_record(self) -> dict:
        """What a report keeps of an exchange it does not need as evidence: the rest is in the transcript,
        under `id`."""
        return {"id": self.id, "label": self.label, "method": self.method, "url": self.url, "status": self.status,
                "error": self.error, "elapsedMs": round(self.elapsed_ms, 1), "throttled": self.throttled}

    def record(self) -> dict:
        """The exchange as a JSON-able dict (transcript and reports)."""
        return {
            "id": self.id, "label": self.label, "source": self.source, "inferred": self.inferred, "method": self.method, "url": self.url,
            "requestHeaders": self.request_headers, "requestBody": self.request_body,
            "status": self.status, "responseHeaders": self.response_headers,
            "responseBody": self.response_text, "elapsedMs": round(self.elapsed_ms, 1), "error": self.error,
            "kind": self.kind, "violations": [str(v) for v in self.violations + self.idp_violations],
            "throttled": self.throttled, "curl": self.curl(),
        }


def excerpt(text: str, limit: int) -> str:
    """`text` up to `limit` characters, saying how long it was when cut."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def response_kind(method: str, path: str, status: int | None) -> str | None:
    """Which schema a response must satisfy, from the request and the status."""
    if status is None or status == 204 or status == 304:
        return None
    if status >= 400:
        return "error"
    if not 200 <= status < 300 or method == "DELETE":  # a DELETE's success body (OneLogin: 200) is not judged
        return None
    addressed = at(path)
    if addressed is not None:
        resource_type, resource_id = addressed
        return resource_type.list_kind if method == "GET" and resource_id is None else resource_type.kind
    segments = [s for s in path.split("/") if s]
    resource = segments[-2:] if len(segments) >= 2 else segments
    tail = segments[-1] if segments else ""
    if tail == "ServiceProviderConfig":
        return "service-provider-config"
    if tail == "ResourceTypes":
        return "resource-type-list"
    if tail == "Schemas":
        return "schema-list"
    if len(resource) == 2 and resource[0] == "ResourceTypes":
        return "resource-type"
    if len(resource) == 2 and resource[0] == "Schemas":
        return "schema"
    return None


class ScimClient:
    """An httpx client bound to one target and token; every exchange is recorded and validated."""

    def __init__(self, base_url: str, token: str, *, redactor: Redactor, timeout: float = 60.0,
                 verify: bool | ssl.SSLContext = True, idp_reads: str | None = None,
                 listeners: list[Callable[[Exchange], None]] | None = None, throttle: Throttle | None = None,
                 read_only: bool = False, deadline: float | None = None,
                 before_send: list[Callable[[Exchange], None]] | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.redact = redactor
        self.idp_reads = idp_reads
        self.listeners = list(listeners or [])  # each exchange, once answered (or not)
        self.before_send = list(before_send or [])  # each exchange, before it leaves (the ledger)
        self.timeout = timeout
        self.throttle = throttle
        self.read_only = read_only
        self.deadline = deadline  # time.monotonic() after which no request waits for a Retry-After
        self._numbers = itertools.count(1)  # exchange ids, shared with the check twins (for_check)
        self._process = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), verify=verify, follow_redirects=False)

    @classmethod
    def for_target(cls, target, redactor: Redactor, *, shared_dir, listeners=(), deadline: float | None = None,
                   before_send=()):
        """The client a Target asks for: its timeout, TLS, read-only mode and request caps (the caps shared
        through lock files in `shared_dir` by every process of the run)."""
        for secret in target.secrets:
            redactor.add(secret)
        capped = target.max_in_flight or target.max_rps
        return cls(target.base_url, target.token, redactor=redactor, timeout=target.timeout, verify=target.tls(),
                   listeners=list(listeners), read_only=target.read_only, deadline=deadline,
                   before_send=list(before_send),
                   throttle=Throttle(shared_dir, max_in_flight=target.max_in_flight, max_rps=target.max_rps)
                   if capped else None)

    def close(self) -> None:
        self._http.close()

    def for_check(self, listener: Callable[[Exchange], None], idp_reads: str | None) -> ScimClient:
        """The same connection for one check: also reports to `listener`, validates for the check's IdP."""
        twin = object.__new__(ScimClient)
        twin.__dict__.update(self.__dict__)
        twin.idp_reads = idp_reads
        twin.listeners = [*self.listeners, listener]
        return twin

    def authorization(self, auth: str | None) -> str | None:
        """The Authorization header value: the target's bearer token by default."""
        return f"Bearer {self.token}" if auth == "default" else auth

    def send(self, request: Request, *, auth: str | None = "default", content: bytes | None = None) -> Exchange:
        """Send a rendered request. `auth`: "default", None (no header) or a literal header value;
        `content`: raw bytes to send instead of the JSON body (malformed-body probes)."""
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        if self.read_only and request.method not in READS:
            raise WriteRefused(f"read-only mode: this check sends {request.method} {request.path}")
        headers = dict(request.headers)
        value = self.authorization(auth)
        if value is not None:
            headers["Authorization"] = value
        body = None if request.body is None else json.dumps(request.body, ensure_ascii=False)
        payload = content if content is not None else (body.encode("utf-8") if body is not None else None)
        shown = content.decode("utf-8", "replace") if content is not None else body
        exchange = Exchange(
            id=f"{self._process}-{next(self._numbers)}",
            label=request.label, method=request.method, url=self.redact(url),
            request_headers={k: self.redact.header(k, v) for k, v in headers.items()},
            request_body=None if shown is None else self.redact(shown),
            source=request.source, inferred=request.inferred,
        )
        with HeldInterrupts() as interrupts:  # a user the target creates is always reported, so cleaned up
            for announce in self.before_send:
                announce(exchange)
            self._perform(exchange, url, headers, payload, interrupts)
            for listener in self.listeners:
                listener(exchange)
        return exchange

    def resolve(self, reference: str) -> str:
        """A SCIM reference as an absolute URL: RFC 7643 §2.3.7 resolves a relative one against the
        service provider's base URI, up to but not including the endpoint (https://example.com/v2/)."""
        return urljoin(self.base_url + "/", reference)

    def on_the_wire(self, request: Request) -> str:
        """The request target (path and query) as this client sends `request`: httpx percent-encodes
        what HTTP cannot carry raw, such as spaces and quotes."""
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        return httpx.URL(url).raw_path.decode("ascii")

    def raw(self, method: str, path: str, *, query: str = "", body: Any = None, headers: dict | None = None,
            auth: str | None = "default", label: str | None = None, content: bytes | None = None) -> Exchange:
        """A request not taken from a profile (RFC probes, cleanup)."""
        has_body = body is not None or content is not None
        request = Request(step=label or f"{method} {path}", variant="default", source="RFC 7644 probe",
                          method=method, path=path, query=query, body=body,
                          headers={"Accept": "application/scim+json",
                                   **({"Content-Type": "application/scim+json"} if has_body else {}),
                                   **(headers or {})})
        return self.send(request, auth=auth, content=content)

    def _perform(self, exchange: Exchange, url: str, headers: dict[str, str], payload: bytes | None,
                 interrupts: HeldInterrupts) -> None:
        started = time.perf_counter()
        while True:
            try:
                response, data, cut = self._fetch(exchange.method, url, headers, payload)
            except (httpx.HTTPError, TimeoutError) as exc:
                exchange.error = self.redact(f"{type(exc).__name__}: {exc}")
                exchange._parsed = _NOT_JSON
                break
            waits = len(exchange.throttled) < RETRIES and interrupts.pending is None
            wait = self._retry_after(response) if waits else None
            if wait is None:
                self._answer(exchange, url, response, data, cut)
                break
            exchange.throttled.append(wait)
            time.sleep(wait)
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000

    def _fetch(self, method: str, url: str, headers: dict, payload: bytes | None) -> tuple[httpx.Response, bytes, bool]:
        """One request on the wire (in its throttle turn): the response, its body up to MAX_BODY, and
        whether the body was cut. TimeoutError when the whole exchange outlasts the timeout."""
        with self.throttle.turn() if self.throttle is not None else nullcontext():
            ends = time.monotonic() + self.timeout  # from the start of the request, not its headers
            with self._http.stream(method, url, headers=headers, content=payload) as response:
                return self._read(response, ends)

    def _read(self, response: httpx.Response, ends: float) -> tuple[httpx.Response, bytes, bool]:
        chunks, size = [], 0
        for chunk in response.iter_bytes():  # decoded: the cap also stops a compression bomb
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY:
                return response, b"".join(chunks)[:MAX_BODY], True
            if time.monotonic() > ends:
                raise TimeoutError(f"the response took longer than {self.timeout:g} s in all ({size} bytes received)")
        return response, b"".join(chunks), False

    def _retry_after(self, response: httpx.Response) -> int | None:
        """Seconds to wait before repeating a 429, or None to take the answer as it is."""
        value = response.headers.get("retry-after", "").strip()
        if response.status_code != 429 or not value.isdigit() or int(value) > MAX_RETRY_AFTER:
            return None
        if self.deadline is not None and time.monotonic() + int(value) > self.deadline:
            return None
        return int(value)

    def _answer(self, exchange: Exchange, url: str, response: httpx.Response, data: bytes, cut: bool) -> None:
        exchange.status = response.status_code
        exchange.response_headers = {k.lower(): self.redact.header(k, v) for k, v in response.headers.items()}
        exchange.response_text = self.redact(data[:BODY_CAP].decode("utf-8", "replace"))
        exchange._parsed = _NOT_JSON if cut else self._parse(data)
        exchange.kind = response_kind(exchange.method, httpx.URL(url).path, response.status_code)
        if cut:
            exchange.error = f"the body is longer than {MAX_BODY} bytes: reading stopped there"
        self._validate(exchange)

    def _parse(self, data: bytes) -> Any:
        """The JSON body, parsed from its redacted text: a token the server echoes never reaches a
        check's values (and so no finding, report or traceback)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _NOT_JSON
        if not text.strip():
            return None
        try:
            return json.loads(self.redact(text))
        except ValueError:
            return _NOT_JSON

    def _validate(self, exchange: Exchange) -> None:
        if exchange.kind is None:
            return
        if not exchange.response_text.strip():  # a user answer may be empty (PATCH 204); an error may not
            if exchange.kind == "error":
                exchange.violations = [Violation("", EMPTY_ERROR, "scim/error.json", "required")]
            return
        if not exchange.is_json:
            exchange.violations = [Violation("", exchange.error or "the body is not JSON", "scim", "type")]
            return
        exchange.violations = validate(exchange.kind, exchange.json)
        if self.idp_reads and has_overlay(exchange.kind, self.idp_reads):
            exchange.overlay = self.idp_reads
            exchange.idp_violations = [v for v in validate(exchange.kind, exchange.json, idp=self.idp_reads)
                                       if v.schema.startswith("idp/")]

