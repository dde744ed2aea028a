"""Seeing and compressing what the connector does on the wire, for in-process reliability tests.

`TransportProbe` wraps `requests`' transport adapter (the last step before the socket, under the CDK's
session, auth, budget and retries): it records every request the connector sends (host, timeouts, TLS
verification, whether it carried an `Authorization` header) and can shorten the connector's timeouts, so a
test sees a real read timeout in a second instead of a minute. It also tags each request with the sending
thread (`X-Test-Thread`), which the sandbox's request log keeps: a retry is the next identical request of
the same thread. `compressed_retry_waits` shortens the CDK's retry waits the same way, and
`compressed_breaker_clock` the silence after which an API's circuit breaker opens. `SilentServer` accepts
connections and never answers.

Nothing here changes what the connector decides: the timeouts it asks for are recorded before they are
shortened, and every wait it asks for is recorded before it is compressed.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import requests
from airbyte_cdk.sources.streams.http import rate_limiting
from requests.adapters import HTTPAdapter

from source_billing.http import breaker

THREAD_HEADER = "X-Test-Thread"


@dataclass(frozen=True)
class SentRequest:
    """One request as it left the connector."""

    method: str
    url: str
    timeout: Any
    verify: Any
    authorized: bool
    thread: int

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc


@dataclass
class TransportProbe:
    """Records (and optionally shortens the timeouts of) every request sent while active.

    Args:
        connect_timeout: the connect timeout to use instead of the connector's (None keeps it).
        read_timeout: the read timeout to use instead of the connector's (None keeps it).
    """

    connect_timeout: float | None = None
    read_timeout: float | None = None
    sent: list[SentRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def active(self) -> Iterator[TransportProbe]:
        original = HTTPAdapter.send
        probe = self

        def send(adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            probe.record(request, kwargs)
            request.headers[THREAD_HEADER] = str(threading.get_ident())
            kwargs["timeout"] = probe.shortened(kwargs.get("timeout"))
            return original(adapter, request, **kwargs)

        with mock.patch.object(HTTPAdapter, "send", send):
            yield self

    def record(self, request: requests.PreparedRequest, kwargs: Mapping[str, Any]) -> None:
        sent = SentRequest(
            method=str(request.method),
            url=str(request.url),
            timeout=kwargs.get("timeout"),
            verify=kwargs.get("verify"),
            authorized="Authorization" in request.headers,
            thread=threading.get_ident(),
        )
        with self._lock:
            self.sent.append(sent)

    def shortened(self, timeout: Any) -> Any:
        if not isinstance(timeout, tuple) or len(timeout) != 2:
            return timeout  # recorded as is; `without_timeouts` reports it
        connect, read = timeout
        return (
            connect if self.connect_timeout is None else min(connect, self.connect_timeout),
            read if self.read_timeout is None else min(read, self.read_timeout),
        )

    def without_timeouts(self) -> list[SentRequest]:
        """Requests sent without a finite connect AND read timeout (a hung server would hang them)."""
        return [request for request in self.sent if not _finite_pair(request.timeout)]

    def without_verification(self) -> list[SentRequest]:
        """Requests sent with TLS certificate verification turned off."""
        return [request for request in self.sent if request.verify is False]


def _finite_pair(timeout: Any) -> bool:
    return (
        isinstance(timeout, tuple)
        and len(timeout) == 2
        and all(isinstance(part, int | float) and 0 < part < math.inf for part in timeout)
    )


@contextmanager
def compressed_retry_waits(factor: float) -> Iterator[list[float]]:
    """Make the CDK's retry waits `factor` times as long; yields the waits it asked for, in seconds."""
    asked: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        real_sleep(seconds * factor)

    with mock.patch.object(rate_limiting, "time", SimpleNamespace(sleep=sleep, time=time.time)):
        yield asked


@contextmanager
def compressed_breaker_clock(factor: float) -> Iterator[None]:
    """Make the clock of the circuit breakers created meanwhile run 1 / `factor` times as fast, so that an
    API's silence of minutes takes seconds (use the same factor as `compressed_retry_waits`)."""
    real = time.monotonic
    started = real()

    def monotonic() -> float:
        return started + (real() - started) / factor

    with mock.patch.object(breaker, "time", SimpleNamespace(monotonic=monotonic)):
        yield


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections, reads nothing and never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.connections = 0

    def __enter__(self) -> SilentServer:
        self._socket.settimeout(0.1)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        for held in self._held:
            held.close()
        self._socket.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self._held.append(connection)
            self.connections += 1
