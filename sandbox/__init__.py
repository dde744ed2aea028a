"""Local HTTP sandbox that emulates the Stripe, Orb and integrator.io APIs for source-billing.

A test, demo and benchmark tool, not shipped in the connector image. One process serves, on loopback:

- ``/stripe/v1/...``      Stripe (2023-08-16 shapes), keys in ``sandbox.credentials``; Connect accounts
  ``acct_sandbox`` (no header), ``acct_sandbox_a`` and ``acct_sandbox_b`` via ``Stripe-Account``.
- ``/orb/v1/...``         Orb.
- ``/integrator/v1/...``  Celigo integrator.io.
- ``/_control/...``       the control API (never faulted, limited or logged):

  ``GET health``; ``GET objects/{api}/{resource}[?account=]``; ``POST {api}/{resource}`` (create),
  ``POST {api}/{resource}/{id}`` (merge), ``DELETE {api}/{resource}/{id}`` (children need ``_parent``;
  Stripe changes emit events; ``?account=`` picks a Connect account); ``GET requests?since=SEQ&limit=N``,
  ``DELETE requests``; ``GET stats``; ``POST|DELETE faults``; ``GET clock``,
  ``POST clock {"advance_seconds": N}``; ``POST config {"latency_ms", "rate_limits"}``.

Start it with ``python -m sandbox --help`` or ``sandbox.process.SandboxProcess``. Data is deterministic
from ``--seed`` and the scales; timestamps are relative to the start time (``--now`` fixes it).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
