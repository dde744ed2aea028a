"""End-to-end fixtures: one local sandbox of the three APIs per test session (per worker under `make test`'s
pytest-xdist), on 127.0.0.1.

The sandbox's port is chosen at start, so the standard tests' sandbox config file (listed in
acceptance-test-config.yml) is written here, before any of them reads it, by the one worker that runs them:
`make test` distributes whole classes (`--dist loadscope`), and only the standard tests use the fixture that
writes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_tests.sync_clock import SANDBOX_LAG_SECONDS
from sandbox import credentials
from sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
STANDARD_TESTS_CONFIG = ROOT / "integration_tests" / "generated" / "sandbox_config.json"
SESSION_SCALE = 150
# Orb's ledger and usage endpoints allow 10 requests/s, one or more per customer and per subscription each: at
# SESSION_SCALE a read of every stream waited 30 s for them. Fewer Orb customers read the same way.
SESSION_SCALE_FOR = {"orb.customers": 30, "orb.subscriptions": 30}
# The session sandbox enforces no rate limit: as with an account whose limits Stripe raised, the connector
# need not keep under Stripe's 25/s for test keys (a read of every stream waited 80 s for it).
UNLIMITED_STRIPE = {"requests_per_second": 100_000, "endpoint_requests_per_second": 100_000}


def sandbox_config(
    sandbox: SandboxProcess, *, stripe_key: str = credentials.STRIPE_TEST_KEY
) -> dict[str, Any]:
    """A configuration of all three APIs pointing at the sandbox."""
    return {
        "stripe": {"client_secret": stripe_key, "api_base_url": sandbox.base_url("stripe")},
        "orb": {"api_key": credentials.ORB_API_KEY, "api_base_url": sandbox.base_url("orb")},
        "integrator_io": {
            "api_token": credentials.INTEGRATOR_TOKEN,
            "api_base_url": sandbox.base_url("integrator"),
        },
    }


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    """The session's sandbox; tests that change its data create their own objects and clean up by id."""
    with SandboxProcess(
        scale=SESSION_SCALE,
        scale_for=SESSION_SCALE_FOR,
        integrator_page_size=40,
        now=time.time() - SANDBOX_LAG_SECONDS,
        max_seconds=1800,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def config(sandbox: SandboxProcess) -> dict[str, Any]:
    """The sandbox configuration of all three APIs, without Stripe's rate limits (the sandbox has none)."""
    configured = sandbox_config(sandbox)
    configured["stripe"].update(UNLIMITED_STRIPE)
    return configured


@pytest.fixture(scope="session")
def standard_tests_config(config: dict[str, Any]) -> Iterator[Path]:
    """Write the config file the standard tests read (they use this fixture); removed at the end of the
    session."""
    STANDARD_TESTS_CONFIG.parent.mkdir(exist_ok=True)
    STANDARD_TESTS_CONFIG.write_text(json.dumps(config, indent=2))
    yield STANDARD_TESTS_CONFIG
    STANDARD_TESTS_CONFIG.unlink(missing_ok=True)
