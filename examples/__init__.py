"""Runnable examples of source-billing: the DuckDB demo (`make demo`)."""
