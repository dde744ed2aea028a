"""Transport safety and retry bounds, against real local sockets (offline: 127.0.0.1 and `localhost` only).

- TLS is verified: an API host whose certificate is not trusted is refused at the handshake, before any
  request (so before the key is sent), at once and with a message saying so.
- The `Authorization` header goes to the configured API host only: redirects to another host name or port
  arrive without it, and integrator.io's `Link` to another host is not followed.
- Plain http only to loopback addresses.
- Retries are bounded in count (with growing, jittered waits) and in time (a `Retry-After` that keeps
  asking to wait gives up after `MAX_RETRY_TIME`): reads through the entry point, the CDK's `HttpMocker`
  answering.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airbyte_cdk.models import FailureType, Status, SyncMode
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from backoff import _sync as backoff_sync
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from source_billing import SourceBilling
from source_billing.config import BillingConfig
from source_billing.http.errors import MAX_RETRIES, MAX_RETRY_TIME
from unit_tests.entrypoint import MockedApi, read_stream, stream_error

SECRETS = {
    "stripe": ("client_secret", "sk_test_S3NT1NEL0f00d"),
    "orb": ("api_key", "S3NT1NEL0orb0f00d"),
    "integrator_io": ("api_token", "S3NT1NEL0integrator0f00d"),
}
PATHS = {"stripe": "stripe", "orb": "orb", "integrator_io": "integrator"}
ONE_STREAM = {"stripe": "accounts", "orb": "orb_items", "integrator_io": "integrator_io_integrations"}
LOGGER = logging.getLogger("airbyte")


def _config(base: str) -> dict[str, Any]:
    return {
        section: {key: secret, "api_base_url": f"{base}/{PATHS[section]}"}
        for section, (key, secret) in SECRETS.items()
    }


def _catalog() -> Any:
    builder = CatalogBuilder()
    for name in ONE_STREAM.values():
        builder = builder.with_stream(name, SyncMode.full_refresh)
    return builder.build()


@dataclass
class Seen:
    """What a local server received."""

    paths: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)


@dataclass
class LocalServer:
    """An HTTP(S) server on 127.0.0.1 answering every GET with `answer(path) -> (status, headers, body)`."""

    answer: Any
    tls: ssl.SSLContext | None = None
    seen: Seen = field(default_factory=Seen)

    def __post_init__(self) -> None:
        seen, answer = self.seen, self.answer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.paths.append(self.path)
                seen.authorizations.append(self.headers.get("Authorization"))
                status, headers, body = answer(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 that no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def _empty_list(path: str) -> tuple[int, dict[str, str], Any]:
    return 200, {}, [] if "/integrator/" in path else {"data": [], "has_more": False}


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(_empty_list, tls=_self_signed(tmp_path)) as server:
        yield server


# --- TLS ----------------------------------------------------------------------------------------------


def test_given_an_api_host_with_an_untrusted_certificate_when_checked_then_refused_at_once_naming_tls(
    untrusted: LocalServer, sleeps: list[float]
) -> None:
    status = SourceBilling().check(LOGGER, _config(f"https://127.0.0.1:{untrusted.port}"))
    assert status.status == Status.FAILED
    for api in ("Stripe", "Orb", "integrator.io"):
        assert f"{api}: The TLS certificate of 127.0.0.1 could not be verified" in (status.message or "")
    assert untrusted.seen.paths == [], "no request, so no key, went over the unverified connection"
    assert sleeps == [], "a certificate that cannot be verified is not retried"


def test_given_an_api_host_with_an_untrusted_certificate_when_read_then_config_errors_and_nothing_sent(
    untrusted: LocalServer, sleeps: list[float]
) -> None:
    output = read(SourceBilling(), _config(f"https://127.0.0.1:{untrusted.port}"), _catalog())
    refused = {
        (message.trace.error.failure_type, api)
        for message in output.errors
        for api in ("Stripe", "Orb", "integrator.io")
        if message.trace
        and message.trace.error
        and message.trace.error.message.startswith("The TLS certificate of 127.0.0.1 could not be verified")
        and f"nothing was sent to {api}:" in message.trace.error.message
    }
    assert refused == {(FailureType.config_error, api) for api in ("Stripe", "Orb", "integrator.io")}
    assert not output.records
    assert untrusted.seen.paths == []
    assert sleeps == []


# --- Authorization only to the API host ---------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", ["another host name", "another port"])
def test_given_the_api_redirects_elsewhere_when_checked_and_read_then_the_key_never_leaves_its_host(
    status: int, target: str, sleeps: list[float]
) -> None:
    def refuse_without_key(path: str) -> tuple[int, dict[str, str], Any]:
        return 401, {}, {"message": "no key"}

    with LocalServer(refuse_without_key) as elsewhere:
        host = "localhost" if target == "another host name" else "127.0.0.1"

        def redirect(path: str) -> tuple[int, dict[str, str], Any]:
            return status, {"Location": f"http://{host}:{elsewhere.port}{path}"}, {}

        with LocalServer(redirect) as api:
            config = _config(f"http://127.0.0.1:{api.port}")
            SourceBilling().check(LOGGER, config)
            read(SourceBilling(), config, _catalog())
    assert {auth for auth in api.seen.authorizations} >= {
        f"Bearer {secret}" for _, secret in SECRETS.values()
    }
    assert elsewhere.seen.paths, "the redirects were followed, so the test saw what they carry"
    assert elsewhere.seen.authorizations == [None] * len(elsewhere.seen.paths)


def test_given_integrator_io_links_the_next_page_to_another_host_when_read_then_it_is_not_followed(
    sleeps: list[float],
) -> None:
    with LocalServer(lambda path: (200, {}, [])) as elsewhere:

        def first_page(path: str) -> tuple[int, dict[str, str], Any]:
            link = f'<http://localhost:{elsewhere.port}{path}?page=2>; rel="next"'
            return 200, {"Link": link}, [{"_id": "i1", "name": "one"}]

        with LocalServer(first_page) as api:
            config = {"integrator_io": _config(f"http://127.0.0.1:{api.port}")["integrator_io"]}
            catalog = CatalogBuilder().with_stream("integrator_io_integrations", SyncMode.full_refresh)
            output = read(SourceBilling(), config, catalog.build())
    assert elsewhere.seen.paths == []
    refusals = [
        m for m in output.errors if m.trace and m.trace.error and "another host" in m.trace.error.message
    ]
    assert len(refusals) == 1


# --- plain http only to loopback ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:8080/x", "http://[::1]:8080", "http://127.9.9.9"]
)
def test_given_plain_http_to_a_loopback_address_when_parsed_then_accepted(url: str) -> None:
    parsed = BillingConfig.parse({"orb": {"api_key": "k3y", "api_base_url": url}})
    assert parsed.orb is not None
    assert parsed.orb.api_base_url.startswith("http://")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.withorb.com",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://10.0.0.1",
        "http://2130706433",
    ],
)
def test_given_plain_http_to_any_other_host_when_parsed_then_refused_asking_for_https(url: str) -> None:
    with pytest.raises(AirbyteTracedException) as refused:
        BillingConfig.parse({"orb": {"api_key": "k3y", "api_base_url": url}})
    assert refused.value.failure_type == FailureType.config_error
    assert "use https" in str(refused.value.message)


# --- retry bounds ---------------------------------------------------------------------------------------

ORB_ITEMS = HttpRequest("https://api.withorb.com/v1/items", query_params=ANY_QUERY_PARAMS)


def _orb_items_failing(api: MockedApi, failure: HttpResponse, attempts: int) -> FailureType:
    """How a read of `orb_items` fails when every attempt gets `failure`, once it made `attempts`."""
    api.get(ORB_ITEMS, failure, times=attempts)
    output = read_stream({"orb": {"api_key": "orb_SENTINEL0key"}}, "orb_items")
    api.verify()
    assert not output.records
    failure_type = stream_error(output, "orb_items").failure_type
    assert isinstance(failure_type, FailureType)
    return failure_type


def test_given_an_api_that_keeps_failing_when_read_then_max_retries_with_growing_jittered_waits(
    api: MockedApi, sleeps: list[float]
) -> None:
    failed = _orb_items_failing(api, HttpResponse(json.dumps({"status": 503}), 503), MAX_RETRIES + 1)
    assert failed == FailureType.transient_error
    assert len(sleeps) == MAX_RETRIES
    for attempt, slept in enumerate(sleeps, start=1):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        assert ceiling / 2 + 1 <= slept <= ceiling + 1, (attempt, slept)  # the CDK adds a second
    assert len(set(sleeps)) == len(sleeps), "jittered: no two waits alike"


@dataclass
class FakeClock:
    """Time that passes only when the retry loop sleeps."""

    elapsed: float = 0.0
    start: datetime.datetime = datetime.datetime(2024, 1, 1)

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds

    def now(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.elapsed)


def test_given_an_api_that_keeps_asking_to_wait_when_read_then_the_request_gives_up_after_the_time_bound(
    api: MockedApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=clock.sleep, time=lambda: clock.elapsed))
    fake_datetime = SimpleNamespace(datetime=SimpleNamespace(now=clock.now))
    monkeypatch.setattr(backoff_sync, "datetime", fake_datetime)
    monkeypatch.setattr(backoff_sync, "time", SimpleNamespace(sleep=clock.sleep))
    # Attempts start at 0, 241, 482 and 723 s (each wait is Retry-After plus the CDK's second); the one that
    # started after MAX_RETRY_TIME (600 s) is the last, well before the retry count would end it.
    attempts = 4
    asking = HttpResponse(json.dumps({"status": 429}), 429, {"Retry-After": "240"})
    assert _orb_items_failing(api, asking, attempts) == FailureType.transient_error
    assert attempts < MAX_RETRIES + 1
    assert clock.elapsed == 3 * 241 > MAX_RETRY_TIME.total_seconds()
