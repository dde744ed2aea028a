"""Celigo integrator.io: published connectors, their licenses and install base, and the ISV's own
integrations, flows and jobs (https://docs.celigo.com)."""

from __future__ import annotations

import logging

from source_billing.config import IntegratorIoConfig
from source_billing.http.check import probe
from source_billing.integrator_io.base import (
    IntegratorIoStream,
    integrator_io_api,
    integrator_io_error_detail,
    integrator_io_error_mapping,
)
from source_billing.integrator_io.streams import build_streams

__all__ = ["check", "streams"]

# `tokenInfo` is the cheapest authenticated call (a 401 there means a wrong token or region); `connectors`
# needs the publishing account's full-access token, which the licenses the connector exists for require.
CHECKED_PATHS = ("tokenInfo", "connectors")


def streams(config: IntegratorIoConfig) -> list[IntegratorIoStream]:
    """The integrator.io streams for this configuration."""
    return build_streams(integrator_io_api(config))


def check(config: IntegratorIoConfig, logger: logging.Logger) -> str | None:
    """None when the token works and may read connectors, else what is wrong.

    Raises:
        AirbyteTracedException: the mapped failure (a 401 names the region, a 403 the token needed).
    """
    api = integrator_io_api(config)
    for path in CHECKED_PATHS:
        probe(api, path, integrator_io_error_mapping(config, path), integrator_io_error_detail, logger)
    return None
