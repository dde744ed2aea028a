"""source-billing: an Airbyte source for Stripe, Orb and Celigo integrator.io billing and licensing data."""

from source_billing.runtime.source import SourceBilling

__all__ = ["SourceBilling"]
