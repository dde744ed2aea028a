"""The operations the destination offers: one row per (object, sync mode), as `discover` lists them.

A record is a flat object named after the API's fields. Each row says how the current object is found
(`lookup`), how the API object reads as such a flat record (`view`), which fields an update may change,
and the requests that create, update or retire (expire, cancel, deactivate) an object. Everything else
(reading first, comparing, the guard, dry runs, idempotency keys, rejections) is generic: `plan.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airbyte_cdk.models import DestinationSyncMode

from destination_billing.config import DestinationConfig
from destination_billing.lookups import (
    ActiveInLists,
    ById,
    ByMetadata,
    Census,
    FirstListed,
    FirstOf,
    InParentList,
    Lookup,
    SearchTotal,
    integrator_io_licenses,
    orb_licenses,
)
from destination_billing.records import (
    BOOLEAN,
    COUPON_FIELDS,
    CUSTOMER_FIELDS,
    DATE_TIME,
    INTEGER,
    LICENSE_FIELDS,
    METADATA,
    NUMBER,
    OBJECT,
    ORB_CUSTOMER_FIELDS,
    ORB_LICENSE_FIELDS,
    PRODUCT_FIELDS,
    STRING,
    BodyBuilder,
    Record,
    changed_fields,
    create_with,
    expired,
    license_expiry,
    license_view,
    orb_deactivation,
    orb_license_refusal,
    orb_license_view,
    price_create,
    price_view,
    stripe_refusal,
    stripe_view,
    subscription_items,
    subscription_refusal,
    subscription_view,
)


class Action(StrEnum):
    """What a record's plan does."""

    CREATE = "create"
    UPDATE = "update"
    EXPIRE = "expire"
    CANCEL = "cancel"
    DEACTIVATE = "deactivate"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"

    @property
    def past(self) -> str:
        """`expired`, `cancelled`, ..."""
        return {"expire": "expired", "cancel": "cancelled", "deactivate": "deactivated"}.get(
            self.value, self.value + "d"
        )


RETIRING = (Action.EXPIRE, Action.CANCEL, Action.DEACTIVATE, Action.DELETE)


@dataclass(frozen=True)
class Call:
    """One request: `path` is a template filled from the current object's view, then the record."""

    method: str
    path: str
    body: BodyBuilder | None = None


@dataclass(frozen=True)
class Operation:
    """One (object, sync mode) the destination writes.

    Attributes:
        object_name: as the source's stream of the same objects.
        sync_mode: `update` (create or update) or `soft_delete` (retire).
        api: the configuration section of its API (`stripe`, `orb`, `integrator_io`).
        matching_keys: the record fields that identify an object, each list one key (the first complete
            one is used).
        properties: the JSON schema of the flat record's fields.
        lookup: how the current object is found.
        view: the API object as a flat record (plus `_`-prefixed ids the requests need).
        updatable: the fields an update may change; a record changing another field is rejected.
        create_requires: the fields a create needs.
        create_forbids: fields that, when the record carries them, say the object must exist already
            (an id that the API assigns): such a record is rejected rather than created.
        create, update, retire, delete: the requests; `delete` replaces `retire` when `deletes` allows it.
        retire_action: what `retire` is called in the plan.
        is_retired: whether the view shows an object already expired, cancelled or inactive.
        refuse: why an existing object cannot take this record (None when it can).
        census: how many objects exist, for the guard (soft_delete rows).
        extra_key: a matching key field the configuration adds (Stripe's customer metadata key); the
            record's value is kept in the object's metadata under that key.
        reference: the API reference of the object.
    """

    object_name: str
    sync_mode: DestinationSyncMode
    api: str
    matching_keys: tuple[tuple[str, ...], ...]
    properties: Mapping[str, Any]
    lookup: Lookup
    view: Callable[[Mapping[str, Any]], dict[str, Any]]
    reference: str
    updatable: tuple[str, ...] = ()
    create_requires: tuple[str, ...] = ()
    create_forbids: tuple[str, ...] = ()
    create: Call | None = None
    update: Call | None = None
    retire: Call | None = None
    delete: Call | None = None
    deletes: Callable[[DestinationConfig], bool] = lambda config: False
    retire_action: Action = Action.EXPIRE
    is_retired: Callable[[Mapping[str, Any]], bool] = lambda view: False
    refuse: Callable[[Mapping[str, Any], Record], str | None] = lambda view, record: None
    census: Census | None = None
    extra_key: Callable[[DestinationConfig], str | None] = lambda config: None

    def keys(self, config: DestinationConfig) -> tuple[tuple[str, ...], ...]:
        extra = self.extra_key(config)
        return (*self.matching_keys, (extra,)) if extra else self.matching_keys

    def schema(self, config: DestinationConfig) -> dict[str, Any]:
        """The JSON schema of the operation's records."""
        properties = dict(self.properties)
        extra = self.extra_key(config)
        if extra and extra not in properties:
            properties[extra] = STRING
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": True,
            "properties": properties,
        }


LICENSES_LOOKUP = InParentList("connector_id", integrator_io_licenses, license_view, ("email",))
ORB_LICENSES_LOOKUP = InParentList(
    "subscription_id", orb_licenses, orb_license_view, ("license_type_id", "external_license_id")
)
LICENSE_PROPERTIES = {
    "connector_id": STRING,
    "email": STRING,
    "expires": DATE_TIME,
    "trialEndDate": DATE_TIME,
    "opts": OBJECT,
}
ORB_LICENSE_PROPERTIES = {
    "subscription_id": STRING,
    "license_type_id": STRING,
    "external_license_id": STRING,
    "start_date": {"type": ["null", "string"], "format": "date"},
    "end_date": {"type": ["null", "string"], "format": "date"},
}
SUBSCRIPTION_PROPERTIES = {"id": STRING, "price": STRING, "quantity": INTEGER}
CELIGO = "https://docs.celigo.com/hc/en-us/articles/7988304504091-Connector-and-License-API-endpoints"
UPDATE, SOFT_DELETE = DestinationSyncMode.update, DestinationSyncMode.soft_delete

OPERATIONS: tuple[Operation, ...] = (
    # integrator.io licenses of a published connector: created with the licensee's e-mail, changed by id.
    Operation(
        object_name="integrator_io_licenses",
        sync_mode=UPDATE,
        api="integrator_io",
        matching_keys=(("connector_id", "email"),),
        properties=LICENSE_PROPERTIES,
        lookup=LICENSES_LOOKUP,
        view=license_view,
        reference=CELIGO,
        updatable=("expires", "trialEndDate", "opts"),
        create_requires=("connector_id", "email"),
        create=Call("POST", "connectors/{connector_id}/licenses", create_with(LICENSE_FIELDS)),
        update=Call("PUT", "connectors/{connector_id}/licenses/{_id}", changed_fields),
    ),
    Operation(
        object_name="integrator_io_licenses",
        sync_mode=SOFT_DELETE,
        api="integrator_io",
        matching_keys=(("connector_id", "email"),),
        properties=LICENSE_PROPERTIES,
        lookup=LICENSES_LOOKUP,
        view=license_view,
        reference=CELIGO,
        retire=Call("PUT", "connectors/{connector_id}/licenses/{_id}", license_expiry),
        delete=Call("DELETE", "connectors/{connector_id}/licenses/{_id}"),
        deletes=lambda config: config.allow_license_delete,
        retire_action=Action.EXPIRE,
        is_retired=lambda view: expired(view.get("expires")),
        census=ActiveInLists(LICENSES_LOOKUP, lambda view: expired(view.get("expires"))),
    ),
    # Orb licenses: created on a subscription, then only deactivated (https://docs.withorb.com/api-reference).
    Operation(
        object_name="orb_licenses",
        sync_mode=UPDATE,
        api="orb",
        matching_keys=(("subscription_id", "license_type_id", "external_license_id"),),
        properties=ORB_LICENSE_PROPERTIES,
        lookup=ORB_LICENSES_LOOKUP,
        view=orb_license_view,
        reference="https://docs.withorb.com/api-reference/license/create-license",
        create_requires=("subscription_id", "license_type_id", "external_license_id"),
        create=Call("POST", "licenses", create_with(ORB_LICENSE_FIELDS)),
        refuse=orb_license_refusal,
    ),
    Operation(
        object_name="orb_licenses",
        sync_mode=SOFT_DELETE,
        api="orb",
        matching_keys=(("subscription_id", "license_type_id", "external_license_id"),),
        properties=ORB_LICENSE_PROPERTIES,
        lookup=ORB_LICENSES_LOOKUP,
        view=orb_license_view,
        reference="https://docs.withorb.com/api-reference/license/deactivate-license",
        retire=Call("POST", "licenses/{_id}/deactivate", orb_deactivation),
        retire_action=Action.DEACTIVATE,
        is_retired=lambda view: view["_status"] == "inactive",
        census=ActiveInLists(ORB_LICENSES_LOOKUP, lambda view: view["_status"] == "inactive"),
    ),
    Operation(
        object_name="orb_customers",
        sync_mode=UPDATE,
        api="orb",
        matching_keys=(("external_customer_id",),),
        properties={name: METADATA if name == "metadata" else STRING for name in ORB_CUSTOMER_FIELDS},
        lookup=ById("customers/external_customer_id/{external_customer_id}"),
        view=stripe_view(ORB_CUSTOMER_FIELDS),
        reference="https://docs.withorb.com/api-reference/customer/update-customer-by-external-id",
        updatable=("email", "name", "currency", "metadata"),
        create_requires=("external_customer_id", "email", "name"),
        create=Call("POST", "customers", create_with(ORB_CUSTOMER_FIELDS)),
        update=Call("PUT", "customers/external_customer_id/{external_customer_id}", changed_fields),
    ),
    # Stripe (https://docs.stripe.com/api): every POST carries an Idempotency-Key.
    Operation(
        object_name="customers",
        sync_mode=UPDATE,
        api="stripe",
        matching_keys=(("id",),),
        properties={name: METADATA if name == "metadata" else STRING for name in CUSTOMER_FIELDS},
        lookup=FirstOf((ById("customers/{id}"), ByMetadata("customers/search"))),
        view=stripe_view(CUSTOMER_FIELDS),
        reference="https://docs.stripe.com/api/customers",
        updatable=("email", "name", "description", "phone", "metadata"),
        create_forbids=("id",),
        create=Call("POST", "customers", create_with(CUSTOMER_FIELDS[1:])),
        update=Call("POST", "customers/{id}", changed_fields),
        refuse=stripe_refusal,
        extra_key=lambda config: config.stripe_customer_match_key,
    ),
    Operation(
        object_name="subscriptions",
        sync_mode=UPDATE,
        api="stripe",
        matching_keys=(("id",),),
        properties=SUBSCRIPTION_PROPERTIES,
        lookup=ById("subscriptions/{id}"),
        view=subscription_view,
        reference="https://docs.stripe.com/api/subscriptions/update",
        updatable=("price", "quantity"),
        update=Call("POST", "subscriptions/{id}", subscription_items),
        refuse=subscription_refusal,
    ),
    Operation(
        object_name="subscriptions",
        sync_mode=SOFT_DELETE,
        api="stripe",
        matching_keys=(("id",),),
        properties=SUBSCRIPTION_PROPERTIES,
        lookup=ById("subscriptions/{id}"),
        view=subscription_view,
        reference="https://docs.stripe.com/api/subscriptions/cancel",
        retire=Call("DELETE", "subscriptions/{id}"),
        retire_action=Action.CANCEL,
        is_retired=lambda view: view["status"] in ("canceled", "incomplete_expired"),
        census=SearchTotal("subscriptions/search", "-status:'canceled' AND -status:'incomplete_expired'"),
    ),
    Operation(
        object_name="products",
        sync_mode=UPDATE,
        api="stripe",
        matching_keys=(("id",),),
        properties={
            "id": STRING,
            "name": STRING,
            "description": STRING,
            "active": BOOLEAN,
            "metadata": METADATA,
        },
        lookup=ById("products/{id}"),
        view=stripe_view(PRODUCT_FIELDS),
        reference="https://docs.stripe.com/api/products",
        updatable=("name", "description", "active", "metadata"),
        create_requires=("id", "name"),
        create=Call("POST", "products", create_with(PRODUCT_FIELDS)),
        update=Call("POST", "products/{id}", changed_fields),
        refuse=stripe_refusal,
    ),
    Operation(
        object_name="prices",
        sync_mode=UPDATE,
        api="stripe",
        matching_keys=(("lookup_key",),),
        properties={
            "lookup_key": STRING,
            "product": STRING,
            "currency": STRING,
            "unit_amount": INTEGER,
            "recurring_interval": {
                "type": ["null", "string"],
                "enum": [None, "day", "week", "month", "year"],
            },
            "nickname": STRING,
            "active": BOOLEAN,
            "metadata": METADATA,
        },
        lookup=FirstListed("prices", (("lookup_keys[]", "{lookup_key}"),)),
        view=price_view,
        reference="https://docs.stripe.com/api/prices",
        updatable=("nickname", "active", "metadata"),
        create_requires=("lookup_key", "product", "currency", "unit_amount"),
        create=Call("POST", "prices", price_create),
        update=Call("POST", "prices/{_id}", changed_fields),
    ),
    Operation(
        object_name="coupons",
        sync_mode=UPDATE,
        api="stripe",
        matching_keys=(("id",),),
        properties={
            "id": STRING,
            "name": STRING,
            "percent_off": NUMBER,
            "amount_off": INTEGER,
            "currency": STRING,
            "duration": {"type": ["null", "string"], "enum": [None, "forever", "once", "repeating"]},
            "duration_in_months": INTEGER,
            "max_redemptions": INTEGER,
            "metadata": METADATA,
        },
        lookup=ById("coupons/{id}"),
        view=stripe_view(COUPON_FIELDS),
        reference="https://docs.stripe.com/api/coupons",
        updatable=("name", "metadata"),
        create_requires=("id", "duration"),
        create=Call("POST", "coupons", create_with(COUPON_FIELDS)),
        update=Call("POST", "coupons/{id}", changed_fields),
        refuse=stripe_refusal,
    ),
)


def find_operation(object_name: str, sync_mode: DestinationSyncMode) -> Operation | None:
    """The row for an object and sync mode, if the destination offers it."""
    for operation in OPERATIONS:
        if (operation.object_name, operation.sync_mode) == (object_name, sync_mode):
            return operation
    return None


def stripe_endpoints() -> set[str]:
    """The Stripe endpoint templates the operations call, each with Stripe's per-endpoint rate limit."""
    found: set[str] = set()
    for operation in OPERATIONS:
        if operation.api != "stripe":
            continue
        lookups = getattr(operation.lookup, "lookups", (operation.lookup,))
        paths = [getattr(lookup, "path", None) for lookup in lookups]
        paths += [call.path for call in (operation.create, operation.update, operation.retire) if call]
        found.update("/v1/" + path for path in paths if path)
    return found
