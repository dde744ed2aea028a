"""A per-API circuit breaker: once an API has stopped answering, its part of the sync ends within minutes.

Each request retries transport failures (refused or dropped connections, connect and read timeouts) for up
to ten minutes, and a dead API keeps many requests retrying at once. So the breaker watches the API as a
whole: every attempt of every request to the API leaves through the API's `BreakerAdapter`, which reports
each HTTP answer and each transport failure. The breaker opens when

- the API has answered nothing since the first of at least `MIN_FAILURES` transport failures in a row,
  for `SILENCE` (any answer, of any status, from any request, starts the count again); or
- one request has exhausted its retries on transport failures (`record`): one endpoint that hangs while
  the others answer.

Once open, every slice of the API that starts fails at once (`check`), and every request, retrying or not,
stops at its next attempt instead of sending it; one whose attempt just failed stops instead of waiting.
Each fails with a `transient_error` naming the API and saying to retry the sync later, never quietly: a
slice that ended would be taken as read. A dead API's first failure comes at most one read timeout (60 s)
after its first unanswered request, the breaker opens two minutes later, and within one more read timeout
every attempt still in flight has failed and stopped: its part of the sync ends within about four minutes.

HTTP errors the server answered (a 404, a 403, a 500 or 429 after all retries) never open it: the API is up,
and that failure concerns one stream. The other APIs' streams carry on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.adapters import BaseAdapter

LOGGER = logging.getLogger("airbyte")

# Two minutes ride out a brief outage, and still end a dead API's part within 5 minutes (see above). Three
# failures, so that one timeout followed by a quiet moment (no request in flight) is not taken for silence.
SILENCE = timedelta(minutes=2)
MIN_FAILURES = 3
# Failures to get an answer at all, but a TLS error (`send`): a certificate the connector refuses is a
# configuration problem, which its stream reports as such.
_TRANSPORT_FAILURES = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class CircuitBreaker:
    """Whether one API still answers, shared by all of its streams for one sync. Thread-safe; an attempt
    costs two attribute reads while the API answers, and a lock only while it does not.

    Args:
        api: the API's name as users know it (`Stripe`, `Orb`, `integrator.io`).
        clock: seconds on a monotonic clock; `time.monotonic` by default.
    """

    def __init__(self, api: str, *, clock: Callable[[], float] | None = None) -> None:
        self.api = api
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._reason: str | None = None  # why the breaker opened; None while it is closed
        self._failures = 0
        self._failing_since: float | None = None  # the first of the failures in a row

    @property
    def is_open(self) -> bool:
        """True once the API is taken as having stopped answering, for the rest of the sync."""
        return self._opened() is not None

    def check(self, stream: str | None = None) -> None:
        """Call before a slice sends anything (naming its stream), and before each attempt of a request.

        Raises:
            AirbyteTracedException: a `transient_error` when the API has stopped answering.
        """
        if self.is_open:
            raise self.stopped(stream)

    def adapter(self, transport: BaseAdapter) -> BreakerAdapter:
        """`transport`, reporting to this breaker: mount it on every session that sends to the API."""
        return BreakerAdapter(self, transport)

    def answered(self) -> None:
        """An attempt got an HTTP answer, of any status: the API is up."""
        if self._failing_since is None:
            return
        with self._lock:
            self._failures = 0
            self._failing_since = None

    def failed(self) -> bool:
        """An attempt got no answer (a transport failure); whether the breaker is open now."""
        with self._lock:
            if self._failing_since is None:
                self._failing_since = self._clock()
            self._failures += 1
        return self.is_open

    def record(self, error: BaseException) -> None:
        """Open the breaker if `error` is a request that exhausted its retries on a transport failure."""
        if not gave_up_on_transport(error):
            return
        with self._lock:
            if self._reason is not None:
                return
            self._reason = "a request failed on network errors or timeouts after every retry"
        self._warn()

    def stopped(self, stream: str | None = None) -> AirbyteTracedException:
        """The error that ends a request (or, naming it, a stream's slice) once the breaker is open."""
        where = "" if stream is None else f"Stream {stream} was not read in full: "
        return AirbyteTracedException(
            message=(
                f"{where}{self.api} stopped answering earlier in this sync ({self._reason}), so no more "
                "requests were sent to it. Retry the sync later."
            ),
            internal_message=f"{self.api} circuit breaker open",
            failure_type=FailureType.transient_error,
        )

    def _opened(self) -> str | None:
        """Why the breaker is open, opening it if the API has been silent long enough; None if closed."""
        if self._reason is not None or self._failing_since is None:
            return self._reason
        with self._lock:
            since = self._failing_since
            if (
                self._reason is not None
                or since is None
                or self._failures < MIN_FAILURES
                or self._clock() - since < SILENCE.total_seconds()
            ):
                return self._reason
            minutes = round(SILENCE.total_seconds() / 60)
            self._reason = (
                f"no request to it was answered for {minutes} minutes: {self._failures} attempts in a row "
                "timed out or failed on the network"
            )
        self._warn()
        return self._reason

    def _warn(self) -> None:
        LOGGER.warning(
            f"{self.api} stopped answering ({self._reason}). The remaining requests and slices of every "
            f"{self.api} stream fail without sending anything; the other APIs' streams carry on."
        )


class BreakerAdapter(BaseAdapter):
    """The transport adapter every request of one API's streams leaves through, each retry included:
    it tells the API's breaker how each attempt went, and sends nothing once the breaker is open.

    A stopped request raises an `AirbyteTracedException`, not a `requests` exception: the CDK retries
    every `requests` exception, and lets any other through at once.
    """

    def __init__(self, breaker: CircuitBreaker, transport: BaseAdapter) -> None:
        super().__init__()
        self._breaker = breaker
        self._transport = transport

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self._breaker.check()
        try:
            response: requests.Response = self._transport.send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )
        except _TRANSPORT_FAILURES as error:
            if not isinstance(error, requests.exceptions.SSLError) and self._breaker.failed():
                raise self._breaker.stopped() from error  # at once, rather than after a wait to retry
            raise
        self._breaker.answered()
        return response

    def close(self) -> None:
        self._transport.close()


def gave_up_on_transport(error: BaseException) -> bool:
    """Whether `error` is the CDK's give-up after retrying a request that never got an HTTP answer.

    The CDK's `HttpClient` raises an `AirbyteTracedException` from inside `except BaseBackoffException`, so
    the backoff exception is its context; that exception carries a response only when the server answered
    (a retried 429 or 5xx), and none when the request failed in transport.
    """
    if not isinstance(error, AirbyteTracedException):
        return False
    cause = error.__cause__ or error.__context__
    return isinstance(cause, BaseBackoffException) and cause.response is None
