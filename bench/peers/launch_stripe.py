"""Run airbyte-source-stripe (5.14.x) against the sandbox: `python launch_stripe.py read --config ...`.

Runs with the peer's own virtual environment's Python. The connector is a declarative manifest whose
requesters hold `url_base: https://api.stripe.com/v1`; the launcher loads the manifest as the connector
would, replaces that URL (wherever it appears) with `BENCH_PEER_BASE_URL`, then runs the connector's own
entry point unchanged. Nothing else is altered: its rate budget, workers and record handling are its own.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

STRIPE_URL = "https://api.stripe.com/v1"


def rebase(value: Any, base_url: str) -> Any:
    """`value` with every string starting with Stripe's URL moved to `base_url` (dicts and lists walked)."""
    if isinstance(value, dict):
        return {key: rebase(item, base_url) for key, item in value.items()}
    if isinstance(value, list):
        return [rebase(item, base_url) for item in value]
    if isinstance(value, str) and value.startswith(STRIPE_URL):
        return base_url + value[len(STRIPE_URL) :]
    return value


def main() -> None:
    """Patch the manifest loader of the peer's source class, then run its entry point."""
    base_url = os.environ["BENCH_PEER_BASE_URL"].rstrip("/")
    source_class: Any = importlib.import_module("source_stripe").SourceStripe
    load = source_class._read_and_parse_yaml_file

    def load_rebased(self: Any, path: str) -> Any:
        return rebase(load(self, path), base_url)

    source_class._read_and_parse_yaml_file = load_rebased
    importlib.import_module("source_stripe.run").run()


if __name__ == "__main__":
    main()
