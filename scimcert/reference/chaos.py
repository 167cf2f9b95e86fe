"""Chaos knobs for reliability tests of the suite: latency, a 429 rate limit, 500s, dropped connections.

A `Chaos` is a layer like a fault, wrapped outermost so it also covers auth failures.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ScimError
from .http import error_response


class ConnectionDropped(Exception):
    """Raised after a partial response so the server closes the connection mid-body."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for each connection dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_QUIET_DROPS = _QuietDrops()


class _TokenBucket:
    """`rate` requests per second, in bursts of up to max(1, rate)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 when a request may pass (and it is counted), else the seconds until one may."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass
class Chaos:
    latency_ms: float = 0.0
    rate_limit: float = 0.0       # requests per second allowed; 0 = unlimited
    retry_after: int = 1          # seconds, sent as an integer Retry-After on 429 (at least the real wait)
    error_rate: float = 0.0       # probability of a 500
    reset_rate: float = 0.0       # probability of a connection dropped mid-response
    seed: int = 0

    @property
    def active(self) -> bool:
        return any((self.latency_ms, self.rate_limit, self.error_rate, self.reset_rate))

    def adjust(self, state) -> None:
        """Chaos changes no server rule."""

    def wrap(self, app: ASGIApp, state) -> ASGIApp:
        rng = random.Random(self.seed)
        bucket = _TokenBucket(self.rate_limit) if self.rate_limit > 0 else None
        if self.reset_rate:
            logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)  # idempotent

        async def layer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            wait = bucket.take() if bucket else 0.0
            if wait:
                seconds = max(self.retry_after, math.ceil(wait))
                error = ScimError(429, f"Too many requests: more than {self.rate_limit:g} per second; "
                                       f"retry after {seconds} s", headers={"Retry-After": str(seconds)})
                return await error_response(error)(scope, receive, send)
            roll = rng.random()
            if roll < self.error_rate:
                return await error_response(ScimError(500, "Injected internal error"))(scope, receive, send)
            if roll < self.error_rate + self.reset_rate:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/scim+json"), (b"content-length", b"4096")]})
                await send({"type": "http.response.body", "body": b'{"schemas":', "more_body": True})
                raise ConnectionDropped("injected connection drop")
            await app(scope, receive, send)

        return layer
