"""Factories for Stripe's Connect objects: connected accounts, their persons and external accounts,
transfer reversals and application fee refunds.

Each factory starts from ``stripe_object(kind)`` (every field of today's API, empty). The first two
accounts are the connected accounts the sandbox serves through ``Stripe-Account`` (``acct_sandbox_a``,
``acct_sandbox_b``); the others exist only in the platform's account list.
"""

from __future__ import annotations

from sandbox import credentials as creds
from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext, first_page
from sandbox.stripe_objects import stripe_object

APPLICATION = {"id": "ca_sandbox", "object": "application", "name": "Sandbox Platform"}
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")


def _requirements() -> JsonObject:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }


def account(ctx: SeedContext, index: int) -> JsonObject:
    """A connected account of the platform; ``external_accounts`` is filled from its external accounts."""
    served = creds.STRIPE_CONNECTED_ACCOUNTS
    account_id = served[index] if index < len(served) else ctx.new_id("acct", 16)
    kind = KINDS[index] if index < len(KINDS) else ctx.choice(("standard", "express", "custom", "custom"))
    created = ctx.created()
    name = f"Sandbox {account_id}"
    return {
        **stripe_object("account"),
        "id": account_id,
        "business_profile": {
            "mcc": "5734",
            "name": name,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": "https://example.com",
        },
        "business_type": ctx.choice(("company", "individual")),
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": ctx.chance(0.9),
        "controller": _controller(kind),
        "country": "US",
        "created": created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": f"billing+{account_id}@example.com",
        "future_requirements": _requirements(),
        "metadata": ctx.metadata(),
        "payouts_enabled": ctx.chance(0.9),
        "requirements": _requirements(),
        "settings": {
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": None,
            },
            "dashboard": {"display_name": name, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": "SANDBOX"},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": created, "ip": "192.0.2.1", "user_agent": None},
        "type": kind,
    }


KINDS = ("custom", "custom", "standard", "express")
"""Account types of the first accounts: the two served ones are Custom (the platform controls them);
then (at scales from 4) a Standard and an Express account, whose persons and external accounts the
platform may not read."""


def _controller(kind: str) -> JsonObject:
    """``account.controller`` as Stripe reports it for each account type."""
    platform = kind == "custom"
    return {
        "fees": {"payer": "application" if platform else "account"},
        "is_controller": kind != "standard",
        "losses": {"payments": "application" if platform else "stripe"},
        "requirement_collection": "application" if platform else "stripe",
        "stripe_dashboard": {"type": {"custom": "none", "express": "express"}.get(kind, "full")},
        "type": "account" if kind == "standard" else "application",
    }


def refuse_uncontrolled(acct: JsonObject) -> tuple[int, str] | None:
    """Stripe's 403 when the platform reads persons or external accounts of an account whose
    requirements Stripe collects (Standard and Express accounts: no platform controls)."""
    if (acct.get("controller") or {}).get("requirement_collection") != "stripe":
        return None
    return 403, (
        "You cannot perform this request as you do not have Platform Controls for the Stripe Dashboard "
        f"on the account '{acct['id']}'."
    )


def fill_account(ctx: SeedContext, acct: JsonObject, external: list[JsonObject]) -> None:
    """Embed the first page of an account's external accounts."""
    acct["external_accounts"] = first_page(external, f"/v1/accounts/{acct['id']}/external_accounts")


def deauthorized(acct: JsonObject) -> JsonObject:
    """``account.application.deauthorized`` carries the platform's application, not the account."""
    return dict(APPLICATION)


def person(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A person of an account (its representative first)."""
    first, last = ctx.choice(FIRST_NAMES), ctx.choice(LAST_NAMES)
    return {
        **stripe_object("person"),
        "id": ctx.new_id("person", 24),
        "account": parent["id"],
        "address": {
            "city": "San Francisco",
            "country": "US",
            "line1": f"{ctx.rng.randint(1, 999)} Market St",
            "line2": None,
            "postal_code": "94103",
            "state": "CA",
        },
        "created": ctx.after(parent),
        "dob": {
            "day": ctx.rng.randint(1, 28),
            "month": ctx.rng.randint(1, 12),
            "year": ctx.rng.randint(1950, 2000),
        },
        "email": f"{first.lower()}.{last.lower()}@example.com",
        "first_name": first,
        "id_number_provided": True,
        "last_name": last,
        "metadata": {},
        "relationship": {
            "director": False,
            "executive": index == 0,
            "owner": ctx.chance(0.5),
            "percent_ownership": None,
            "representative": index == 0,
            "title": "CEO" if index == 0 else None,
        },
        "requirements": {
            "alternatives": [],
            "currently_due": [],
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "ssn_last_4_provided": True,
        "verification": {
            "additional_document": None,
            "details": None,
            "details_code": None,
            "document": None,
            "status": ctx.choice(("verified", "verified", "unverified", "pending")),
        },
    }


def bank_account(ctx: SeedContext, owner_field: str, owner_id: str, currency: str) -> JsonObject:
    """A US bank account held by an account (payouts) or a customer (ACH debits)."""
    return {
        **stripe_object("bank_account"),
        "id": ctx.new_id("ba", 24),
        owner_field: owner_id,
        "account_holder_name": ctx.choice(FIRST_NAMES) + " " + ctx.choice(LAST_NAMES),
        "account_holder_type": ctx.choice(("individual", "company")),
        "bank_name": "STRIPE TEST BANK",
        "country": "US",
        "currency": currency,
        "fingerprint": ctx.new_id("fp", 16)[3:],
        "last4": f"{ctx.rng.randint(0, 9999):04d}",
        "metadata": {},
        "routing_number": "110000000",
        "status": ctx.choice(("new", "verified", "verified")),
    }


def card(ctx: SeedContext, owner_field: str, owner_id: str, currency: str | None) -> JsonObject:
    """A card held by an account (debit card for payouts) or a customer (a legacy card source)."""
    return {
        **stripe_object("card"),
        "id": ctx.new_id("card", 24),
        owner_field: owner_id,
        "brand": ctx.choice(("Visa", "MasterCard", "American Express")),
        "country": "US",
        "currency": currency,
        "cvc_check": "pass",
        "exp_month": ctx.rng.randint(1, 12),
        "exp_year": ctx.rng.randint(2026, 2031),
        "fingerprint": ctx.new_id("fp", 16)[3:],
        "funding": "debit" if owner_field == "account" else ctx.choice(("credit", "debit")),
        "last4": f"{ctx.rng.randint(0, 9999):04d}",
        "metadata": {},
    }


def external_account(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A bank account or debit card an account is paid out to (the first, a bank account, is the default;
    the second is a debit card, so every account with two has both kinds)."""
    if index == 0 or (index > 1 and ctx.chance(0.75)):
        obj = bank_account(ctx, "account", str(parent["id"]), "usd")
        obj["available_payout_methods"] = ["standard"]
    else:
        obj = card(ctx, "account", str(parent["id"]), "usd")
        obj["available_payout_methods"] = ["standard", "instant"]
    obj["default_for_currency"] = index == 0
    return obj


def transfer_reversal(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A partial reversal of a transfer (small enough that all reversals stay within its amount)."""
    return {
        **stripe_object("transfer_reversal"),
        "id": ctx.new_id("trr", 24),
        "amount": ctx.rng.randint(1, max(1, int(parent["amount"]) // 15)),
        "created": ctx.after(parent),
        "currency": parent["currency"],
        "metadata": {},
        "transfer": parent["id"],
    }


def fill_transfer(ctx: SeedContext, transfer: JsonObject, reversals: list[JsonObject]) -> None:
    """A transfer's reversed amount and embedded first page of reversals."""
    _fill_returns(transfer, reversals, "/v1/transfers", "reversals", ("amount_reversed", "reversed"))


def fee_refund(ctx: SeedContext, index: int, parent: JsonObject) -> JsonObject:
    """A partial refund of an application fee."""
    return {
        **stripe_object("fee_refund"),
        "id": ctx.new_id("fr", 24),
        "amount": ctx.rng.randint(1, max(1, int(parent["amount"]) // 15)),
        "created": ctx.after(parent),
        "currency": parent["currency"],
        "fee": parent["id"],
        "metadata": {},
    }


def fee_refunds_count(ctx: SeedContext, fee: JsonObject) -> int:
    """Most fees are never refunded; a few have more refunds than the embedded first page holds."""
    if int(fee["amount"]) < 15:
        return 0
    draw = ctx.rng.random()
    if draw < 0.03:
        return ctx.rng.randint(11, 14)
    return ctx.rng.randint(1, 3) if draw < 0.15 else 0


def fill_application_fee(ctx: SeedContext, fee: JsonObject, refunds: list[JsonObject]) -> None:
    """An application fee's refunded amount and embedded first page of refunds."""
    _fill_returns(fee, refunds, "/v1/application_fees", "refunds", ("amount_refunded", "refunded"))


def _fill_returns(
    parent: JsonObject, returns: list[JsonObject], path: str, field: str, names: tuple[str, str]
) -> None:
    """The returned amount and whether all of it is returned (``names``), and the first page of the
    returns embedded as ``field`` (listed at ``{path}/{id}/{field}``)."""
    returned = sum(int(child["amount"]) for child in returns)
    parent[names[0]] = returned
    parent[names[1]] = returned >= int(parent["amount"])
    parent[field] = first_page(returns, f"{path}/{parent['id']}/{field}")
