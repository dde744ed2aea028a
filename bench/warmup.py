"""Read the sandbox's data once before anything is measured, without latency or limits.

The sandbox serialises each object on its first read and filters a parent's children (an integrator.io
connector's licenses) on the first request for them: measured on the benchmark's data, a cold license
page took 105 ms against 58 ms warm. A real API has no such first-read cost, and the connector measured
first would pay it for the ones after it, so every API's data is walked once here, and every measured
run sees the same warm sandbox whose only delay is the configured latency. Stripe's lists are walked in
both shapes the sandbox renders (`STRIPE_VERSIONS`): the account's default version, which peers read
in, and the one the connector pins, in which the objects whose fields moved between versions (invoices,
subscriptions, products...: `sandbox.stripe_versions.BASIL_CHANGES`) are serialised apart.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from bench import scenarios
from sandbox import credentials
from sandbox.process import SandboxProcess
from source_billing.config import STRIPE_DEFAULT_API_VERSION

WORKERS = 4
TIMEOUT = 60.0
# Lists that hide some objects unless asked (canceled subscriptions; draft and void Orb invoices).
STRIPE_PARAMS: Mapping[str, Mapping[str, str]] = {"subscriptions": {"status": "all"}}
ORB_INVOICE_STATUSES = ("draft", "issued", "paid", "synced", "void")
# The account's default version (no header), and the version the connector pins.
STRIPE_VERSIONS = (None, STRIPE_DEFAULT_API_VERSION)


def _get(url: str, token: str, version: str | None = None) -> tuple[Any, str | None]:
    """The decoded body (None for 204) and the `rel="next"` URL of a Link header, if any."""
    headers = {"Authorization": f"Bearer {token}"}
    if version is not None:
        headers["Stripe-Version"] = version
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        body = response.read()
        link = response.headers.get("Link") or ""
    following = link.partition("<")[2].partition(">")[0] if 'rel="next"' in link else None
    return (json.loads(body) if body else None), following


def stripe_pages(base: str, name: str, version: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Every page of one Stripe list (`starting_after` while `has_more`), in `version` (None: the
    account's default)."""
    query = {**STRIPE_PARAMS.get(name, {}), "limit": "100"}
    while True:
        page, _ = _get(f"{base}/v1/{name}?{urlencode(query)}", credentials.STRIPE_LIVE_KEY, version)
        yield page["data"]
        if not page["has_more"] or not page["data"]:
            return
        query["starting_after"] = page["data"][-1]["id"]


def stripe_list_read(base: str, name: str) -> int:
    """Walk one Stripe list in each of `STRIPE_VERSIONS`; the objects read."""
    return sum(len(page) for version in STRIPE_VERSIONS for page in stripe_pages(base, name, version))


def orb_pages(base: str, path: str, params: str = "") -> Iterator[list[dict[str, Any]]]:
    """Every page of one Orb list (`cursor` while `has_more`)."""
    cursor = ""
    while True:
        page, _ = _get(f"{base}/v1/{path}?limit=100{params}{cursor}", credentials.ORB_API_KEY)
        yield page["data"]
        meta = page["pagination_metadata"]
        if not meta["has_more"]:
            return
        cursor = f"&cursor={meta['next_cursor']}"


def integrator_items(url: str) -> Iterator[dict[str, Any]]:
    """Every item of one integrator.io list, following `Link: rel="next"`."""
    following: str | None = url
    while following:
        items, following = _get(following, credentials.INTEGRATOR_TOKEN)
        yield from items or ()


def jobs(sandbox: SandboxProcess) -> list[Callable[[], int]]:
    """One job per list of the rate-limited catalog; each returns the objects it read."""
    stripe, orb, integrator = (sandbox.base_url(api) for api in ("stripe", "orb", "integrator"))

    def stripe_list(name: str) -> Callable[[], int]:
        return lambda: stripe_list_read(stripe, name)

    def orb_lists() -> int:
        read = 0
        for path in ("subscriptions", "plans"):
            read += sum(len(page) for page in orb_pages(orb, path))
        statuses = "".join(f"&status[]={status}" for status in ORB_INVOICE_STATUSES)
        read += sum(len(page) for page in orb_pages(orb, "invoices", statuses))
        for page in orb_pages(orb, "customers"):
            read += len(page)
            for customer in page:
                read += sum(
                    len(entries) for entries in orb_pages(orb, f"customers/{customer['id']}/credits/ledger")
                )
        return read

    def integrator_lists() -> int:
        read = 0
        for connector in integrator_items(f"{integrator}/v1/connectors"):
            read += 1
            for child in ("licenses", "installBase"):
                read += sum(
                    1 for _ in integrator_items(f"{integrator}/v1/connectors/{connector['_id']}/{child}")
                )
        return read

    return [*(stripe_list(name) for name in scenarios.STRIPE_STREAMS), orb_lists, integrator_lists]


def warm_up(sandbox: SandboxProcess) -> tuple[int, float]:
    """Walk the catalog's data with latency and limits off, then put them back.

    Returns:
        Objects read and seconds taken.
    """
    started = time.monotonic()
    sandbox.control("POST", "config", {"latency_ms": 0, "rate_limits": False})
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            read = sum(pool.map(lambda job: job(), jobs(sandbox)))
    finally:
        sandbox.control("POST", "config", {"latency_ms": scenarios.LATENCY_MS, "rate_limits": True})
    return read, time.monotonic() - started
