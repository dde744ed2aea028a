"""Celigo integrator.io: published connectors, their licenses and install base (https://docs.celigo.com)."""

from __future__ import annotations

import logging

from source_billing.check import probe
from source_billing.config import IntegratorIoConfig
from source_billing.integrator_io.base import (
    IntegratorIoApi,
    IntegratorIoStream,
    integrator_io_error_detail,
    integrator_io_error_mapping,
)
from source_billing.integrator_io.streams import build_streams

__all__ = ["check", "streams"]


def streams(config: IntegratorIoConfig) -> list[IntegratorIoStream]:
    """The integrator.io streams for this configuration."""
    return build_streams(IntegratorIoApi.from_config(config))


def check(config: IntegratorIoConfig, logger: logging.Logger) -> str | None:
    """None when the token works, else what is wrong. `GET /v1/tokenInfo` is the cheapest
    authenticated call."""
    api = IntegratorIoApi.from_config(config)
    probe(
        api="integrator.io",
        url=f"{api.url_base}tokenInfo",
        authenticator=api.authenticator,
        error_mapping=integrator_io_error_mapping(config),
        error_detail=integrator_io_error_detail,
        logger=logger,
    )
    return None
