"""The CDK's standard connector tests, driven by acceptance-test-config.yml against the sandbox."""

from __future__ import annotations

from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_billing import SourceBilling


class TestSourceBilling(SourceTestSuiteBase):
    """spec, check, discover and a full-refresh read of every stream, as the standard suite defines them."""

    connector = SourceBilling
