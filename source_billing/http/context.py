"""What every stream of one API shares in a sync, the same for the three APIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator

from source_billing.http.breaker import CircuitBreaker
from source_billing.http.budget import LayeredBudget


class Located(Protocol):
    """An API's settings: at least where it answers."""

    @property
    def api_base_url(self) -> str: ...


ConfigT = TypeVar("ConfigT", bound=Located)


@dataclass(frozen=True)
class ApiContext(Generic[ConfigT]):
    """One API's settings, credentials, rate budget, and the circuit breaker that stops all its streams
    once it has stopped answering. Each API builds its own (`stripe_api`, `orb_api`, `integrator_io_api`)."""

    config: ConfigT
    authenticator: TokenAuthenticator
    budget: LayeredBudget
    breaker: CircuitBreaker

    @property
    def url_base(self) -> str:
        """The API root every path is relative to (`.../v1/`)."""
        return f"{self.config.api_base_url}/v1/"

    def same_origin(self, url: str) -> bool:
        """Whether a URL points at the configured API host (the only host that may see the credentials)."""
        ours, theirs = urlsplit(self.config.api_base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)
