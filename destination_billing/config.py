"""The destination's configuration: the source's API sections, parsed by the source's own parser, plus the
settings only writing needs (dry run, the expire/cancel guard, rejected-records file, customer match key).

The spec is the source's spec for the three API sections, trimmed to the settings a write uses and with the
key descriptions saying that writing needs write permissions; the destination settings are added beside them.
"""

from __future__ import annotations

import copy
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from source_billing.config import BillingConfig

DOCUMENTATION_URL = "https://docs.airbyte.com/integrations/destinations/billing"
DEFAULT_MAX_RETIRE_SHARE = 0.1
# The source settings a write uses, per section; reading-only ones (start dates, windows, custom streams,
# Connect accounts) are left out of the destination's form.
WRITE_SETTINGS = {
    "stripe": ("client_secret", "api_version", "api_base_url", "requests_per_second"),
    "orb": ("api_key", "api_base_url"),
    "integrator_io": ("api_token", "region", "api_base_url"),
}
KEY_DESCRIPTIONS = {
    "stripe": (
        "A secret key (sk_...) or a restricted key (rk_...) with Write permission on the objects written "
        "(Customers, Subscriptions, Products, Prices, Coupons) and Read on the same, from Stripe Dashboard > "
        "Developers > API keys. A test-mode key writes to test data."
    ),
    "orb": "An API key from the Orb web app, Developers > API keys. It can write to the whole Orb account.",
    "integrator_io": (
        "A full-access API token of the account that publishes the integration apps (connectors), from "
        "integrator.io > Resources > API tokens: licenses can only be created and changed by the publisher."
    ),
}


@dataclass(frozen=True)
class DestinationConfig:
    """The whole destination configuration.

    Attributes:
        apis: the API sections, exactly as the source parses them (keys, hosts, regions, rate limits).
        dry_run: plan and report only; send nothing but GET requests.
        max_retire_share: the largest share of the existing objects one run may expire or cancel.
        allow_license_delete: a `soft_delete` of an integrator.io license deletes it instead of expiring it.
        rejected_records_path: a JSON-lines file that receives each rejected record's key and reason.
        stripe_customer_match_key: the Stripe customer metadata key that matches customers without an id.
    """

    apis: BillingConfig
    dry_run: bool = False
    max_retire_share: float = DEFAULT_MAX_RETIRE_SHARE
    allow_license_delete: bool = False
    rejected_records_path: str | None = None
    stripe_customer_match_key: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> DestinationConfig:
        """The typed config of a raw one that meets the spec (the entry point checks it first).

        Raises:
            AirbyteTracedException: a `config_error` naming the field and what to change.
        """
        share = raw.get("max_retire_share")
        return cls(
            apis=BillingConfig.parse(raw),
            dry_run=bool(raw.get("dry_run")),
            max_retire_share=DEFAULT_MAX_RETIRE_SHARE if share is None else float(share),
            allow_license_delete=bool(raw.get("allow_license_delete")),
            rejected_records_path=raw.get("rejected_records_path") or None,
            stripe_customer_match_key=raw.get("stripe_customer_match_key") or None,
        )


DESTINATION_SETTINGS: dict[str, Any] = {
    "dry_run": {
        "title": "Dry run",
        "description": (
            "Plan and report only: each record's plan (create, update with the fields that change, expire, "
            "cancel or unchanged) is logged, and nothing is written (only GET requests are sent). No state "
            "is committed, so the next real run sees the same records."
        ),
        "type": "boolean",
        "default": False,
        "always_show": True,
        "order": 3,
    },
    "max_retire_share": {
        "title": "Largest share expired or cancelled per run",
        "description": (
            "A run that would expire or cancel more than this share of the existing objects (active "
            "integrator.io licenses of the connectors written to, active Orb licenses of the subscriptions "
            "written to, Stripe subscriptions not yet cancelled) is refused before any write. 0 refuses any "
            "expiry or cancellation; 1 turns the guard off."
        ),
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": DEFAULT_MAX_RETIRE_SHARE,
        "order": 4,
    },
    "allow_license_delete": {
        "title": "Delete integrator.io licenses instead of expiring them",
        "description": (
            "A soft delete of an integrator.io license normally sets its expiry to now, which keeps its "
            "history. Turn this on to send DELETE instead."
        ),
        "type": "boolean",
        "default": False,
        "order": 5,
    },
    "rejected_records_path": {
        "title": "Rejected records file",
        "description": (
            "A JSON-lines file that receives one line per rejected record (object, matching key, reason). "
            "Rejections are logged either way."
        ),
        "type": "string",
        "examples": ["/local/rejected.jsonl"],
        "order": 6,
    },
    "stripe_customer_match_key": {
        "title": "Stripe customer match key",
        "description": (
            "A customer metadata key (such as account_id) that matches customers written without an id: "
            "the record's field of that name is looked up with Stripe Search and set on new customers."
        ),
        "type": "string",
        "pattern": "^$|^[A-Za-z_][A-Za-z0-9_]{0,39}$",
        "pattern_descriptor": "account_id: letters, digits and _ (at most 40, not starting with a digit)",
        "examples": ["account_id"],
        "order": 7,
    },
}


def connection_specification() -> dict[str, Any]:
    """The destination's configuration schema: the source's API sections, trimmed to what a write uses,
    and the destination settings."""
    source_spec = yaml.safe_load(pkgutil.get_data("source_billing", "spec.yaml") or b"")
    source_properties = source_spec["connectionSpecification"]["properties"]
    properties: dict[str, Any] = {}
    for section, settings in WRITE_SETTINGS.items():
        schema = copy.deepcopy(source_properties[section])
        schema["properties"] = {key: value for key, value in schema["properties"].items() if key in settings}
        secret = schema["required"][0]
        schema["properties"][secret]["description"] = KEY_DESCRIPTIONS[section]
        schema["description"] = f"Write to {schema['title']}. Leave empty if you do not write to it."
        properties[section] = schema
    for name, setting in DESTINATION_SETTINGS.items():
        properties[name] = {**copy.deepcopy(setting), "group": "destination"}
    groups = [
        group for group in source_spec["connectionSpecification"]["groups"] if group["id"] in WRITE_SETTINGS
    ]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Billing and licensing destination (Stripe, Orb, integrator.io)",
        "description": (
            "Configure the APIs to write to (at least one). Records are matched to existing objects, which "
            "are read first: an unchanged record sends no write. See the documentation for each operation."
        ),
        "type": "object",
        "additionalProperties": True,
        "groups": [*groups, {"id": "destination", "title": "Writing"}],
        "properties": properties,
    }
