"""The Connect and Issuing rows of the Stripe resource table (``stripe_resources`` appends them last).

Connect: transfer reversals and application fee refunds (embedded in their parents), the platform's
connected accounts, and the persons and external accounts of each account (the platform's own under its
id); the events of an account's objects happen on that account. Issuing: cardholders, cards,
authorizations, transactions.
"""

from __future__ import annotations

from sandbox import stripe_connect as connect
from sandbox import stripe_issuing as issuing
from sandbox.stripe_row import StripeResource, events, few, some

R = StripeResource

CONNECT_AND_ISSUING: tuple[StripeResource, ...] = (
    R(
        "transfer_reversals",
        "/v1/transfers/{parent}/reversals",
        "transfer_reversal",
        connect.transfer_reversal,
        parent="transfers",
        per_parent=some(0.12, 1, 3, many=(0.03, 11, 14)),
        fill_parent=connect.fill_transfer,
        newest_first=True,
        retrievable=True,
        parent_events=("transfer.reversed", "transfer.updated", "transfer.updated"),
    ),
    R(
        "application_fee_refunds",
        "/v1/application_fees/{parent}/refunds",
        "fee_refund",
        connect.fee_refund,
        parent="application_fees",
        per_parent=connect.fee_refunds_count,
        fill_parent=connect.fill_application_fee,
        newest_first=True,
        retrievable=True,
        events=(None, "application_fee.refund.updated", None),
        parent_events=("application_fee.refunded", None, None),
    ),
    R(
        "issuing_cardholders",
        "/v1/issuing/cardholders",
        "issuing.cardholder",
        issuing.cardholder,
        True,
        ("email", "phone_number", "status", "type"),
        events=events("issuing_cardholder"),
    ),
    R(
        "issuing_cards",
        "/v1/issuing/cards",
        "issuing.card",
        issuing.card,
        True,
        ("cardholder", "exp_month", "exp_year", "last4", "status", "type"),
        events=events("issuing_card"),
    ),
    R(
        "issuing_authorizations",
        "/v1/issuing/authorizations",
        "issuing.authorization",
        issuing.authorization,
        True,
        ("card", "cardholder", "status"),
        events=events("issuing_authorization"),
    ),
    R(
        "issuing_transactions",
        "/v1/issuing/transactions",
        "issuing.transaction",
        issuing.transaction,
        True,
        ("card", "cardholder", "type"),
        events=events("issuing_transaction"),
    ),
    # Connect: the platform's connected accounts, and the persons and external accounts of each account
    # (the platform's own under its id). Their events happen on the account they belong to.
    R(
        "accounts",
        "/v1/accounts",
        "account",
        connect.account,
        True,
        events=(None, "account.updated", "account.application.deauthorized"),
        event_owner="object",
        deleted_payload=connect.deauthorized,
        platform_owned=True,
        minimum=2,
    ),
    R(
        "external_accounts",
        "/v1/accounts/{parent}/external_accounts",
        "bank_account",
        connect.external_account,
        filters=("object",),
        parent="accounts",
        per_parent=few(1, 2),
        fill_parent=connect.fill_account,
        retrievable=True,
        refuse=connect.refuse_uncontrolled,
        events=events("account.external_account", deleted=True),
        event_owner="parent",
        platform_owned=True,
    ),
    R(
        "persons",
        "/v1/accounts/{parent}/persons",
        "person",
        connect.person,
        parent="accounts",
        per_parent=few(1, 3),
        newest_first=True,
        retrievable=True,
        refuse=connect.refuse_uncontrolled,
        events=events("person", deleted=True),
        event_owner="parent",
        platform_owned=True,
    ),
)
