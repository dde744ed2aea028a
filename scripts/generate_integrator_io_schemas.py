"""Write the Celigo integrator.io stream schemas, declared by hand.

Run from the repository root::

    .venv/bin/python -m scripts.generate_integrator_io_schemas [--output-dir DIR]

``DIR`` defaults to ``source_billing/integrator_io/schemas``. integrator.io publishes no machine-readable
schema, so ``STREAMS`` lists the fields its API reference documents (Connector and License API endpoints,
https://docs.celigo.com/hc/en-us/articles/7988304504091; Job, Flow and Integration API,
https://github.com/celigo/integrator-api-docs) and those observed in responses. The schemas are open: fields
not listed here still reach the destination. Timestamps are ISO-8601 strings.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.schema_tools import (
    REPO_ROOT,
    JsonSchema,
    array_of,
    nullable,
    open_object,
    stream_schema,
    write_schemas,
)

OUTPUT_DIR = REPO_ROOT / "source_billing" / "integrator_io" / "schemas"

_ID = nullable("string")  # Mongo-style object ids, "_id" and "_<resource>Id".
_TEXT = nullable("string")
_TIMESTAMP = nullable("string", format="date-time")
_FLAG = nullable("boolean")
_COUNT = nullable("integer")
_IDS = array_of(nullable("string"))
_FREE_JSON = open_object()  # vendor-defined settings: no properties constraint.


@dataclass(frozen=True)
class IntegratorIoStreamSchema:
    """One stream: its documented fields and the fields the connector relies on.

    Attributes:
        name: stream name.
        fields: the record's properties.
        cursor_field: the field the connector orders records by, None when it reads the stream in full.
        parent_fields: for streams read per connector, the field holding the connector's ``_id`` (the
            connector fills it from the parent when the API omits it).
    """

    name: str
    fields: Mapping[str, JsonSchema]
    cursor_field: str | None = None
    parent_fields: tuple[str, ...] = ()

    @property
    def primary_key(self) -> str:
        return "_id"


CONNECTOR_FIELDS: Mapping[str, JsonSchema] = {
    "_id": _ID,
    "name": _TEXT,
    "description": _TEXT,
    "imageURL": _TEXT,
    "websiteURL": _TEXT,
    "contactEmail": _TEXT,
    "handle": _TEXT,
    "published": _FLAG,
    "managed": _FLAG,
    "trialEnabled": _FLAG,
    "numInstalls": _COUNT,
    "applications": _IDS,
    "_integrationId": _ID,
    "_stackId": _ID,
    "installerFunction": _TEXT,
    "updateFunction": _TEXT,
    "preUninstallFunction": _TEXT,
    "uninstallerFunction": _TEXT,
    "externalInstallerFunction": _TEXT,
    "_sharedImportIds": _IDS,
    "_sharedExportIds": _IDS,
    "_iClientIdMap": array_of(
        open_object(
            {
                # The iClient's id. The Connectors API reference types it `oneOf: [string, boolean]` and its
                # sample answers `false` where a connection has no iClient: typed as the id it is otherwise
                # (inside the `_iClientIdMap` JSON column a destination keeps a `false` as sent).
                "_id": _ID,
                "_iClientIds": _IDS,
                "connection": open_object({"type": _TEXT}),
            }
        )
    ),
    "oAuthServerFlow": open_object({"_iClientId": _ID}),
    "framework": _TEXT,
    "trialPeriod": _COUNT,
    "createdAt": _TIMESTAMP,
    "lastModified": _TIMESTAMP,
}

LICENSE_FIELDS: Mapping[str, JsonSchema] = {
    "_id": _ID,
    "_connectorId": _ID,
    "_editionId": _ID,
    # Present once the license is installed.
    "_integrationId": _ID,
    "type": _TEXT,
    "created": _TIMESTAMP,
    "expires": _TIMESTAMP,
    "trialEndDate": _TIMESTAMP,
    "sandbox": _FLAG,
    # The ISV's own license options (connectorEdition, addonLicenses, ...).
    "opts": _FREE_JSON,
    # The licensee: `email` is the join key to Stripe/Orb customers.
    "user": open_object({"_id": _ID, "email": _TEXT, "name": _TEXT}),
}

INSTALL_BASE_FIELDS: Mapping[str, JsonSchema] = {
    "_id": _ID,
    "_connectorId": _ID,
    "_integrationId": _ID,
    "_userId": _ID,
    "email": _TEXT,
    "name": _TEXT,
    "version": _TEXT,
    "sandbox": _FLAG,
    "updateInProgress": _FLAG,
}

INTEGRATION_FIELDS: Mapping[str, JsonSchema] = {
    "_id": _ID,
    "name": _TEXT,
    "description": _TEXT,
    "_connectorId": _ID,
    "sandbox": _FLAG,
    "createdAt": _TIMESTAMP,
    "lastModified": _TIMESTAMP,
    # Integration-app fields: install progress and the app's settings.
    "mode": _TEXT,
    "version": _TEXT,
    "updateInProgress": _FLAG,
    "settings": _FREE_JSON,
    "install": array_of(
        open_object(
            {
                "name": _TEXT,
                "description": _TEXT,
                "imageURL": _TEXT,
                "installURL": _TEXT,
                "completed": _FLAG,
                "installerFunction": _TEXT,
                "uninstallerFunction": _TEXT,
                "_connectionId": _ID,
            }
        )
    ),
}

FLOW_FIELDS: Mapping[str, JsonSchema] = {
    "_id": _ID,
    "name": _TEXT,
    "_integrationId": _ID,
    "disabled": _FLAG,
    "schedule": _TEXT,
    "timezone": _TEXT,
    "skipRetries": _FLAG,
    # A simple flow names one export and one import; an orchestrated flow lists generators and processors.
    "_exportId": _ID,
    "_importId": _ID,
    "pageGenerators": array_of(open_object({"_id": _ID, "_exportId": _ID})),
    "pageProcessors": array_of(
        open_object(
            {
                "type": _TEXT,
                "_exportId": _ID,
                "_importId": _ID,
                "proceedOnFailure": _FLAG,
                "responseMapping": _FREE_JSON,
            }
        )
    ),
    "free": _FLAG,
    "createdAt": _TIMESTAMP,
    "lastModified": _TIMESTAMP,
    "lastExecutedAt": _TIMESTAMP,
}

JOB_FIELDS: Mapping[str, JsonSchema] = {
    "_id": _ID,
    "type": _TEXT,
    "status": _TEXT,
    "_integrationId": _ID,
    "_flowId": _ID,
    "_flowJobId": _ID,
    "_exportId": _ID,
    "_importId": _ID,
    "_bulkJobId": _ID,
    "flowExecutionGroupId": _ID,
    # Ordered and filtered by (`createdAt_gte`, `createdAt_lte`): the incremental cursor.
    "createdAt": _TIMESTAMP,
    "startedAt": _TIMESTAMP,
    # Absent or null while the job runs.
    "endedAt": _TIMESTAMP,
    "lastModified": _TIMESTAMP,
    "lastExecutedAt": _TIMESTAMP,
    "doneExporting": _FLAG,
    "numError": _COUNT,
    "numResolved": _COUNT,
    "numSuccess": _COUNT,
    "numIgnore": _COUNT,
    "numExport": _COUNT,
    "numPagesGenerated": _COUNT,
    "numPagesProcessed": _COUNT,
    "oIndex": _COUNT,
    "retriable": _FLAG,
}

STREAMS: tuple[IntegratorIoStreamSchema, ...] = (
    IntegratorIoStreamSchema("integrator_io_connectors", CONNECTOR_FIELDS, cursor_field="lastModified"),
    # Licenses change after creation (expiry, opts, install) and have no last-modified field: read in full.
    IntegratorIoStreamSchema("integrator_io_licenses", LICENSE_FIELDS, parent_fields=("_connectorId",)),
    IntegratorIoStreamSchema(
        "integrator_io_install_base", INSTALL_BASE_FIELDS, parent_fields=("_connectorId",)
    ),
    IntegratorIoStreamSchema("integrator_io_integrations", INTEGRATION_FIELDS),
    IntegratorIoStreamSchema("integrator_io_flows", FLOW_FIELDS),
    IntegratorIoStreamSchema("integrator_io_jobs", JOB_FIELDS, cursor_field="createdAt"),
)


def build_schemas(streams: Sequence[IntegratorIoStreamSchema] = STREAMS) -> dict[str, JsonSchema]:
    """The schema of every stream in ``streams``, keyed by stream name."""
    return {stream.name: stream_schema(stream.fields) for stream in streams}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the integrator.io stream schemas.")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="where to write <stream>.json")
    args = parser.parse_args(argv)
    written = write_schemas(build_schemas(), args.output_dir)
    print(f"wrote {len(written)} integrator.io schemas to {args.output_dir}")


if __name__ == "__main__":
    main()
