"""The CDK's standard connector tests, driven by acceptance-test-config.yml against the sandbox."""

from __future__ import annotations

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_billing import SourceBilling


@pytest.mark.usefixtures("standard_tests_config")  # writes the sandbox config file the scenarios read
class TestSourceBilling(SourceTestSuiteBase):
    """spec, check, discover and a full-refresh read of every stream, as the standard suite defines them."""

    connector = SourceBilling
