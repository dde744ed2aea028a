"""The HTTP server: routing by prefix, the fault pipeline, the request log and fast response writing.

Performance notes: responses are written with one ``sendall`` (status line, headers and body joined) and
TCP_NODELAY, so keep-alive clients never wait on Nagle/delayed-ACK; nothing is logged to stderr.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from sandbox.app import Sandbox
from sandbox.control import Control
from sandbox.wire import ApiRequest, ApiResponse, json_response

PREFIXES = {"/stripe": "stripe", "/orb": "orb", "/integrator": "integrator"}
MALFORMED_BODY = b'{"object": "list", "data": [{"id": <html><body>Bad Gateway</body></html>'
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def check_loopback(host: str) -> str:
    """Return the address to bind, refusing anything that is not a loopback address.

    Args:
        host: ``--host`` value (``localhost`` means 127.0.0.1).

    Returns:
        The address.

    Raises:
        ValueError: For any non-loopback address: the sandbox must never be reachable from outside.
    """
    address = "127.0.0.1" if host == "localhost" else host
    try:
        if ipaddress.ip_address(address).is_loopback:
            return address
    except ValueError:
        pass
    raise ValueError(f"refusing to bind {host!r}: the sandbox only listens on loopback addresses")


class SandboxServer(ThreadingHTTPServer):
    """A threading HTTP server bound to loopback that owns the ``Sandbox`` state.

    Args:
        sandbox: The shared state.
        host: Loopback address.
        port: Port (0 = any free port).
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        address = check_loopback(host)
        if ipaddress.ip_address(address).version == 6:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self.control = Control(sandbox)
        super().__init__((address, port), Handler)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server_address[1])

    def start_background(self) -> threading.Thread:
        """Serve in a daemon thread (for in-process tests); stop with ``stop``."""
        # A short poll interval keeps ``stop`` fast (it waits for the serve loop to notice).
        thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="sandbox-server", daemon=True)
        thread.start()
        return thread

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up early (timeouts and drops are part of the job here)."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def stop(self) -> None:
        """Stop serving, release held requests and close the socket."""
        self.sandbox.stopping.set()
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive with Content-Length on every response."""

    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def setup(self) -> None:
        """Disable Nagle: responses go out in one write and must not wait for an ACK."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: per-request logging to stderr would cost more than serving the page."""

    # Dispatch ---------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        raw_path, _, raw_query = self.path.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
        if raw_path.startswith("/_control"):
            self._send(self.server.control.handle(self.command, raw_path[len("/_control") :], query, body))
            return
        for prefix, api in PREFIXES.items():
            if raw_path.startswith(prefix + "/"):
                self._serve_api(api, prefix, raw_path[len(prefix) :], query, body)
                return
        self._send(
            json_response(404, {"error": f"no API under {raw_path}; use /stripe, /orb or /integrator"})
        )

    # ``BaseHTTPRequestHandler`` calls ``do_<METHOD>``: every method the APIs use is served the same way.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _serve_api(self, api: str, prefix: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        sandbox = self.server.sandbox
        headers = {name.lower(): value for name, value in self.headers.items()}
        entry = sandbox.log.start(
            sandbox.clock.now(), api, self.command, path, query, list(self.headers.items()), _parse_body(body)
        )
        fault = sandbox.faults.decide(api, path)
        status: int | None = None
        counted = False
        try:
            if fault == "hang":
                # Accept and never answer: wait until the server stops or faults are changed.
                cleared = sandbox.faults.cleared
                while not sandbox.stopping.is_set() and not cleared.wait(0.2):
                    pass
                self.close_connection = True
                return
            if fault == "drop":
                self.close_connection = True
                return
            if sandbox.latency_ms > 0:
                sandbox.stopping.wait(sandbox.latency_ms / 1000.0)
            if fault == "timeout":
                sandbox.stopping.wait(sandbox.faults.config.timeout_seconds)
            emulator = sandbox.apis[api]
            if fault in ("500", "502", "503", "429"):
                response = emulator.error(int(fault), sandbox.faults.config.retry_after)
            else:
                request = ApiRequest(
                    self.command, path, query, headers, body, headers.get("host", "127.0.0.1"), prefix
                )
                response = emulator.handle(request)
            if fault == "malformed":
                response = ApiResponse(200, MALFORMED_BODY)
            status = response.status
            # Logged and counted before the answer leaves: a client that has its answer finds it there.
            sandbox.log.finish(entry, status, fault)
            sandbox.stats.count(api, status, fault)
            counted = True
            self._send(response, truncate=fault == "truncated")
        finally:
            if not counted:
                sandbox.log.finish(entry, status, fault)
                sandbox.stats.count(api, status, fault)

    def _send(self, response: ApiResponse, truncate: bool = False) -> None:
        """Write the whole response in one call, or for ``truncated`` cut it short and close: half the body,
        or half the status line when there is no body (a 204 cut after its head would still be complete)."""
        status = response.status
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        if status != 204:
            lines.append(f"Content-Type: {response.content_type}")
            lines.append(f"Content-Length: {len(response.body)}")
        for name, value in response.headers:
            lines.append(f"{name}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = b"" if status == 204 else response.body
        if truncate:
            self.wfile.write(head + body[: len(body) // 2] if body else head[: len(lines[0]) // 2])
            self.close_connection = True
            return
        self.wfile.write(head + body)


def _parse_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
