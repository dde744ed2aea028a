"""Run the sandbox as a subprocess from tests, demos and benchmarks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

API_NAMES = ("stripe", "orb", "integrator")


class SandboxControlError(RuntimeError):
    """A control API call answered with an error status.

    Args:
        status: HTTP status.
        body: Decoded body (or text).
    """

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


class SandboxProcess:
    """``python -m sandbox`` in a subprocess, usable as a context manager.

    Keyword arguments mirror the command line (``scale_for={"stripe.customers": 5000}``,
    ``rate_limits=True``, ``fault_rate=0.1``...). ``max_seconds`` defaults to 900 so a forgotten process
    still ends by itself.

    Args:
        startup_timeout: Seconds to wait for the ready file.
        options: Command-line options by their Python names.
    """

    def __init__(self, startup_timeout: float = 20.0, **options: Any) -> None:
        options.setdefault("max_seconds", 900)
        self.options = options
        self.startup_timeout = startup_timeout
        self.port = 0
        self.pid = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    def command(self, ready_file: Path) -> list[str]:
        """The command line that starts the sandbox."""
        command = [sys.executable, "-m", "sandbox", "--ready-file", str(ready_file)]
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            if value is None or value is False:
                continue
            if value is True:
                command.append(flag)
            elif name == "scale_for":
                for resource, count in dict(value).items():
                    command += [flag, f"{resource}={count}"]
            elif isinstance(value, list | tuple):
                command += [flag, ",".join(map(str, value))]
            else:
                command += [flag, str(value)]
        return command

    def start(self) -> SandboxProcess:
        """Start the subprocess and wait (bounded) until it listens.

        Raises:
            RuntimeError: If it exits or does not get ready in time (its stderr is included).
        """
        self._workdir = Path(tempfile.mkdtemp(prefix="sandbox-"))
        ready = self._workdir / "ready.json"
        stderr = (self._workdir / "stderr.txt").open("wb")
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            self.command(ready), stdout=subprocess.DEVNULL, stderr=stderr, cwd=root, env=env
        )
        stderr.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if ready.exists():
                info = json.loads(ready.read_text())
                self.port, self.pid = int(info["port"]), int(info["pid"])
                return self
            if self._process.poll() is not None:
                break
            time.sleep(0.02)
        error = (self._workdir / "stderr.txt").read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"sandbox did not start within {self.startup_timeout}s: {error[-2000:]}")

    def wait(self, timeout: float) -> int:
        """Wait for the subprocess to exit by itself (``--max-seconds``); its exit code.

        Raises:
            RuntimeError: The sandbox is not running.
            subprocess.TimeoutExpired: It is still running after ``timeout`` seconds.
        """
        if self._process is None:
            raise RuntimeError("the sandbox is not running")
        return self._process.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the subprocess (SIGTERM, then SIGKILL after ``timeout``) and clean up."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, api: str) -> str:
        """The ``api_base_url`` to configure for one API, e.g. ``http://127.0.0.1:PORT/stripe``.

        Raises:
            ValueError: For an unknown API name.
        """
        if api not in API_NAMES:
            raise ValueError(f"unknown api {api!r}; use one of {API_NAMES}")
        return f"{self.url}/{api}"

    def control(self, method: str, path: str, json: Any = None, timeout: float = 30.0) -> Any:
        """Call the control API.

        Args:
            method: HTTP method.
            path: ``/_control/...`` or the part after it (``health``, ``/faults``...).
            json: Body to send as JSON (None sends no body).
            timeout: Socket timeout.

        Returns:
            The decoded JSON answer.

        Raises:
            SandboxControlError: On a non-2xx answer.
        """
        return control_call(self.url, method, path, json, timeout)


def control_call(base: str, method: str, path: str, json_body: Any = None, timeout: float = 30.0) -> Any:
    """Call ``/_control`` of a sandbox at ``base`` (see ``SandboxProcess.control``)."""
    path = path if path.startswith("/_control") else "/_control/" + path.lstrip("/")
    data = None if json_body is None else json.dumps(json_body).encode()
    request = urllib.request.Request(base + path, data=data, method=method.upper())
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            decoded: Any = json.loads(body)
        except ValueError:
            decoded = body.decode(errors="replace")
        raise SandboxControlError(error.code, decoded) from None
