"""How each API pages a list: small objects that the connector's one page loop (`ApiStream.read_pages`) asks
for the records of each answer and for the request of the next page.

- Stripe lists: `data`, then `starting_after` the last object's id while `has_more`.
- Stripe Search: `data`, then `page` the answer's `next_page` while `has_more`.
- Orb: `data`, then `cursor` the answer's `pagination_metadata.next_cursor` while `has_more`.
- integrator.io: a JSON array (204: an empty list), then the URL the `Link` header names `next`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_billing.http.errors import response_json

Records = list[MutableMapping[str, Any]]


@dataclass(frozen=True)
class Request:
    """One GET of a list: the URL and its query parameters."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)

    def narrowed(self, **params: Any) -> Request:
        """The same request with some parameters set anew."""
        return replace(self, params={**self.params, **params})


class Paginator(ABC):
    """One API's way of paging a list."""

    @abstractmethod
    def records(self, response: requests.Response) -> Records:
        """The objects of one successful answer."""

    @abstractmethod
    def following(self, request: Request, response: requests.Response, records: Records) -> Request | None:
        """The request of the page after the one `request` asked for; None after the last page."""


class DataList(Paginator, ABC):
    """A list whose answers hold their objects in `data` (Stripe's and Orb's)."""

    def records(self, response: requests.Response) -> Records:
        records: Records = response_json(response)["data"]
        return records


class StartingAfter(DataList):
    """Stripe's lists."""

    def following(self, request: Request, response: requests.Response, records: Records) -> Request | None:
        if not response_json(response).get("has_more") or not records:
            return None
        return request.narrowed(starting_after=records[-1]["id"])


class NextPage(DataList):
    """Stripe Search (`/v1/{object}/search`)."""

    def following(self, request: Request, response: requests.Response, records: Records) -> Request | None:
        body = response_json(response)
        if not body.get("has_more") or not body.get("next_page"):
            return None
        return request.narrowed(page=body["next_page"])


class OrbCursor(DataList):
    """Orb's lists."""

    def following(self, request: Request, response: requests.Response, records: Records) -> Request | None:
        pagination = response_json(response).get("pagination_metadata") or {}
        if not pagination.get("has_more") or not pagination.get("next_cursor"):
            return None
        return request.narrowed(cursor=pagination["next_cursor"])


@dataclass(frozen=True)
class LinkHeader(Paginator):
    """integrator.io's lists. A next-page link to another host is refused: following it would send the
    token there, and stopping silently would lose data.

    Attributes:
        name: The stream, for the errors.
        same_origin: Whether a URL is on the configured API's host.
    """

    name: str
    same_origin: Callable[[str], bool]

    def records(self, response: requests.Response) -> Records:
        if response.status_code == 204:
            return []  # integrator.io's empty list
        records = response_json(response)
        if not isinstance(records, list):
            raise AirbyteTracedException(
                message=f"integrator.io answered {self.name} with something other than a JSON list.",
                failure_type=FailureType.system_error,
            )
        return records

    def following(self, request: Request, response: requests.Response, records: Records) -> Request | None:
        # requests parses the RFC 8288 header (`requests.utils.parse_header_links`).
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return None
        if not self.same_origin(next_url):
            raise AirbyteTracedException(
                message=(
                    f"integrator.io linked the next page of {self.name} to another host; the connector "
                    "does not send the token there."
                ),
                internal_message=f"Refused next-page link to {urlsplit(next_url).netloc}",
                failure_type=FailureType.system_error,
            )
        return Request(next_url)  # the link carries every parameter it needs
