"""Fault injection: each kind, bursts, hangs, filters, determinism; the control API is never faulted."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

import pytest

from sandbox.credentials import INTEGRATOR_TOKEN, STRIPE_TEST_KEY
from unit_tests.sandbox.helpers import Running, SandboxFactory

HEADERS = {"Authorization": f"Bearer {STRIPE_TEST_KEY}"}


def raw_get(
    port: int, path: str = "/stripe/v1/customers", timeout: float = 5.0, headers: dict[str, str] = HEADERS
) -> http.client.HTTPResponse:
    """One request on a fresh connection, returning the response object (body unread)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path, headers=headers)
    return connection.getresponse()


def set_faults(running: Running, **settings: Any) -> None:
    running.client.control("POST", "faults", settings)


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_given_5xx_fault_when_calling_then_status_in_each_apis_error_shape(
    sandbox: Running, kind: str
) -> None:
    set_faults(sandbox, rate=1.0, kinds=[kind])
    stripe = sandbox.client.get("stripe", "/v1/customers")
    orb = sandbox.client.get("orb", "/v1/customers")
    integrator = sandbox.client.get("integrator", "/v1/flows")
    assert stripe.status == orb.status == integrator.status == int(kind)
    assert stripe.json["error"]["type"] == "api_error"
    assert orb.json["status"] == int(kind)
    assert "type" in orb.json
    assert integrator.json["errors"][0]["code"]
    assert sandbox.client.control("GET", "health")["status"] == "ok", "control is never faulted"


def test_given_429_fault_when_calling_then_rate_limit_answer_with_retry_after(sandbox: Running) -> None:
    set_faults(sandbox, rate=1.0, kinds=["429"], retry_after=3)
    reply = sandbox.client.get("stripe", "/v1/customers")
    assert reply.status == 429
    assert reply.headers["retry-after"] == "3"
    assert reply.json["error"]["code"] == "rate_limit"
    orb = sandbox.client.get("orb", "/v1/customers")
    assert orb.status == 429
    assert orb.json["type"].endswith("429-too-many-requests")
    integrator = sandbox.client.get("integrator", "/v1/flows")
    assert integrator.status == 429
    assert integrator.json["errors"][0]["code"] == "rate_limited"


def test_given_burst_429_when_calling_then_exactly_the_next_n_requests_fail(sandbox: Running) -> None:
    set_faults(sandbox, burst_429=3)
    statuses = [sandbox.client.get("stripe", "/v1/customers").status for _ in range(5)]
    assert statuses == [429, 429, 429, 200, 200]


def test_given_drop_fault_when_calling_then_connection_closes_without_response(sandbox: Running) -> None:
    set_faults(sandbox, rate=1.0, kinds=["drop"])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        raw_get(sandbox.server.port)


def test_given_malformed_fault_when_calling_then_200_with_invalid_json(sandbox: Running) -> None:
    set_faults(sandbox, rate=1.0, kinds=["malformed"])
    response = raw_get(sandbox.server.port)
    assert response.status == 200
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(response.read())


def test_given_truncated_fault_when_reading_then_body_stops_before_content_length(sandbox: Running) -> None:
    set_faults(sandbox, rate=1.0, kinds=["truncated"])
    response = raw_get(sandbox.server.port)
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_given_truncated_fault_on_an_empty_answer_when_reading_then_the_status_line_is_cut(
    sandbox: Running,
) -> None:
    """integrator.io answers an empty list with a bodiless 204: cutting half of nothing would leave the
    answer whole, so the fault never reached the client. The status line is cut instead."""
    empty = "/integrator/v1/jobs?createdAt_gte=2999-01-01T00:00:00Z"
    integrator = {"Authorization": f"Bearer {INTEGRATOR_TOKEN}"}
    assert raw_get(sandbox.server.port, empty, headers=integrator).status == 204
    set_faults(sandbox, rate=1.0, kinds=["truncated"])
    with pytest.raises(http.client.BadStatusLine):
        raw_get(sandbox.server.port, empty, headers=integrator)


def test_given_timeout_fault_when_client_has_read_timeout_then_it_gives_up(sandbox: Running) -> None:
    set_faults(sandbox, rate=1.0, kinds=["timeout"], timeout_seconds=1.0)
    start = time.monotonic()
    with pytest.raises(socket.timeout):
        raw_get(sandbox.server.port, timeout=0.3)
    assert time.monotonic() - start < 1.0
    late = raw_get(sandbox.server.port, timeout=5.0)
    assert late.status == 200, "answers normally once the hold is over"


def test_given_hang_when_calling_then_no_answer_until_faults_are_cleared(sandbox: Running) -> None:
    set_faults(sandbox, hang=True)
    with pytest.raises(socket.timeout):
        raw_get(sandbox.server.port, timeout=0.3)
    sandbox.client.control("DELETE", "faults")
    assert raw_get(sandbox.server.port).status == 200


def test_given_api_and_path_filters_when_faulting_then_only_matching_requests_fail(sandbox: Running) -> None:
    set_faults(sandbox, rate=1.0, kinds=["500"], apis=["stripe"], paths=["^/v1/invoices"])
    assert sandbox.client.get("stripe", "/v1/invoices").status == 500
    assert sandbox.client.get("stripe", "/v1/customers").status == 200
    assert sandbox.client.get("orb", "/v1/invoices").status == 200


def test_given_a_seed_when_faulting_then_the_sequence_repeats_and_rate_roughly_holds(
    make_sandbox: SandboxFactory,
) -> None:
    sequences = []
    for _ in range(2):
        running = make_sandbox(fault_rate=0.3, fault_kinds=["500", "503"], fault_seed=42)
        sequences.append([running.client.get("stripe", "/v1/customers").status for _ in range(60)])
    assert sequences[0] == sequences[1]
    failures = sum(status != 200 for status in sequences[0])
    assert 8 <= failures <= 30
    stats = running.client.control("GET", "stats")["apis"]["stripe"]
    assert stats["requests"] == 60
    assert sum(stats["faults"].values()) == failures


def test_given_bad_fault_settings_when_posting_then_400(sandbox: Running) -> None:
    from sandbox.process import SandboxControlError

    for settings in ({"kinds": ["explode"]}, {"rate": 2}, {"colour": 1}):
        with pytest.raises(SandboxControlError) as error:
            sandbox.client.control("POST", "faults", settings)
        assert error.value.status == 400
