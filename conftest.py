"""Root test configuration: the CDK's standard-test fixtures must be registered here (not in a sub-folder)."""

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
