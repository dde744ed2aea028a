"""The Stripe resource catalogue: ONE table, a row per list endpoint.

Adding an endpoint is adding a row: the seeder, the list/retrieve/search handlers, events, restricted
keys and rate limits all read their behaviour from here. Rows are in seeding order (a factory may only
point at objects of rows above it). Query filters and ``created`` support follow the 2023-08-16 spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import stripe_billing as billing
from sandbox import stripe_catalogue as catalogue
from sandbox import stripe_checkout as checkout
from sandbox import stripe_payments as payments
from sandbox.store import JsonObject
from sandbox.stripe_context import SeedContext

Factory = Callable[..., JsonObject]
FillParent = Callable[[SeedContext, JsonObject, list[JsonObject]], None]


@dataclass(frozen=True)
class StripeResource:
    """One Stripe list endpoint and the objects behind it.

    Attributes:
        name: Resource name (control API, ``--scale-for stripe.NAME``), the stream-style plural.
        path: List path; ``{parent}`` stands for the parent's id in child lists.
        object: The ``object`` value of its items.
        factory: Builds one object: ``(ctx, index)`` or, for children, ``(ctx, index, parent)``.
        created_filter: Whether the list accepts ``created`` / ``created[gt|gte|lt|lte]``.
        filters: Equality filters the list accepts (``customer``, ``status``...).
        parent: For child resources, the parent resource's name.
        parent_param: Query parameter that names the parent when the path does not (required then).
        per_parent: Children per parent when seeding.
        fill_parent: Updates the parent (totals, embedded first page) from all its children.
        embedded_field: Field of the parent that embeds the first page of this child list.
        events: Event types emitted on create, update and delete (None where Stripe has none).
        search_fields: Fields ``/search`` accepts; empty means the resource has no search endpoint.
        restricted: Whether the sandbox's restricted key lacks permission for it.
        permission: The permission Stripe would name in the 403 message.
        rate_group: ``files`` for the Files API's own 20/s limit.
        alt_path: A second list path whose ``{parent}`` is matched against ``alt_field``.
        alt_field: The field ``alt_path``'s parent id is compared with.
        hidden_statuses: Statuses a list omits unless ``status`` is given (subscriptions: canceled).
        created_field: The field holding the creation time (invoice items call it ``date``).
    """

    name: str
    path: str
    object: str
    factory: Factory
    created_filter: bool = False
    filters: tuple[str, ...] = ()
    parent: str | None = None
    parent_param: str | None = None
    per_parent: Callable[[SeedContext], int] | None = None
    fill_parent: FillParent | None = None
    embedded_field: str | None = None
    events: tuple[str | None, str | None, str | None] = (None, None, None)
    search_fields: tuple[str, ...] = ()
    restricted: bool = False
    permission: str = ""
    rate_group: str = ""
    alt_path: str | None = None
    alt_field: str | None = None
    hidden_statuses: tuple[str, ...] = ()
    created_field: str = "created"

    @property
    def is_child(self) -> bool:
        """Whether objects of this resource belong to a parent object."""
        return self.parent is not None

    @property
    def retrieve_path(self) -> str | None:
        """``GET`` path of one object (top-level resources only)."""
        return None if self.is_child else self.path + "/{id}"


def _few(low: int, high: int) -> Callable[[SeedContext], int]:
    def count(ctx: SeedContext) -> int:
        return ctx.rng.randint(low, high)

    return count


def _events(prefix: str, created: bool = True, updated: bool = True, deleted: bool = False) -> Any:
    return (
        f"{prefix}.created" if created else None,
        f"{prefix}.updated" if updated else None,
        f"{prefix}.deleted" if deleted else None,
    )


R = StripeResource

STRIPE_RESOURCES: tuple[StripeResource, ...] = (
    R(
        "products",
        "/v1/products",
        "product",
        catalogue.product,
        True,
        ("active", "ids", "shippable", "url"),
        events=_events("product", deleted=True),
        search_fields=("active", "description", "metadata", "name", "shippable", "url", "created"),
    ),
    R(
        "prices",
        "/v1/prices",
        "price",
        catalogue.price,
        True,
        ("active", "currency", "product", "type"),
        events=_events("price", deleted=True),
        search_fields=("active", "currency", "lookup_key", "metadata", "product", "type", "created"),
    ),
    R(
        "plans",
        "/v1/plans",
        "plan",
        catalogue.plan,
        True,
        ("active", "product"),
        events=_events("plan", deleted=True),
    ),
    R("coupons", "/v1/coupons", "coupon", catalogue.coupon, True, events=_events("coupon", deleted=True)),
    R(
        "tax_rates",
        "/v1/tax_rates",
        "tax_rate",
        catalogue.tax_rate,
        True,
        ("active", "inclusive"),
        events=_events("tax_rate"),
    ),
    R(
        "shipping_rates",
        "/v1/shipping_rates",
        "shipping_rate",
        catalogue.shipping_rate,
        True,
        ("active", "currency"),
    ),
    R(
        "customers",
        "/v1/customers",
        "customer",
        billing.customer,
        True,
        ("email",),
        events=_events("customer", deleted=True),
        search_fields=("created", "email", "metadata", "name", "phone"),
    ),
    R(
        "payment_methods",
        "/v1/payment_methods",
        "payment_method",
        payments.payment_method,
        False,
        ("customer", "type"),
        events=("payment_method.attached", "payment_method.updated", "payment_method.detached"),
        alt_path="/v1/customers/{parent}/payment_methods",
        alt_field="customer",
    ),
    R(
        "promotion_codes",
        "/v1/promotion_codes",
        "promotion_code",
        catalogue.promotion_code,
        True,
        ("active", "code", "coupon", "customer"),
        events=_events("promotion_code"),
    ),
    R(
        "subscriptions",
        "/v1/subscriptions",
        "subscription",
        billing.subscription,
        True,
        ("customer", "price", "status", "collection_method"),
        events=_events("customer.subscription", deleted=True),
        search_fields=("created", "metadata", "status"),
        hidden_statuses=("canceled",),
    ),
    R(
        "subscription_items",
        "/v1/subscription_items",
        "subscription_item",
        billing.subscription_item,
        parent="subscriptions",
        parent_param="subscription",
        per_parent=_few(1, 3),
        fill_parent=billing.fill_subscription,
        embedded_field="items",
    ),
    R(
        "invoices",
        "/v1/invoices",
        "invoice",
        billing.invoice,
        True,
        ("customer", "status", "subscription", "collection_method", "due_date"),
        events=_events("invoice", deleted=True),
        search_fields=(
            "created",
            "currency",
            "customer",
            "metadata",
            "number",
            "status",
            "subscription",
            "total",
        ),
    ),
    R(
        "invoice_line_items",
        "/v1/invoices/{parent}/lines",
        "line_item",
        billing.invoice_line,
        parent="invoices",
        per_parent=billing.invoice_lines_count,
        fill_parent=billing.fill_invoice,
        embedded_field="lines",
    ),
    R(
        "invoiceitems",
        "/v1/invoiceitems",
        "invoiceitem",
        billing.invoiceitem,
        True,
        ("customer", "invoice", "pending"),
        events=("invoiceitem.created", None, "invoiceitem.deleted"),
        created_field="date",
    ),
    R(
        "credit_notes",
        "/v1/credit_notes",
        "credit_note",
        billing.credit_note,
        False,
        ("customer", "invoice"),
        events=_events("credit_note"),
    ),
    R(
        "credit_note_line_items",
        "/v1/credit_notes/{parent}/lines",
        "credit_note_line_item",
        billing.credit_note_line,
        parent="credit_notes",
        per_parent=_few(1, 3),
        fill_parent=billing.fill_credit_note,
        embedded_field="lines",
    ),
    R(
        "payment_intents",
        "/v1/payment_intents",
        "payment_intent",
        payments.payment_intent,
        True,
        ("customer",),
        events=("payment_intent.created", None, None),
        search_fields=("amount", "created", "currency", "customer", "metadata", "status"),
    ),
    R(
        "charges",
        "/v1/charges",
        "charge",
        payments.charge,
        True,
        ("customer", "payment_intent", "transfer_group"),
        events=("charge.succeeded", "charge.updated", None),
        restricted=True,
        permission="rak_charge_read",
        search_fields=(
            "amount",
            "created",
            "currency",
            "customer",
            "disputed",
            "metadata",
            "payment_intent",
            "refunded",
            "status",
            "billing_details.email",
            "payment_method_details.card.last4",
        ),
    ),
    R(
        "refunds",
        "/v1/refunds",
        "refund",
        payments.refund,
        True,
        ("charge", "payment_intent"),
        events=_events("refund"),
    ),
    R(
        "disputes",
        "/v1/disputes",
        "dispute",
        payments.dispute,
        True,
        ("charge", "payment_intent"),
        events=_events("charge.dispute"),
    ),
    R(
        "payouts",
        "/v1/payouts",
        "payout",
        payments.payout,
        True,
        ("status", "destination"),
        events=_events("payout"),
    ),
    R(
        "balance_transactions",
        "/v1/balance_transactions",
        "balance_transaction",
        payments.balance_transaction,
        True,
        ("currency", "payout", "source", "type"),
        restricted=True,
        permission="rak_balance_transaction_source_read",
    ),
    R(
        "transfers",
        "/v1/transfers",
        "transfer",
        payments.transfer,
        True,
        ("destination", "transfer_group"),
        events=_events("transfer"),
    ),
    R(
        "application_fees",
        "/v1/application_fees",
        "application_fee",
        payments.application_fee,
        True,
        ("charge",),
        events=("application_fee.created", None, None),
    ),
    R(
        "setup_intents",
        "/v1/setup_intents",
        "setup_intent",
        payments.setup_intent,
        True,
        ("customer", "payment_method", "attach_to_self"),
        events=("setup_intent.created", None, None),
    ),
    R(
        "files",
        "/v1/files",
        "file",
        checkout.file,
        True,
        ("purpose",),
        events=("file.created", None, None),
        rate_group="files",
    ),
    R("file_links", "/v1/file_links", "file_link", checkout.file_link, True, ("expired", "file")),
    R(
        "checkout_sessions",
        "/v1/checkout/sessions",
        "checkout.session",
        checkout.checkout_session,
        False,
        ("customer", "payment_intent", "payment_link", "subscription"),
        events=("checkout.session.completed", None, None),
    ),
    R(
        "checkout_session_line_items",
        "/v1/checkout/sessions/{parent}/line_items",
        "item",
        checkout.checkout_line_item,
        parent="checkout_sessions",
        per_parent=_few(1, 4),
        fill_parent=checkout.fill_checkout_session,
    ),
    R(
        "subscription_schedules",
        "/v1/subscription_schedules",
        "subscription_schedule",
        billing.subscription_schedule,
        True,
        ("customer", "scheduled"),
        events=_events("subscription_schedule"),
    ),
    R(
        "topups",
        "/v1/topups",
        "topup",
        checkout.topup,
        True,
        ("amount", "status"),
        events=("topup.created", None, None),
    ),
    R(
        "quotes",
        "/v1/quotes",
        "quote",
        billing.quote,
        False,
        ("customer", "status", "test_clock"),
        events=("quote.created", None, None),
    ),
)

RESOURCES_BY_NAME: dict[str, StripeResource] = {row.name: row for row in STRIPE_RESOURCES}
