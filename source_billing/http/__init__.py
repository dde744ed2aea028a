"""Talking to the APIs: the base streams every API's streams build on, the layered rate budgets, the
circuit breaker, error mapping and the connection checks."""
