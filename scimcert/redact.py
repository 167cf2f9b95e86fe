"""Redaction: no token ever reaches a transcript, report, log or the console."""

from __future__ import annotations

import base64
import re

MASK = "[REDACTED]"
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+[^\s\"',;]+")


class Redactor:
    """Replaces every known secret (and its base64 and percent-encoded forms) with a mask."""

    def __init__(self, secrets: tuple[str, ...] | list[str] = ()):
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 4:
            return
        self._secrets.add(secret)
        self._secrets.add(base64.b64encode(secret.encode()).decode())

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def header(self, name: str, value: str) -> str:
        """Authorization-like headers are masked whole, whatever they carry."""
        if name.lower() in ("authorization", "proxy-authorization", "cookie", "set-cookie"):
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            return f"{scheme} {MASK}".strip()
        return self(value)
