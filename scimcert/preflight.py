"""The preflight: before any check, is the target set up right? Seconds, not minutes.

A wrong token, host, scheme or base path is a setup mistake, not a conformance failure: the run stops
with one line that names the setting to fix and an exit code of its own (README, "Exit status"), and
writes no report that would blame the server. It sends at most one request, GET {base}/Users?count=1
with the token, after resolving the host and opening a TCP connection itself (name resolution is
bounded here: httpx's timeouts do not cover it). `--no-preflight` skips it.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from dataclasses import dataclass
from urllib.parse import urlsplit

from .client import ScimClient
from .config import Target

SECONDS = 5.0  # each step: resolving, connecting, the first answer

UNREACHABLE, TLS, SILENT, TOKEN, BASE_PATH = 20, 21, 22, 23, 24
EXIT_CODES = {
    UNREACHABLE: "the host cannot be resolved or reached",
    TLS: "TLS does not work with the target (https to a plain-HTTP port, or a certificate not trusted)",
    SILENT: f"the target accepts connections but sends no answer within {SECONDS:g} s",
    TOKEN: "the token was refused (401 or 403)",
    BASE_PATH: "the base URL does not lead to a SCIM Users endpoint (404, a redirect, or not JSON)",
}


@dataclass(frozen=True)
class Problem:
    exit_code: int
    line: str  # one line, naming the setting to fix


def check(target: Target, client: ScimClient) -> Problem | None:
    """None when the target answers GET /Users as a SCIM endpoint that accepts the token (any answer but the
    setup mistakes above: a 500 is the server's to be judged by the checks)."""
    parts = urlsplit(target.base_url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    problem = _reach(host, port)
    if problem is not None:
        return problem
    answer = client.raw("GET", "/Users", query="count=1", label="preflight")
    error = answer.error or ""
    if answer.status is None:
        if "SSL" in error or "TLS" in error or "certificate" in error.lower():
            return Problem(TLS, f"TLS failed against {target.base_url} ({_short(error)}): check the scheme of "
                                "SCIM_BASE_URL (http:// for a plain-HTTP port) or SCIM_CA_BUNDLE / --ca-bundle")
        if error.startswith(("ReadTimeout", "TimeoutError", "WriteTimeout", "PoolTimeout")):
            return Problem(SILENT, f"{target.base_url} accepted the connection but sent no answer within "
                                   f"{client.timeout:g} s: check SCIM_BASE_URL (host and port) and that the service runs")
        return Problem(SILENT, f"{target.base_url} closed the connection without an answer ({_short(error)}): "
                               "check the scheme and port of SCIM_BASE_URL")
    if answer.status in (401, 403):
        return Problem(TOKEN, f"the token was refused: GET /Users answered {answer.status}; check SCIM_TOKEN "
                              "(a service-account token of the tenant, without the 'Bearer ' prefix)")
    if answer.status == 404 or 300 <= answer.status < 400:
        where = f" to {answer.header('location')}" if answer.header("location") else ""
        return Problem(BASE_PATH, f"GET {target.base_url}/Users answered {answer.status}{where}: check the path of "
                                  "SCIM_BASE_URL (the SCIM root, e.g. https://app.example.com/scim/v2)")
    if answer.status < 500 and not answer.is_json:
        return Problem(BASE_PATH, f"GET {target.base_url}/Users answered {answer.status} with "
                                  f"{answer.content_type or 'no content type'}, not JSON: check the path of SCIM_BASE_URL")
    return None


def _reach(host: str, port: int) -> Problem | None:
    """Resolve `host` and open a TCP connection to it, each within SECONDS."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        addresses = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM).result(timeout=SECONDS)
    except Late:
        return Problem(UNREACHABLE, f"the host {host} could not be resolved within {SECONDS:g} s: check the host "
                                    "of SCIM_BASE_URL and the machine's DNS")
    except OSError as exc:
        return Problem(UNREACHABLE, f"the host {host} cannot be resolved ({exc.strerror or exc}): check the host "
                                    "of SCIM_BASE_URL")
    finally:
        pool.shutdown(wait=False)
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as connection:
            connection.settimeout(SECONDS)
            connection.connect(address)
    except TimeoutError:
        return Problem(UNREACHABLE, f"no TCP connection to {host}:{port} within {SECONDS:g} s: check the host and "
                                    "port of SCIM_BASE_URL, and any firewall")
    except OSError as exc:
        return Problem(UNREACHABLE, f"{host}:{port} refused the connection ({exc.strerror or exc}): check the "
                                    "host and port of SCIM_BASE_URL, and that the service runs")
    return None


def _short(error: str) -> str:
    return error if len(error) <= 160 else error[:160] + "…"
