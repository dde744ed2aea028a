"""The benchmark's fixed data and catalogs: what the sandbox seeds and which streams each sync reads.

The rate-limited catalog reads 8 top-level Stripe streams of 20,000 objects each (160,000 records, at
least 1,600 list pages: 16 s at Stripe's 100 requests/s), 5 Orb streams whose 300 customers each need a
ledger request (30 s at the ledger's 10/s) and the 3 integrator.io streams read per connector (about
1,200 requests for 300 connectors: 4 s at 300/s). integrator.io pages hold 100 items here (the sandbox's
default is 1,000): at 1,000 a realistic install base is a handful of requests, too few to say anything
about a 300/s limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.frozen_sandbox import FrozenSandboxProcess
from sandbox import credentials
from sandbox.process import SandboxProcess

LATENCY_MS = 50.0
STRIPE_STREAMS = (
    "customers",
    "products",
    "prices",
    "invoices",
    "charges",
    "payment_intents",
    "subscriptions",
    "refunds",
)
STRIPE_RECORDS_PER_STREAM = 20_000
ORB_STREAMS = (
    "orb_customers",
    "orb_subscriptions",
    "orb_plans",
    "orb_invoices",
    "orb_credits_ledger_entries",
)
ORB_SCALES = {"customers": 300, "subscriptions": 3_000, "plans": 100, "invoices": 5_000}
# Licenses and install base are read per connector, so a connector can spread them over many requests in
# flight; integrations, flows and jobs are single lists paged by an opaque cursor, whose read time is their
# page count times the latency whatever a connector does (integrations grow with installed licenses: 245
# pages, 12 s at 50 ms, for this data), so they would measure the sandbox's latency, not the rate limit.
INTEGRATOR_STREAMS = (
    "integrator_io_connectors",
    "integrator_io_licenses",
    "integrator_io_install_base",
)
INTEGRATOR_SCALES = {"connectors": 300, "licenses": 60_000}
INTEGRATOR_PAGE_SIZE = 100
# Every resource not listed above: small, so the sandbox starts fast and the unread data costs nothing.
DEFAULT_SCALE = 20
CPU_STREAM = "customers"
# The CPU-bound run's account limits, raised out of reach (the most the spec allows).
UNLIMITED_STRIPE = {"requests_per_second": 100_000, "endpoint_requests_per_second": 100_000}
MEMORY_RECORDS = (20_000, 200_000)


@dataclass(frozen=True)
class Peer:
    """A published connector compared with ours on the streams of one API.

    Attributes:
        name: Short name (`stripe`, `orb`).
        package: PyPI distribution.
        version: Pinned version.
        module: The package's import name (its code is imported by the launcher, never copied).
        launcher: Script in `bench/peers/` that points it at the sandbox and runs it.
        api: The sandbox API it reads.
        streams: Our stream name -> the peer's stream name.
    """

    name: str
    package: str
    version: str
    module: str
    launcher: str
    api: str
    streams: dict[str, str]


PEERS = (
    Peer(
        name="stripe",
        package="airbyte-source-stripe",
        version="5.14.1",
        module="source_stripe",
        launcher="launch_stripe.py",
        api="stripe",
        streams={name: name for name in STRIPE_STREAMS},
    ),
    Peer(
        name="orb",
        package="airbyte-source-orb",
        version="1.2.4",
        module="source_orb",
        launcher="launch_orb.py",
        api="orb",
        streams={name: name.removeprefix("orb_") for name in ORB_STREAMS},
    ),
)


def rate_limited_sandbox(max_seconds: float) -> SandboxProcess:
    """The sandbox of the rate-limited run: 50 ms per request, the vendors' limits, the fixed data."""
    scale_for = {f"stripe.{name}": STRIPE_RECORDS_PER_STREAM for name in STRIPE_STREAMS}
    scale_for |= {f"orb.{name}": count for name, count in ORB_SCALES.items()}
    scale_for |= {f"integrator.{name}": count for name, count in INTEGRATOR_SCALES.items()}
    return FrozenSandboxProcess(
        startup_timeout=180,
        scale=DEFAULT_SCALE,
        scale_for=scale_for,
        latency_ms=LATENCY_MS,
        rate_limits=True,
        integrator_page_size=INTEGRATOR_PAGE_SIZE,
        max_seconds=max_seconds,
    )


def cpu_sandbox(records: int, max_seconds: float) -> SandboxProcess:
    """The sandbox of a CPU-bound run: no latency, no limits, `records` Stripe customers."""
    return FrozenSandboxProcess(
        startup_timeout=180,
        scale=1,
        scale_for={f"stripe.{CPU_STREAM}": records},
        max_seconds=max_seconds,
    )


def our_config(sandbox: SandboxProcess, apis: tuple[str, ...], max_concurrency: int | None) -> dict[str, Any]:
    """Our connector's configuration for `apis`, with a live-mode Stripe key."""
    sections: dict[str, dict[str, Any]] = {
        "stripe": {"client_secret": credentials.STRIPE_LIVE_KEY, "api_base_url": sandbox.base_url("stripe")},
        "orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb")},
        "integrator_io": {
            "api_token": credentials.INTEGRATOR_TOKEN,
            "api_base_url": sandbox.base_url("integrator"),
        },
    }
    config: dict[str, Any] = {name: sections[name] for name in apis}
    if max_concurrency is not None:
        config["max_concurrency"] = max_concurrency
    return config


def peer_config(peer: Peer) -> dict[str, Any]:
    """A peer's configuration: the same key and data as ours (its base URL is set by its launcher)."""
    if peer.name == "stripe":
        return {
            "client_secret": credentials.STRIPE_LIVE_KEY,
            "account_id": credentials.STRIPE_PLATFORM_ACCOUNT,
            "start_date": "2017-01-25T00:00:00Z",
        }
    # Orb 1.x requires a start date; Orb did not exist before 2019, the sandbox's data is newer still.
    return {"api_key": credentials.ORB_API_KEY, "start_date": "2019-01-01T00:00:00Z"}


def peer_base_url(peer: Peer, sandbox: SandboxProcess) -> str:
    """The base URL the peer's code holds (with `/v1`), pointed at the sandbox."""
    return f"{sandbox.base_url(peer.api)}/v1"
