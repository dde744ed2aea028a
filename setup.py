"""Packaging of the source-billing connector. `pip install .` installs what the image runs; the `dev` extra
adds the test and lint tools, the `demo` extra PyAirbyte and DuckDB for `make demo`."""

from setuptools import find_packages, setup

MAIN_REQUIREMENTS = [
    "airbyte-cdk>=7.39.1,<8",
    "pendulum>=3.1,<4",
    "requests>=2.32,<3",
]

DEV_REQUIREMENTS = [
    "pytest>=9.0,<10",
    "requests-mock>=1.12,<2",
    "hypothesis>=6.100,<7",
    "jsonschema>=4.20,<5",
    "PyYAML>=6.0,<7",
    "airbyte-connector-models==0.1.12",
    "orb-billing==4.90.0",
    # Stripe's official SDK: its typed resources are the source of the Stripe schemas and event types.
    "stripe==16.1.0",
    "pytest-xdist>=3.8,<4",
    # Stops the connector's clock in tests, so that what a test changes falls between two syncs' windows.
    "time-machine>=2.16,<4",
    "ruff==0.17.6",
    "mypy==2.4.1",
    "types-requests",
    "types-PyYAML",
    "types-jsonschema",
]

DEMO_REQUIREMENTS = [
    "airbyte>=0.71.3,<0.72",
    "duckdb>=1.1",
]

setup(
    name="source-billing",
    version="0.1.0",
    description="Airbyte source for Stripe, Orb and Celigo integrator.io billing and licensing data.",
    python_requires=">=3.11,<3.13",
    packages=find_packages(
        include=["source_billing", "source_billing.*", "destination_billing", "destination_billing.*"]
    ),
    package_data={"source_billing": ["spec.yaml", "*/schemas/*.json", "stripe/endpoints.json"]},
    install_requires=MAIN_REQUIREMENTS,
    extras_require={"dev": DEV_REQUIREMENTS, "demo": DEMO_REQUIREMENTS},
    entry_points={
        "console_scripts": [
            "source-billing=source_billing.runtime.run:run",
            "destination-billing=destination_billing.run:run",
        ]
    },
)
