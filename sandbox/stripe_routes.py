"""The Stripe emulator's routing table, built from the resource table: path patterns to handler kinds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox.stripe_resources import RESOURCES_BY_NAME, STRIPE_RESOURCES, StripeResource


@dataclass(frozen=True)
class Route:
    """One routable path: its template (rate-limit key and log name), its handler kind and the template's
    regex.

    Attributes:
        template: The path with placeholders.
        kind: Handler name (``list``, ``retrieve``, ``search``, ``events``, ``event``, ``account``,
            ``event_summaries``, ``write``).
        row: The resource served, if any.
        implied: Filters the path itself implies (``/customers/{parent}/cards`` -> ``object=card``).
        pattern: ``compile_path(template)``: named groups ``parent``, ``id``.
    """

    template: str
    kind: str
    row: StripeResource | None = None
    implied: tuple[tuple[str, str], ...] = ()
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", compile_path(self.template))  # derived once; the class is frozen


SUMMARIES = "/v1/billing/meters/{parent}/event_summaries"


def compile_path(template: str) -> re.Pattern[str]:
    """A path template as a regex with a named group per placeholder."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}$")


def _routes() -> list[Route]:
    routes = [
        Route("/v1/events", "events"),
        Route("/v1/events/{id}", "event"),
        Route("/v1/account", "account"),
        # An account retrieves itself by id, and the platform its connected accounts.
        Route("/v1/accounts/{id}", "account"),
        # Computed from the subscription items on the meter, not stored (``stripe_metering``).
        Route(SUMMARIES, "event_summaries", RESOURCES_BY_NAME["billing_meters"]),
    ]
    for row in STRIPE_RESOURCES:
        if row.search_fields:
            routes.append(Route(row.path + "/search", "search", row))
        routes.append(Route(row.path, "list", row))
        if row.alt_path:
            routes.append(Route(row.alt_path, "list", row))
        for path, name, value in row.subset_paths:
            routes.append(Route(path, "list", row, ((name, value),)))
        if row.retrieve_path:
            routes.append(Route(row.retrieve_path, "retrieve", row))
    return routes


ROUTES = _routes()


def match(path: str) -> tuple[Route | None, dict[str, str]]:
    """The first route whose pattern matches the path, and its path parameters."""
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None, {}
