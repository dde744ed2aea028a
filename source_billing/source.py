"""The Airbyte source: validates the configuration, checks each configured API, lists their streams."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from airbyte_cdk.models import AirbyteConnectionStatus, FailureType, Status
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing import integrator_io, orb, stripe
from source_billing.config import BillingConfig


class SourceBilling(AbstractSource):
    """Stripe, Orb and integrator.io billing and licensing data, as one Airbyte source."""

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Like the CDK's, but the message reaches the user as written, not as a Python repr."""
        succeeded, problem = self.check_connection(logger, config)
        if succeeded:
            return AirbyteConnectionStatus(status=Status.SUCCEEDED)
        return AirbyteConnectionStatus(status=Status.FAILED, message=str(problem))

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        """One cheap authenticated call per configured API; a failure names the API and the cause."""
        try:
            parsed = BillingConfig.parse(config)
        except AirbyteTracedException as error:
            return False, error.message
        probes: list[tuple[str, str, Callable[[], str | None]]] = []
        if parsed.stripe:
            probes.append(
                ("Stripe", parsed.stripe.api_base_url, partial(stripe.check, parsed.stripe, logger))
            )
        if parsed.orb:
            probes.append(("Orb", parsed.orb.api_base_url, partial(orb.check, parsed.orb, logger)))
        if parsed.integrator_io:
            integrator = parsed.integrator_io
            probes.append(
                ("integrator.io", integrator.api_base_url, partial(integrator_io.check, integrator, logger))
            )
        problems = [problem for api, url, run in probes if (problem := _run_probe(api, url, run))]
        if problems:
            return False, " ".join(problems)
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        """The streams of the configured APIs only."""
        parsed = BillingConfig.parse(config)
        found: list[Stream] = []
        if parsed.stripe:
            found.extend(stripe.streams(parsed.stripe))
        if parsed.orb:
            found.extend(orb.streams(parsed.orb))
        if parsed.integrator_io:
            found.extend(integrator_io.streams(parsed.integrator_io))
        return found


def _run_probe(api: str, base_url: str, run: Callable[[], str | None]) -> str | None:
    try:
        return run()
    except AirbyteTracedException as error:
        if error.failure_type == FailureType.config_error:
            return f"{api}: {error.message}"
        return (
            f"{api}: could not get an answer from {base_url} (host unreachable, timing out or failing): "
            f"{error.message}"
        )
