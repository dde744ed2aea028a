"""Stripe's usage-based billing since 2024: billing meters, their event summaries, credit grants and
credit balance transactions (fields as the ``stripe`` package's typed resources have them).

Meter events are not stored: a customer's usage of a meter is a deterministic amount per hour while one
of its subscription items is on a price of that meter, and ``/v1/billing/meters/{id}/event_summaries``
adds those hours up per window.
"""

from __future__ import annotations

import hashlib

from sandbox.seed import DAY, base62_id
from sandbox.store import Collection, JsonObject
from sandbox.stripe_context import SeedContext
from sandbox.stripe_objects import stripe_object
from sandbox.stripe_query import StripeParamError, integer, limit_of

HOUR = 3600
METERS = (
    ("api_calls", "API calls", "sum"),
    ("records_synced", "Records synced", "sum"),
    ("flow_runs", "Flow runs", "count"),
)
WINDOWS = {"hour": HOUR, "day": DAY}


def meter(ctx: SeedContext, index: int) -> JsonObject:
    """A billing meter; the first ones are active (prices on meters point at them)."""
    event, display, formula = METERS[index % len(METERS)]
    if index >= len(METERS):
        event, display = f"{event}_{index}", f"{display} {index}"
    created = ctx.created()
    inactive = index >= 2 and ctx.chance(0.2)
    return {
        **stripe_object("billing.meter"),
        "id": ctx.new_id("mtr", 24),
        "created": created,
        "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
        "default_aggregation": {"formula": formula},
        "display_name": display,
        "event_name": event,
        "status": "inactive" if inactive else "active",
        "status_transitions": {"deactivated_at": ctx.after({"created": created}) if inactive else None},
        "updated": created,
        "value_settings": {"event_payload_key": "value"},
    }


def meter_of(item: JsonObject) -> str | None:
    """The meter a subscription item's price bills, or None for licensed and legacy metered prices."""
    recurring = (item.get("price") or {}).get("recurring") or {}
    meter_id = recurring.get("meter")
    return str(meter_id) if meter_id else None


def refuse_meter_items(item: JsonObject) -> tuple[int, str] | None:
    """Stripe's 400 for usage record summaries of an item on a meter (not legacy metered billing)."""
    if meter_of(item) is None:
        return None
    return 400, (
        f"Cannot list usage record summaries for `{item['id']}` because it is not on the legacy metered "
        "billing system. Call /v1/billing/meters/:id/event_summaries instead."
    )


# Event summaries ----------------------------------------------------------------------------------


def _hourly(seed: str, hour: int) -> int:
    digest = hashlib.blake2b(f"{seed}|{hour}".encode(), digest_size=4).digest()
    value = int.from_bytes(digest, "big")
    return 0 if value % 10 < 3 else value % 40


def usage_spans(
    items: Collection, subscriptions: Collection, meter_id: str, customer: str
) -> list[tuple[int, int]]:
    """The times a customer had an item on the meter: ``[item created, subscription end or now)``."""
    spans = []
    for _, item_id in items.view(("meter_items", meter_id), lambda _id, obj: meter_of(obj) == meter_id):
        item = items.get(item_id)
        sub = subscriptions.get(str(item["subscription"])) if item else None
        if item is None or sub is None or sub.get("customer") != customer:
            continue
        spans.append((int(item["created"]), int(sub.get("ended_at") or 2**40)))
    return spans


def _usage(seed: str, spans: list[tuple[int, int]], start: int, end: int, now: int) -> float:
    total = 0
    hour = start - start % HOUR
    stop = min(end, now)
    while hour < stop:
        if any(low <= hour < high for low, high in spans):
            total += _hourly(seed, hour)
        hour += HOUR
    return float(total)


def event_summaries(
    query: dict[str, list[str]],
    meter_id: str,
    spans: list[tuple[int, int]],
    tag: str,
    now: int,
) -> tuple[list[JsonObject], bool]:
    """One page of a meter's event summaries for a customer, newest window first.

    Args:
        query: The request's parameters (``customer``, ``start_time``, ``end_time`` checked by the caller
            to exist; ``value_grouping_window``, ``limit``, ``starting_after``, ``ending_before``).
        meter_id: The meter.
        spans: When the customer used the meter (``usage_spans``).
        tag: The account's id tag (summary ids stay unique per account).
        now: Sandbox time (no usage after it).

    Returns:
        The page's summaries and ``has_more``.

    Raises:
        StripeParamError: Times not aligned, an unknown window or cursor.
    """
    customer = query["customer"][0]
    start, end = integer(query, "start_time") or 0, integer(query, "end_time") or 0
    window = query.get("value_grouping_window", [None])[0]
    if window is not None and window not in WINDOWS:
        raise StripeParamError(
            f"Invalid value_grouping_window: must be one of day or hour (got {window!r}).",
            "value_grouping_window",
        )
    unit = WINDOWS.get(window or "", 60)
    for name, value in (("start_time", start), ("end_time", end)):
        if value % unit:
            boundary = {60: "minute", HOUR: "hour", DAY: "UTC day"}[unit]
            raise StripeParamError(f"{name} must be aligned with {boundary} boundaries.", name)
    if start >= end:
        raise StripeParamError("start_time must be before end_time.", "start_time")
    size = WINDOWS[window] if window else end - start
    count = -(-(end - start) // size)
    prefix = f"mtrusg_{tag}{base62_id(9, meter_id, customer)}"

    def position(cursor: str, name: str) -> int:
        # Summary ids end with their window's start, so a cursor finds its place without a stored list.
        text = cursor[len(prefix) :]
        if not cursor.startswith(prefix) or not text.isdigit() or (int(text) - start) % size:
            raise StripeParamError(
                f"No such billing.meter_event_summary: '{cursor}'", name, "resource_missing"
            )
        return count - 1 - (int(text) - start) // size

    limit = limit_of(query)
    first, last = 0, count
    after, before = query.get("starting_after", [None])[0], query.get("ending_before", [None])[0]
    if after:
        first = position(after, "starting_after") + 1
    if before:
        last = position(before, "ending_before")
        first = max(first, last - limit)
    stop = min(last, first + limit)
    seed = f"{meter_id}|{customer}"
    page = []
    for rank in range(max(first, 0), stop):
        low = start + (count - 1 - rank) * size
        high = min(low + size, end)
        page.append(
            {
                **stripe_object("billing.meter_event_summary"),
                "id": f"{prefix}{low:010d}",
                "aggregated_value": _usage(seed, spans, low, high, now),
                "end_time": high,
                "meter": meter_id,
                "start_time": low,
            }
        )
    has_more = first > 0 if before else stop < count
    return page, has_more


# Credit grants ------------------------------------------------------------------------------------


def credit_grant(ctx: SeedContext, index: int) -> JsonObject:
    """Prepaid or promotional credit of a customer, applicable to metered prices."""
    cust = ctx.pick("customers")
    created = ctx.after(cust)
    voided = ctx.chance(0.1)
    return {
        **stripe_object("billing.credit_grant"),
        "id": ctx.new_id("credgr", 24),
        "amount": {"monetary": {"currency": "usd", "value": ctx.amount(1000, 50000)}, "type": "monetary"},
        "applicability_config": {"scope": {"price_type": "metered", "prices": None}},
        "category": ctx.choice(("paid", "promotional")),
        "created": created,
        "customer": None if cust is None else cust["id"],
        "effective_at": created,
        "expires_at": created + 365 * DAY if ctx.chance(0.5) else None,
        "metadata": ctx.metadata(),
        "name": f"Credit {index}",
        "priority": 50,
        "updated": created,
        "voided_at": created + DAY if voided else None,
    }


def _plan(ctx: SeedContext, customer: JsonObject) -> list[tuple[JsonObject, str, int]]:
    """The credit balance transactions of a customer's grants: each grant's credit, then a few debits."""
    key = ("credit_plan", customer["id"])
    plan = ctx.memo.get(key)
    if plan is None:
        grants = ctx.memo.get("grants_by_customer")
        if grants is None:
            grants = {}
            for grant in ctx.generated.get("billing_credit_grants", []):
                grants.setdefault(grant["customer"], []).append(grant)
            ctx.memo["grants_by_customer"] = grants
        plan = []
        for grant in grants.get(customer["id"], []):
            value = int(grant["amount"]["monetary"]["value"])
            plan.append((grant, "credit", value))
            for _ in range(ctx.rng.randint(0, 2)):
                plan.append((grant, "debit", ctx.rng.randint(1, max(1, value // 4))))
        ctx.memo[key] = plan
    return list(plan)


def credit_transactions_count(ctx: SeedContext, customer: JsonObject) -> int:
    """How many credit balance transactions a customer's grants have."""
    return len(_plan(ctx, customer))


def credit_balance_transaction(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A credit (the grant itself) or a debit (credits applied to an invoice line) of a customer."""
    grant, kind, value = _plan(ctx, parent)[index]
    created = int(grant["created"]) if kind == "credit" else ctx.after(grant)
    amount = {"monetary": {"currency": "usd", "value": value}, "type": "monetary"}
    debit = None
    if kind == "debit":
        invoice = ctx.pick("invoices")
        lines = ((invoice or {}).get("lines") or {}).get("data") or [{"id": ctx.new_id("il")}]
        debit = {
            "amount": amount,
            "credits_applied": {"invoice": (invoice or {}).get("id"), "invoice_line_item": lines[0]["id"]},
            "type": "credits_applied",
        }
    return {
        **stripe_object("billing.credit_balance_transaction"),
        "id": ctx.new_id("credbtxn", 24),
        "created": created,
        "credit": {"amount": amount, "credits_application_invoice_voided": None, "type": "credits_granted"}
        if kind == "credit"
        else None,
        "credit_grant": grant["id"],
        "debit": debit,
        "effective_at": created,
        "type": kind,
    }
