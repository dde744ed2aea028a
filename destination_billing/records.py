"""How each API's objects read as the flat records the destination takes, and how a record becomes a request
body: the field schemas, the `view` of an API object, and the body builders the operations table names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pendulum

Record = Mapping[str, Any]
View = Mapping[str, Any] | None
Changes = tuple[str, ...]
# What a body builder gets: the record, the current object's view (None when creating), the changed fields.
BodyBuilder = Callable[[Record, View, Changes], dict[str, Any] | None]


# --- field schemas ----------------------------------------------------------------------------------------

STRING = {"type": ["null", "string"]}
INTEGER = {"type": ["null", "integer"]}
NUMBER = {"type": ["null", "number"]}
BOOLEAN = {"type": ["null", "boolean"]}
DATE_TIME = {"type": ["null", "string"], "format": "date-time"}
OBJECT = {"type": ["null", "object"]}
METADATA = {"type": ["null", "object"], "additionalProperties": {"type": ["null", "string"]}}


# --- views and bodies -------------------------------------------------------------------------------------


def now_iso() -> str:
    """Now, as the APIs write instants (ISO 8601 in UTC, milliseconds)."""
    return pendulum.now("UTC").format("YYYY-MM-DDTHH:mm:ss.SSS[Z]")


def expired(value: Any) -> bool:
    """Whether an expiry instant has passed (None: never expires)."""
    if not value:
        return False
    moment = pendulum.parse(str(value))
    return isinstance(moment, pendulum.DateTime) and moment <= pendulum.now("UTC")


def given(record: Record, names: tuple[str, ...], *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record's fields among `names` that it carries (null included: it clears the field)."""
    return {name: record[name] for name in names if name in record and name not in leave_out}


def changed_fields(record: Record, view: View, changed: Changes) -> dict[str, Any]:
    """The changed fields' new values; of metadata, only the keys that changed."""
    body: dict[str, Any] = {}
    for name in changed:
        value = record[name]
        if name == "metadata" and isinstance(value, Mapping):
            old = (view or {}).get("metadata") or {}
            value = {key: item for key, item in value.items() if old.get(key) != item}
        body[name] = value
    return body


def license_view(listed: Mapping[str, Any]) -> dict[str, Any]:
    user = listed.get("user") or {}
    return {
        "_id": listed.get("_id"),
        "connector_id": listed.get("_connectorId"),
        "email": user.get("email") or listed.get("email"),
        "expires": listed.get("expires"),
        "trialEndDate": listed.get("trialEndDate"),
        "opts": listed.get("opts"),
    }


LICENSE_FIELDS = ("email", "expires", "trialEndDate", "opts")


def license_expiry(record: Record, view: View, changed: Changes) -> dict[str, Any]:
    return {"expires": now_iso()}


def subscription_view(found: Mapping[str, Any]) -> dict[str, Any]:
    items = ((found.get("items") or {}).get("data")) or []
    item = items[0] if len(items) == 1 else {}
    return {
        "id": found.get("id"),
        "status": found.get("status"),
        "price": (item.get("price") or {}).get("id"),
        "quantity": item.get("quantity"),
        "_item_id": item.get("id"),
        "_items": len(items),
    }


def subscription_refusal(view: Mapping[str, Any], record: Record) -> str | None:
    if view["status"] in ("canceled", "incomplete_expired"):
        return f"the subscription is {view['status']}: Stripe cannot change it any more"
    if view["_items"] != 1 and ("price" in record or "quantity" in record):
        return f"the subscription has {view['_items']} items: only single-item subscriptions are updated"
    return None


def subscription_items(record: Record, view: View, changed: Changes) -> dict[str, Any]:
    item = {"id": (view or {}).get("_item_id"), **{name: record[name] for name in changed}}
    return {"items": [item]}


def stripe_view(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def view(found: Mapping[str, Any]) -> dict[str, Any]:
        shown = {name: found.get(name) for name in names}
        shown["_deleted"] = bool(found.get("deleted"))
        return shown

    return view


def stripe_refusal(view: Mapping[str, Any], record: Record) -> str | None:
    return "the object was deleted in Stripe" if view.get("_deleted") else None


CUSTOMER_FIELDS = ("id", "email", "name", "description", "phone", "metadata")


def create_with(names: tuple[str, ...]) -> BodyBuilder:
    def body(record: Record, view: View, changed: Changes) -> dict[str, Any]:
        return given(record, names)

    return body


PRODUCT_FIELDS = ("id", "name", "description", "active", "metadata")
PRICE_FIELDS = (
    "lookup_key",
    "product",
    "currency",
    "unit_amount",
    "recurring_interval",
    "nickname",
    "active",
    "metadata",
)
COUPON_FIELDS = (
    "id",
    "name",
    "percent_off",
    "amount_off",
    "currency",
    "duration",
    "duration_in_months",
    "max_redemptions",
    "metadata",
)


def price_view(found: Mapping[str, Any]) -> dict[str, Any]:
    shown = {name: found.get(name) for name in PRICE_FIELDS if name != "recurring_interval"}
    shown["recurring_interval"] = (found.get("recurring") or {}).get("interval")
    shown["_id"] = found.get("id")
    return shown


def price_create(record: Record, view: View, changed: Changes) -> dict[str, Any]:
    body = given(record, PRICE_FIELDS, leave_out=("recurring_interval",))
    if record.get("recurring_interval"):
        body["recurring"] = {"interval": record["recurring_interval"]}
    return body


ORB_CUSTOMER_FIELDS = ("external_customer_id", "email", "name", "currency", "metadata")
ORB_LICENSE_FIELDS = ("subscription_id", "license_type_id", "external_license_id", "start_date", "end_date")


def orb_license_view(listed: Mapping[str, Any]) -> dict[str, Any]:
    shown = {name: listed.get(name) for name in ORB_LICENSE_FIELDS}
    shown["_id"] = listed.get("id")
    shown["_status"] = listed.get("status")
    return shown


def orb_license_refusal(view: Mapping[str, Any], record: Record) -> str | None:
    if view["_status"] == "inactive":
        return "the license is inactive: Orb cannot reactivate a license; give it a new external_license_id"
    return None


def orb_deactivation(record: Record, view: View, changed: Changes) -> dict[str, Any]:
    return given(record, ("end_date",))
