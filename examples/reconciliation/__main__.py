"""`python -m examples.reconciliation [DATABASE]`: answer the reconciliation questions on synced tables."""

from __future__ import annotations

import sys

from examples.reconciliation import main

raise SystemExit(main(sys.argv[1:]))
