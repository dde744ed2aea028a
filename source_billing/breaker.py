"""A per-API circuit breaker: once an API has stopped answering, its other slices fail at once.

Each request already retries transport failures (refused or dropped connections, timeouts) for up to about
twelve minutes. Without a breaker, every slice of every stream of a dead API would spend those minutes on its
own, and a sync of hundreds of slices would last hours before failing. So the first request to exhaust its
retries on a transport failure opens the API's breaker, and every slice of that API that starts afterwards
fails before sending anything, with a `transient_error` saying to retry the sync later. HTTP errors the
server answered (a 404, a 403, a 500 after all retries) never open it: the API is up, and that failure
concerns one stream. The other APIs' streams carry on.
"""

from __future__ import annotations

import logging
import threading

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

LOGGER = logging.getLogger("airbyte")


class CircuitBreaker:
    """Whether one API still answers, shared by all of its streams for one sync. Thread-safe.

    Args:
        api: the API's name as users know it (`Stripe`, `Orb`, `integrator.io`).
    """

    def __init__(self, api: str) -> None:
        self.api = api
        self._open = threading.Event()
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True once a request to the API has given up on transport failures."""
        return self._open.is_set()

    def check(self, stream: str) -> None:
        """Call before a slice sends anything.

        Raises:
            AirbyteTracedException: a `transient_error` when the API has stopped answering.
        """
        if self._open.is_set():
            raise AirbyteTracedException(
                message=(
                    f"Stream {stream} was not read in full: {self.api} stopped answering earlier in this "
                    f"sync (a request failed on network errors or timeouts after every retry), so no more "
                    f"requests were sent to it. Retry the sync later."
                ),
                internal_message=f"{self.api} circuit breaker open",
                failure_type=FailureType.transient_error,
            )

    def record(self, error: BaseException) -> None:
        """Open the breaker if `error` is a request that exhausted its retries on a transport failure."""
        if not gave_up_on_transport(error):
            return
        with self._lock:
            if self._open.is_set():
                return
            self._open.set()
        LOGGER.warning(
            f"{self.api} stopped answering: a request failed on network errors or timeouts after every "
            f"retry. The remaining slices of every {self.api} stream fail without sending requests; the "
            "other APIs' streams carry on."
        )


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
