"""`python -m bench.ablation RULE [connector arguments]`: the connector's console script with one rule of
its scheduler switched off, for `make bench-ablation` (each rule off in turn on the rate-limited catalog,
to see which earn their place). The connector's code is unchanged; the rule is replaced in this process
before the sync starts.

Rules (`RULES`):
- `held-back`: a stream whose limit holds it back stops growing, and its dense windows do not split
  (`Pacing.throttled`); off, no stream ever counts as held back.
- `idle-split`: a read with pages left hands half to another worker once its limits have room.

Four more rules were removed after two ablations on 2026-12-06 showed none of them worth anything on the
bench's catalogs (README): even levels for the streams a shared limit holds back, spare workers given back,
no growth while a stream's answers slow down, no growth while the output queue is full.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from unittest.mock import patch

from source_billing.http import base_stream, budget
from source_billing.runtime.run import run


def _false(*_: Any) -> bool:
    return False


# Each rule: where it lives, and what stands in for it when it is off.
RULES: dict[str, tuple[object, str, Any]] = {
    "held-back": (budget.Pacing, "throttled", _false),
    "idle-split": (base_stream.WindowedStream, "split_idle", lambda *_: None),
}


def main(argv: Sequence[str]) -> None:
    """Switch the rule named first off, then run the connector with the other arguments."""
    rule, *arguments = argv
    owner, name, stand_in = RULES[rule]
    patch.object(owner, name, stand_in).start()
    sys.argv = ["source-billing", *arguments]
    run()


if __name__ == "__main__":
    main(sys.argv[1:])
