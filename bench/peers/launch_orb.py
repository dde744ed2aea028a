"""Run airbyte-source-orb (1.2.x) against the sandbox: `python launch_orb.py read --config ...`.

Runs with the peer's own virtual environment's Python. The connector holds its base URL in a module
constant (`ORB_API_BASE_URL`, the obsolete `https://api.billwithorb.com/v1/`, used by `check`) and in the
`url_base` class attribute of its base stream; the launcher sets both to `BENCH_PEER_BASE_URL`, then runs
the connector's own entry point unchanged.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def main() -> None:
    """Patch the peer's base URL, then run its entry point."""
    base_url = os.environ["BENCH_PEER_BASE_URL"].rstrip("/") + "/"
    module: Any = importlib.import_module("source_orb.source")
    module.ORB_API_BASE_URL = base_url
    module.OrbStream.url_base = base_url
    importlib.import_module("source_orb.run").run()


if __name__ == "__main__":
    main()
