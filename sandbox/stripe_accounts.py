"""The Stripe accounts the sandbox serves (the platform and its connected accounts) and the control API's
reads and changes of their objects."""

from __future__ import annotations

import threading
from typing import Any

from sandbox import credentials as creds
from sandbox.clock import Clock
from sandbox.seed import Scales
from sandbox.store import JsonObject
from sandbox.stripe_data import StripeAccountData
from sandbox.stripe_resources import RESOURCES_BY_NAME, StripeResource
from sandbox.stripe_versions import LEGACY, VersionHistory, histories

LINK_VIEWS: dict[str, StripeResource] = {
    row.link_view: row for row in RESOURCES_BY_NAME.values() if row.link_view
}
"""Control API names of linked-object lists (``payout_balance_transactions``) and the row they list."""


class StripeAccounts:
    """The data of every account, generated on first use, and the control API's view of it.

    Args:
        seed: Run seed.
        scales: Object counts.
        clock: Sandbox clock.
    """

    def __init__(self, seed: int, scales: Scales, clock: Clock) -> None:
        self._seed = seed
        self._scales = scales
        self._clock = clock
        self._accounts: dict[str, StripeAccountData] = {}
        # Connected accounts are generated on first use, but as of the start time, so their data does not
        # depend on when a client first asks (or on clock changes before that).
        self._start = clock.now_int()
        self._histories = histories(self._start)
        self._lock = threading.Lock()
        self.account(creds.STRIPE_PLATFORM_ACCOUNT)

    @property
    def platform(self) -> StripeAccountData:
        """The platform account's data (it holds the Connect accounts and their persons and bank accounts)."""
        return self.account(creds.STRIPE_PLATFORM_ACCOUNT)

    def is_known(self, account_id: str) -> bool:
        """Whether requests may act on an account: the platform or one of its connected accounts."""
        if account_id == creds.STRIPE_PLATFORM_ACCOUNT:
            return True
        return self.platform.collections["accounts"].get(account_id) is not None

    def account(self, account_id: str) -> StripeAccountData:
        """The data of one account, generated on first use (connected accounts cost nothing until used).

        The connected accounts of ``creds.STRIPE_CONNECTED_ACCOUNTS`` get data at the run's scales; any
        other account of the platform's list starts empty.

        Raises:
            KeyError: Not the platform or one of its connected accounts.
        """
        data = self._accounts.get(account_id)
        if data is None:
            with self._lock:
                data = self._accounts.get(account_id)
                if data is None:
                    data = self._generate_account(account_id)
                    self._accounts[account_id] = data
        return data

    def _generate_account(self, account_id: str) -> StripeAccountData:
        if account_id in creds.STRIPE_ACCOUNTS:
            slot, scales = creds.STRIPE_ACCOUNTS.index(account_id), self._scales
        elif self.is_known(account_id):
            slot, scales = len(creds.STRIPE_ACCOUNTS), Scales(0)
        else:
            raise KeyError(f"unknown Stripe account {account_id!r}; use one of {list(creds.STRIPE_ACCOUNTS)}")
        # Only the platform's changes reach other accounts' events (Connect objects live in the platform).
        resolve = self.account if account_id == creds.STRIPE_PLATFORM_ACCOUNT else None
        history = self._histories.get(account_id, VersionHistory(LEGACY))
        return StripeAccountData(self._seed, account_id, slot, self._start, scales, resolve, history)

    def _data_for(
        self, resource: str, account: str | None
    ) -> tuple[StripeAccountData, StripeResource | None]:
        """The data a control call acts on: the account's, or the platform's for platform-owned resources."""
        row = RESOURCES_BY_NAME.get(resource)
        if row is not None and row.platform_owned:
            return self.platform, row
        return self.account(account or creds.STRIPE_PLATFORM_ACCOUNT), row

    def control_objects(self, resource: str, account: str | None) -> list[JsonObject]:
        """All current objects of a resource (``events`` included, retention ignored).

        Children carry ``_parent`` (their parent's id) and come from all parents; ``link_view`` names
        (``payout_balance_transactions``) list the linked objects with ``_parent`` naming the link.
        Persons and external accounts: all of them without ``account``, else that account's only.
        """
        link_row = LINK_VIEWS.get(resource)
        data, row = self._data_for(link_row.name if link_row else resource, account)
        if resource == "events":
            return list(data.events.objects())
        if resource not in data.collections and link_row is None:
            raise KeyError(f"unknown Stripe resource {resource!r}")
        collection = data.collections[link_row.name if link_row else resource]
        if row is None or (row.parent is None and link_row is None):
            return list(collection.objects())
        tagged = []
        for obj in collection.objects():
            parent = collection.parent_of(str(obj["id"]))
            if parent is not None and (account is None or not row.platform_owned or parent == account):
                tagged.append({**obj, "_parent": parent})
        return tagged

    def control_create(self, resource: str, fields: dict[str, Any], account: str | None) -> JsonObject:
        """Create an object (emits its created event); a platform-owned child defaults to ``account``."""
        data, row = self._data_for(resource, account)
        if row is not None and row.platform_owned and row.parent and account and "_parent" not in fields:
            fields = {**fields, "_parent": account}
        return data.create(resource, fields, self._clock.now_int())

    def control_update(
        self, resource: str, object_id: str, fields: dict[str, Any], account: str | None
    ) -> JsonObject:
        """Update an object (emits its updated event with ``previous_attributes``)."""
        return self._data_for(resource, account)[0].update(resource, object_id, fields, self._clock.now_int())

    def control_delete(self, resource: str, object_id: str, account: str | None) -> JsonObject:
        """Delete an object (emits its deleted event)."""
        return self._data_for(resource, account)[0].delete(resource, object_id, self._clock.now_int())
