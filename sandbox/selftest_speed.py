"""Speed self-test: how many Stripe list pages of 100 records per second one keep-alive client gets.

Run ``python -m sandbox.selftest_speed`` (or ``python -m sandbox --selftest``). It starts a sandbox in a
subprocess (so client and server each have a core), walks ``/stripe/v1/customers`` with
``starting_after`` once to warm the JSON cache, then measures whole walks until ``--pages`` pages.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandbox.credentials import STRIPE_TEST_KEY
from sandbox.process import SandboxProcess


@dataclass(frozen=True)
class SpeedResult:
    """What one measurement found.

    Attributes:
        pages: Pages fetched.
        records: Records received.
        seconds: Wall time.
    """

    pages: int
    records: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        """Pages per second."""
        return self.pages / self.seconds if self.seconds else 0.0


def walk(connection: http.client.HTTPConnection, path: str, max_pages: int) -> tuple[int, int]:
    """Page through one Stripe list with ``starting_after`` on a kept-alive connection.

    Args:
        connection: An open connection to the sandbox.
        path: List path including the API prefix, e.g. ``/stripe/v1/customers``.
        max_pages: Stop after this many pages.

    Returns:
        ``(pages, records)`` fetched.

    Raises:
        RuntimeError: On a non-200 answer.
    """
    headers = {"Authorization": f"Bearer {STRIPE_TEST_KEY}"}
    after = ""
    pages = records = 0
    while pages < max_pages:
        connection.request("GET", f"{path}?limit=100{after}", headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
        page = json.loads(body)
        pages += 1
        records += len(page["data"])
        if not page["has_more"]:
            break
        after = f"&starting_after={page['data'][-1]['id']}"
    return pages, records


def measure(base_url: str, pages: int, path: str = "/stripe/v1/customers") -> SpeedResult:
    """Warm up with one walk, then walk repeatedly until ``pages`` pages were fetched.

    Args:
        base_url: ``http://127.0.0.1:PORT``.
        pages: Pages to measure.
        path: List to walk.

    Returns:
        The measurement.
    """
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    try:
        walk(connection, path, 10**9)
        total_pages = total_records = 0
        start = time.perf_counter()
        while total_pages < pages:
            fetched, records = walk(connection, path, pages - total_pages)
            total_pages += fetched
            total_records += records
        return SpeedResult(total_pages, total_records, time.perf_counter() - start)
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print pages per second.

    Args:
        argv: Arguments (``sys.argv[1:]`` when None).

    Returns:
        0, or 1 when ``--min-pages-per-second`` was given and not reached.
    """
    parser = argparse.ArgumentParser(prog="python -m sandbox.selftest_speed", description=__doc__)
    parser.add_argument("--pages", type=int, default=3000, help="pages to measure (default 3000)")
    parser.add_argument("--customers", type=int, default=5000, help="customers to seed (default 5000)")
    parser.add_argument("--url", help="measure a running sandbox instead of starting one")
    parser.add_argument("--min-pages-per-second", type=float, help="exit 1 below this rate")
    args = parser.parse_args(argv)
    if args.url:
        result = measure(args.url, args.pages)
    else:
        options: dict[str, Any] = {
            "scale": 20,
            "scale_for": {"stripe.customers": args.customers},
            "max_seconds": 300,
        }
        with SandboxProcess(**options) as sandbox:
            result = measure(sandbox.url, args.pages)
    print(
        f"selftest: {result.pages} pages ({result.records} records) in {result.seconds:.2f} s = "
        f"{result.pages_per_second:.0f} pages/s, {result.records / result.seconds:.0f} records/s"
    )
    if args.min_pages_per_second and result.pages_per_second < args.min_pages_per_second:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
