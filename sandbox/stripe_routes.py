"""The Stripe emulator's routing table, built from the resource table: path patterns to handler kinds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.stripe_resources import STRIPE_RESOURCES, StripeResource


@dataclass(frozen=True)
class Route:
    """One routable path: a regex, its template (rate-limit key and log name) and its handler kind.

    Attributes:
        pattern: Compiled path regex with named groups (``parent``, ``id``).
        template: The path with placeholders.
        kind: Handler name (``list``, ``retrieve``, ``search``, ``events``, ``event``, ``account``,
            ``event_summaries``).
        row: The resource served, if any.
        implied: Filters the path itself implies (``/customers/{parent}/cards`` -> ``object=card``).
    """

    pattern: re.Pattern[str]
    template: str
    kind: str
    row: StripeResource | None = None
    implied: tuple[tuple[str, str], ...] = ()


SUMMARIES = "/v1/billing/meters/{parent}/event_summaries"


def compile_path(template: str) -> re.Pattern[str]:
    """A path template as a regex with a named group per placeholder."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}$")


def _routes() -> list[Route]:
    routes = [
        Route(compile_path("/v1/events"), "/v1/events", "events"),
        Route(compile_path("/v1/events/{id}"), "/v1/events/{id}", "event"),
        Route(compile_path("/v1/account"), "/v1/account", "account"),
        # An account retrieves itself by id, and the platform its connected accounts.
        Route(compile_path("/v1/accounts/{id}"), "/v1/accounts/{id}", "account"),
        # Computed from the subscription items on the meter, not stored (``stripe_metering``).
        Route(
            compile_path(SUMMARIES),
            SUMMARIES,
            "event_summaries",
            next(row for row in STRIPE_RESOURCES if row.name == "billing_meters"),
        ),
    ]
    for row in STRIPE_RESOURCES:
        if row.search_fields:
            routes.append(Route(compile_path(row.path + "/search"), row.path + "/search", "search", row))
        routes.append(Route(compile_path(row.path), row.path, "list", row))
        if row.alt_path:
            routes.append(Route(compile_path(row.alt_path), row.alt_path, "list", row))
        for path, field, value in row.subset_paths:
            routes.append(Route(compile_path(path), path, "list", row, ((field, value),)))
        if row.retrieve_path:
            routes.append(Route(compile_path(row.retrieve_path), row.retrieve_path, "retrieve", row))
    return routes


ROUTES = _routes()


def match(path: str) -> tuple[Route | None, dict[str, str]]:
    """The first route whose pattern matches the path, and its path parameters."""
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None, {}
