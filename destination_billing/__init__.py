"""destination-billing: an Airbyte data-activation destination that provisions integrator.io licenses and
maintains Orb and Stripe objects from records, sharing source-billing's configuration, HTTP client, error
handling, retries and rate budgets."""

from destination_billing.destination import DestinationBilling

__all__ = ["DestinationBilling"]
