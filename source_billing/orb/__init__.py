"""Orb: usage-based billing (https://docs.withorb.com/api-reference)."""

from __future__ import annotations

import logging

from source_billing.config import OrbConfig
from source_billing.http.check import probe
from source_billing.orb.base import OrbStream, orb_api, orb_error_detail, orb_error_mapping
from source_billing.orb.enrichment import EventProperties
from source_billing.orb.streams import build_streams

__all__ = ["check", "streams"]


def streams(config: OrbConfig) -> list[OrbStream]:
    """The Orb streams for this configuration."""
    return build_streams(orb_api(config))


def check(config: OrbConfig, logger: logging.Logger) -> str | None:
    """None when the key works, else what is wrong. `GET /v1/ping` validates the key and costs nothing.

    Raises:
        AirbyteTracedException: the mapped failure, or a `config_error` for contradictory event keys.
    """
    EventProperties.from_config(config)
    probe(orb_api(config), "ping", orb_error_mapping(), orb_error_detail, logger)
    return None
