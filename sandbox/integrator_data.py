"""integrator.io seed data: connectors with their licenses and install base, integrations, flows, jobs.

The e-mails of licenses overlap Stripe's and Orb's customers, and the mismatch cases a join must find
always exist: license 0 is active with an e-mail no customer has, license 1 expires within 30 days,
license 2 is installed but expired, and licenses never use the first Stripe customer's e-mail (whose
subscription is active).

integrator.io users (who a license can be created for): every address of the shared pool
(``user{n}@example.com``: every Stripe and Orb customer has signed up) and every licensee; any other
address is unknown, and a license for it is refused with ``invalid_user``.
"""

from __future__ import annotations

import random
import re
from typing import Any

from sandbox.clock import iso_z, parse_iso
from sandbox.seed import DAY, YEAR, EmailPool, Scales, between, hex_id, rng_for, spread_created
from sandbox.store import Collection, JsonObject

APPS = ("NetSuite", "Shopify", "Salesforce", "Amazon", "Zendesk", "HubSpot", "Jira", "Square")
EDITIONS = ("starter", "standard", "premium", "enterprise")
CHILDREN = {"licenses": "connectors", "install_base": "connectors"}
POOL_USER = re.compile(r"^user\d+@example\.com$")


def newest_first(epoch: float) -> int:
    """The sort key that lists objects newest first, to the millisecond (the precision of the API's times)."""
    return -round(epoch * 1000)


def millis(epoch: float) -> str:
    """integrator.io's timestamp format: ISO 8601 with milliseconds and ``Z``."""
    return iso_z(epoch, millis=True)


class IntegratorData:
    """All integrator.io objects.

    Args:
        seed: Run seed.
        now: Sandbox time at generation.
        scales: Object counts; connectors default to ``max(2, scale // 20)``; licenses are a total over
            all connectors; integrations are that many standalone ones plus one per installed license.
        pool: Where license e-mails come from.
    """

    RESOURCES = ("connectors", "licenses", "install_base", "integrations", "flows", "jobs")

    def __init__(self, seed: int, now: int, scales: Scales, pool: EmailPool) -> None:
        self.seed = seed
        self.now = now
        self.pool = pool
        self.collections = {name: Collection(name, id_field="_id") for name in self.RESOURCES}
        self.user_id = hex_id(seed, "integrator", "user")
        self._counter = 0
        # An ISV publishes a handful of connectors, not hundreds: default to a twentieth of the scale.
        connector_count = max(1, scales.get("integrator", "connectors", max(2, scales.default // 20)))
        rng = rng_for(seed, "integrator", "connectors")
        connectors = [self._connector(rng, index) for index in range(connector_count)]
        rng = rng_for(seed, "integrator", "licenses")
        # The last connector gets no licenses, so its license list answers 204.
        licensed = connectors[:-1] if len(connectors) > 1 else connectors
        licenses = [
            (self._license(rng, index, connector), connector["_id"])
            for index in range(scales.get("integrator", "licenses"))
            for connector in [licensed[index % len(licensed)]]
        ]
        rng = rng_for(seed, "integrator", "integrations")
        installs = [
            (self._install(rng, lic, parent), parent) for lic, parent in licenses if "_integrationId" in lic
        ]
        integrations = [
            self._integration(rng, index, None, None)
            for index in range(scales.get("integrator", "integrations"))
        ]
        integrations += [
            self._integration(rng, index, item["_integrationId"], parent)
            for index, (item, parent) in enumerate(installs)
        ]
        rng = rng_for(seed, "integrator", "flows")
        flows = (
            [
                self._flow(rng, index, rng.choice(integrations))
                for index in range(scales.get("integrator", "flows"))
            ]
            if integrations
            else []
        )
        rng = rng_for(seed, "integrator", "jobs")
        jobs = (
            [self._job(rng, rng.choice(flows)) for _ in range(scales.get("integrator", "jobs"))]
            if flows
            else []
        )
        self._store("connectors", [(obj, None) for obj in connectors], "createdAt")
        self._store("licenses", licenses, "created")
        self._store("install_base", installs, None)
        self._store("integrations", [(obj, None) for obj in integrations], "createdAt")
        self._store("flows", [(obj, None) for obj in flows], "createdAt")
        self._store("jobs", [(obj, None) for obj in jobs], "createdAt")

    def _store(self, name: str, items: list[tuple[JsonObject, str | None]], time_field: str | None) -> None:
        def primary(obj: JsonObject) -> int:
            if time_field is None:
                self._counter += 1
                return self._counter
            return newest_first(float(obj.pop("_epoch")))

        self.collections[name].load((primary(obj), obj, parent) for obj, parent in items)

    def new_id(self, kind: str) -> str:
        """A deterministic 24-hex id."""
        self._counter += 1
        return hex_id(self.seed, "integrator", kind, self._counter)

    def is_user(self, email: str) -> bool:
        """Whether an e-mail belongs to an integrator.io user: the shared pool's addresses and licensees."""
        address = email.strip().lower()
        if POOL_USER.match(address):
            return True
        return any(
            str((found.get("user") or {}).get("email", "")).lower() == address
            for found in self.collections["licenses"].objects()
        )

    def user_id_of(self, email: str) -> str:
        """The user id of an e-mail (the same for every license of that user)."""
        return hex_id(self.seed, "integrator", "user", email.strip().lower())

    # Factories --------------------------------------------------------------------------------------

    def _connector(self, rng: random.Random, index: int) -> JsonObject:
        created = spread_created(rng, self.now, recent_share=0.05)
        app = APPS[index % len(APPS)]
        return {
            "_epoch": created,
            "_id": self.new_id("connector"),
            "name": f"{app} Connector {index}",
            "description": f"Integration app for {app}",
            "createdAt": millis(created),
            "lastModified": millis(between(rng, created, self.now)),
            "published": index % 5 != 4,
            "applications": [app.lower(), "netsuite" if app != "NetSuite" else "shopify"],
            "contactEmail": "support@example.com",
            "websiteURL": "https://example.com",
            "imageURL": None,
            "framework": "twoDotZero",
            "trialEnabled": rng.random() < 0.5,
            "trialPeriod": 30,
            "_integrationId": self.new_id("template"),
        }

    def _license(self, rng: random.Random, index: int, connector: JsonObject) -> JsonObject:
        created = spread_created(rng, self.now)
        special = {0: self.now + 180 * DAY, 1: self.now + 10 * DAY, 2: self.now - 20 * DAY}
        if index in special:
            expires = special[index]
        elif rng.random() < 0.1:
            expires = self.now + rng.randint(1, 29) * DAY
        else:
            expires = created + rng.choice((1, 1, 2, 3)) * YEAR
        installed = index == 2 or (index > 2 and rng.random() < 0.6)
        trial = rng.random() < 0.15
        license_obj: JsonObject = {
            "_epoch": created,
            "_id": self.new_id("license"),
            "created": millis(created),
            "expires": millis(expires),
            "trialEndDate": millis(created + 30 * DAY) if trial else None,
            "sandbox": rng.random() < 0.1,
            "opts": {
                "connectorEdition": rng.choice(EDITIONS),
                "addonLicenses": [{"type": "store", "licenses": rng.randint(1, 5)}]
                if rng.random() < 0.3
                else [],
            },
            "user": {
                "email": self.pool.license(index),
                "_id": self.new_id("user"),
                "name": f"Licensee {index}",
            },
            "type": "connector",
            "_editionId": self.new_id("edition") if rng.random() < 0.7 else None,
            "_connectorId": connector["_id"],
        }
        if installed:
            license_obj["_integrationId"] = self.new_id("integration")
        if index % 5 == 3:
            # Some licenses come without _connectorId: the connector must take it from the parent.
            del license_obj["_connectorId"]
        return license_obj

    def _install(self, rng: random.Random, license_obj: JsonObject, connector_id: str | None) -> JsonObject:
        return {
            "_id": self.new_id("install"),
            "_integrationId": license_obj["_integrationId"],
            "_connectorId": connector_id,
            "email": license_obj["user"]["email"],
            "name": license_obj["user"]["name"],
            "_userId": license_obj["user"]["_id"],
            "version": rng.choice(("1.3.0", "1.4.2", "2.0.1")),
            "sandbox": license_obj["sandbox"],
            "updateInProgress": rng.random() < 0.05,
        }

    def _integration(
        self, rng: random.Random, index: int, integration_id: str | None, connector_id: str | None
    ) -> JsonObject:
        created = spread_created(rng, self.now)
        integration: JsonObject = {
            "_epoch": created,
            "_id": integration_id or self.new_id("integration"),
            "name": f"Integration {index}" if connector_id is None else f"Installed app {index}",
            "createdAt": millis(created),
            "lastModified": millis(between(rng, created, self.now)),
            "mode": "settings",
            "sandbox": False,
            "version": "1.4.2" if connector_id else None,
            "install": [],
            "settings": {},
            "tag": None,
        }
        if connector_id is not None:
            integration["_connectorId"] = connector_id
        return integration

    def _flow(self, rng: random.Random, index: int, integration: JsonObject) -> JsonObject:
        created = spread_created(rng, self.now)
        return {
            "_epoch": created,
            "_id": self.new_id("flow"),
            "name": f"Flow {index}",
            "_integrationId": integration["_id"],
            "disabled": rng.random() < 0.2,
            "createdAt": millis(created),
            "lastModified": millis(between(rng, created, self.now)),
            "lastExecutedAt": millis(self.now - rng.randint(60, 7 * DAY)),
            "schedule": rng.choice(("? */15 * * * *", "? 0 * * * *", None)),
            "pageGenerators": [{"_exportId": self.new_id("export")}],
            "pageProcessors": [{"type": "import", "_importId": self.new_id("import")}],
            "free": False,
        }

    def _job(self, rng: random.Random, flow: JsonObject) -> JsonObject:
        created = self.now - rng.randint(60, 30 * DAY)
        status = rng.choice(("completed", "completed", "completed", "failed", "canceled", "running"))
        started = created + rng.randint(0, 30)
        return {
            "_epoch": created,
            "_id": self.new_id("job"),
            "type": "flow",
            "_integrationId": flow["_integrationId"],
            "_flowId": flow["_id"],
            "status": status,
            "createdAt": millis(created),
            "startedAt": millis(started),
            "endedAt": None if status == "running" else millis(started + rng.randint(5, 900)),
            "lastExecutedAt": millis(started),
            "numError": rng.randint(1, 20) if status == "failed" else 0,
            "numResolved": 0,
            "numSuccess": rng.randint(0, 5000),
            "numIgnore": rng.randint(0, 10),
            "numPagesGenerated": rng.randint(1, 50),
            "doneExporting": status != "running",
        }

    # Mutations (control API) ------------------------------------------------------------------------

    def create(self, resource: str, fields: dict[str, Any], now: int) -> JsonObject:
        """Create an object with ``fields`` (licenses and install base need ``_parent``: the connector).

        Raises:
            KeyError: Unknown resource or connector.
            ValueError: A child without its connector.
        """
        collection = self._collection(resource)
        fields = dict(fields)
        rng = rng_for(self.seed, "integrator", resource, "control", self._counter)
        saved_now, self.now = self.now, now
        try:
            parent = None
            if resource in CHILDREN:
                parent = fields.pop("_parent", None) or fields.get("_connectorId")
                if not parent or self.collections["connectors"].get(str(parent)) is None:
                    raise KeyError(f"{resource} need '_parent': an existing connector id (got {parent!r})")
                connector = self.collections["connectors"].get(str(parent)) or {}
                lic = self._license(rng, 10_000 + self._counter, connector)
                obj = (
                    lic
                    if resource == "licenses"
                    else self._install(rng, {**lic, "_integrationId": self.new_id("i")}, parent)
                )
            else:
                factories = {
                    "connectors": lambda: self._connector(rng, 10_000 + self._counter),
                    "integrations": lambda: self._integration(rng, 10_000 + self._counter, None, None),
                    "flows": lambda: self._flow(
                        rng, 10_000 + self._counter, {"_id": fields.get("_integrationId")}
                    ),
                    "jobs": lambda: self._job(
                        rng, {"_id": fields.get("_flowId"), "_integrationId": fields.get("_integrationId")}
                    ),
                }
                obj = factories[resource]()
        finally:
            self.now = saved_now
        for field_name in ("createdAt", "created"):
            if field_name in obj:
                obj[field_name] = millis(now)
        obj.pop("_epoch", None)
        obj.update(fields)
        # ``"_connectorId": null`` in the body makes a license without the field, as some real ones are.
        obj = {key: value for key, value in obj.items() if not (key == "_connectorId" and value is None)}
        self._counter += 1
        created = obj.get("createdAt") or obj.get("created")
        # List order follows the creation time the object ends up with, to the millisecond, as the API's does.
        primary = self._counter if resource == "install_base" else newest_first(parse_iso(str(created)))
        collection.insert(primary, obj, None if parent is None else str(parent))
        return obj

    def update(self, resource: str, object_id: str, fields: dict[str, Any]) -> JsonObject:
        """Merge fields into an object (``null`` removes a field, e.g. ``_integrationId`` on uninstall).

        Raises:
            KeyError: Unknown resource or id.
        """
        collection = self._collection(resource)
        old = collection.get(object_id)
        if old is None:
            raise KeyError(f"no integrator {resource} object {object_id}")
        new = {**old, **fields, "_id": object_id}
        new = {key: value for key, value in new.items() if value is not None or key not in fields}
        collection.replace(new)
        return new

    def delete(self, resource: str, object_id: str) -> JsonObject:
        """Delete an object.

        Raises:
            KeyError: Unknown resource or id.
        """
        return self._collection(resource).remove(object_id)

    def _collection(self, resource: str) -> Collection:
        collection = self.collections.get("install_base" if resource == "installBase" else resource)
        if collection is None:
            raise KeyError(f"unknown integrator resource {resource!r}; use one of {list(self.RESOURCES)}")
        return collection
