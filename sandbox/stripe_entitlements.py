"""Stripe Entitlements: the features a vendor sells and each customer's active entitlements to them
(fields as the ``stripe`` package's typed resources have them; neither object has a ``created`` time).

A customer with an active or trialing subscription is entitled to one to three features; a change of
a customer's entitlements emits ``entitlements.active_entitlement_summary.updated`` with the whole list.
"""

from __future__ import annotations

from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext, list_object
from sandbox.stripe_objects import stripe_object

FEATURES = ("SSO", "Audit log", "Sandbox environment", "Premium support", "Extra flows", "API access")


def feature(ctx: SeedContext, index: int) -> JsonObject:
    """A feature of the catalogue; a few are archived (``active`` false)."""
    name = FEATURES[index % len(FEATURES)] + ("" if index < len(FEATURES) else f" {index}")
    return {
        **stripe_object("entitlements.feature"),
        "id": ctx.new_id("feat", 24),
        "active": index < 2 or not ctx.chance(0.15),
        "lookup_key": name.lower().replace(" ", "-"),
        "name": name,
    }


def entitlements_count(ctx: SeedContext, customer: JsonObject) -> int:
    """One to three entitlements for customers with an active or trialing subscription, else none."""
    entitled = ctx.memo.get("entitled_customers")
    if entitled is None:
        entitled = {
            sub["customer"]
            for sub in ctx.generated.get("subscriptions", [])
            if sub["status"] in ("active", "trialing")
        }
        ctx.memo["entitled_customers"] = entitled
    features = len(ctx.generated.get("entitlements_features", []))
    return min(features, ctx.rng.randint(1, 3)) if customer["id"] in entitled else 0


def active_entitlement(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """The customer's index-th entitlement (distinct features per customer; a control create picks one)."""
    features = ctx.generated.get("entitlements_features") or [feature(ctx, 0)]
    offset = ctx.memo.setdefault(("feature_offset", parent["id"]), ctx.rng.randrange(len(features)))
    feat = features[(offset + index) % len(features)]
    return {
        **stripe_object("entitlements.active_entitlement"),
        "id": ctx.new_id("ent", 24),
        "feature": feat["id"],
        "lookup_key": feat["lookup_key"],
    }


def summary(customer_id: str, entitlements: list[JsonObject]) -> JsonObject:
    """``entitlements.active_entitlement_summary``: a customer's entitlements after a change."""
    url = f"/v1/customer/{customer_id}/entitlements"
    return {
        **stripe_object("entitlements.active_entitlement_summary"),
        "customer": customer_id,
        "entitlements": list_object(entitlements[:10], url, len(entitlements) > 10),
    }
