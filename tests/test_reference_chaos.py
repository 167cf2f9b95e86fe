"""The chaos knobs of the reference server, over real HTTP: latency, the 429 rate limit, injected
500s and connections dropped mid-response, which the suite's client must survive.
"""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from helpers import ERROR_URN, SCIM_JSON, anonymous_client, scim_client

from scimcert.reference import ReferenceServer, Tenant
from scimcert.reference.chaos import Chaos, ConnectionDropped, _QuietDrops
from scimcert.reference.faults import layers_for


def chaotic(tenant: Tenant, chaos: Chaos, *faults: str) -> ReferenceServer:
    """A server with `chaos` outermost, as `python -m scimcert.reference` wraps it."""
    return ReferenceServer(tenant, layers=[chaos, *layers_for(list(faults))])


def assert_scim_error_body(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == [ERROR_URN] and body["status"] == str(status) and body["detail"], body
    return body


def test_active_only_when_a_knob_is_set():
    assert not Chaos().active
    assert not Chaos(retry_after=5, seed=3).active
    for knob in ("latency_ms", "rate_limit", "error_rate", "reset_rate"):
        assert Chaos(**{knob: 1}).active, knob


def test_latency_delays_every_response(tenant):
    with chaotic(tenant, Chaos(latency_ms=150)) as server, scim_client(server) as c:
        for path in ("/ServiceProviderConfig", "/Users", "/Users/no-such-id"):
            began = time.perf_counter()
            response = c.get(path)
            assert time.perf_counter() - began >= 0.15, path
            assert response.status_code in (200, 404)
        with anonymous_client(server) as anonymous:  # auth failures too: chaos is outermost
            began = time.perf_counter()
            assert anonymous.get("/Users").status_code == 401
            assert time.perf_counter() - began >= 0.15


def test_rate_limit_answers_429_with_retry_after_then_recovers(tenant):
    with chaotic(tenant, Chaos(rate_limit=5)) as server, scim_client(server) as c:
        statuses = []
        limited = None
        for _ in range(15):
            response = c.get("/ServiceProviderConfig")
            statuses.append(response.status_code)
            if response.status_code == 429:
                limited = limited or response
        assert statuses[:5] == [200] * 5, statuses  # a burst of N passes
        assert limited is not None and set(statuses) == {200, 429}, statuses
        assert_scim_error_body(limited, 429)
        retry_after = limited.headers["retry-after"]
        assert retry_after.isdigit() and int(retry_after) >= 1, retry_after
        time.sleep(int(retry_after))
        assert c.get("/ServiceProviderConfig").status_code == 200
        assert c.get("/Users").status_code == 200


def test_retry_after_is_at_least_the_real_wait(tenant):
    """Below one request per second the wait is longer than the default Retry-After of 1 s."""
    with chaotic(tenant, Chaos(rate_limit=0.25)) as server, scim_client(server) as c:
        assert c.get("/ServiceProviderConfig").status_code == 200
        limited = c.get("/ServiceProviderConfig")
        assert_scim_error_body(limited, 429)
        assert int(limited.headers["retry-after"]) >= 3


def test_error_rate_one_answers_500_scim_errors(tenant):
    with chaotic(tenant, Chaos(error_rate=1.0)) as server, scim_client(server) as c:
        for path in ("/Users", "/ServiceProviderConfig"):
            assert_scim_error_body(c.get(path), 500)
        assert_scim_error_body(c.post("/Users", json={"userName": "x@example.com"}), 500)
        assert server.state.requests_by_method.get("POST") == 1  # counted, never reached the store
        assert len(server.state.store) == 1  # only the tenant's seed user


def test_error_rate_is_a_probability(tenant):
    with chaotic(tenant, Chaos(error_rate=0.5, seed=11)) as server, scim_client(server) as c:
        statuses = [c.get("/ServiceProviderConfig").status_code for _ in range(40)]
    assert set(statuses) == {200, 500} and 8 <= statuses.count(500) <= 32, statuses


def test_reset_drops_the_connection_mid_response_and_the_server_goes_on(tenant, capfd):
    chaos = Chaos(reset_rate=1.0)
    with chaotic(tenant, chaos) as server, scim_client(server) as c:
        for _ in range(3):
            with pytest.raises(httpx.TransportError):  # RemoteProtocolError: incomplete body
                c.get("/Users")
        chaos.reset_rate = 0.0  # the knobs are read per request
        assert c.get("/Users").status_code == 200
        with scim_client(server) as fresh:
            assert fresh.get("/ServiceProviderConfig").status_code == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionDropped" not in err, err


def test_quiet_drops_filter_hides_only_injected_drops():
    quiet = _QuietDrops()

    def record(exc: BaseException | None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application",
                                 None, info)

    assert not quiet.filter(record(ConnectionDropped("injected")))
    assert quiet.filter(record(RuntimeError("a real crash")))
    assert quiet.filter(record(None))


def test_chaos_wraps_faults(tenant):
    """Chaos is outermost: a 429 is answered before any fault sees the request."""
    with chaotic(tenant, Chaos(rate_limit=1, retry_after=2), "errors-status-integer") as server, \
            scim_client(server) as c:
        assert c.get("/Users/no-such-id").json()["status"] == 404  # the fault
        limited = c.get("/Users/no-such-id")
        assert_scim_error_body(limited, 429)  # chaos, untouched by the fault
        assert limited.headers["retry-after"] == "2"
