"""`make bench` / `make bench-peers`: the connector's throughput, CPU and memory against the local sandbox.

- rate-limited: 50 ms per request and the vendors' limits; a fixed catalog of 8 Stripe streams of
  20,000 records, 5 Orb and 6 integrator.io streams; per API records/s, requests/s, the fraction of the
  rate ceiling (`bench.ceiling`), requests, 429s; the connector's peak RSS;
- CPU-bound: no latency, no limits, 200,000 Stripe customers: records/s and CPU per record;
- memory: the CPU-bound run's peak RSS at 20,000 and 200,000 records;
- peers (`--peers`): airbyte-source-stripe 5.14.1 and airbyte-source-orb 1.2.4, installed from PyPI into
  `bench-results/peers/`, on the same sandbox and catalog.

Every measured process is the real executable in a subprocess; CPU and peak RSS come from `wait4`.
Results: `bench-results/results-<suite>.json` and `.md`, and the printed tables with PASS/FAIL per target.
"""
