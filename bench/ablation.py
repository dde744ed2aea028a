"""`python -m bench.ablation RULE [connector arguments]`: the connector's console script with one rule of
its scheduler switched off, for `make bench-ablation` (each rule off in turn on the rate-limited catalog,
to see which earn their place). The connector's code is unchanged; the rule is replaced in this process
before the sync starts.

Rules (`RULES`):
- `equal-share`: streams held back by one limit keep even levels (`FairThreadPool._held_median`); off, a
  held-back stream grows and never yields a worker to an even share.
- `held-back`: a stream whose limit holds it back stops growing (`Pacing.throttled`); off, no stream ever
  counts as held back (which also turns off the even share, the spare workers and the idle splits).
- `congestion`: a stream whose answers slow down stops growing (`Pacing.congested`).
- `output-queue`: no stream grows while the output queue is full (`FairThreadPool._output_backed_up`).
- `spare-workers`: a held-back stream gives back a worker it does not need when another stream waits.
- `idle-split`: a read with pages left hands half to another worker once its limits have room.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any
from unittest.mock import patch

from source_billing.http import base_stream, budget
from source_billing.runtime import scheduling
from source_billing.runtime.run import run


def _false(*_: Any) -> bool:
    return False


# Each rule: where it lives, and what stands in for it when it is off.
RULES: dict[str, tuple[object, str, Any]] = {
    "equal-share": (scheduling.FairThreadPool, "_held_median", lambda *_: math.inf),
    "held-back": (budget.Pacing, "throttled", _false),
    "congestion": (budget.Pacing, "congested", _false),
    "output-queue": (scheduling.FairThreadPool, "_output_backed_up", _false),
    "spare-workers": (scheduling, "SPARE_WORKERS", math.inf),
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
