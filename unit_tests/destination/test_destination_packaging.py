"""The destination's packaging (destination_billing/metadata.yaml, Dockerfile and Dockerfile.dockerignore):
what is its own. The checks both images pass (metadata schema, icon, labels, entry point, user, work
directory, ignore file) are unit_tests/test_packaging.py's, run for each image.

The build context is the repository root (the destination imports source_billing); BuildKit reads the
`Dockerfile.dockerignore` beside the Dockerfile instead of the root `.dockerignore`. The tests that replay
the build with a real install from the package index are marked `packaging`, as the source's are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from airbyte_cdk.models import Type
from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
    ConnectorMetadataDefinitionV0,
)

from unit_tests.test_packaging import (
    ALLOWED_HOSTS,
    CONNECTOR_ROOT,
    DESTINATION,
    DESTINATION_FOLDER,
    SPEC_TIMEOUT_S,
    EmulatedImage,
    build_image,
    package_files,
    spec_messages,
)

PACKAGE = DESTINATION_FOLDER
# The files of the package folder that describe the image, not the Python package.
BUILD_FILES = {"Dockerfile", "Dockerfile.dockerignore", "metadata.yaml", "icon.svg"}


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    return DESTINATION.metadata()


def test_given_metadata_yaml_when_parsed_with_the_pydantic_model_then_it_describes_this_destination(
    metadata: dict[str, Any],
) -> None:
    data = ConnectorMetadataDefinitionV0.model_validate(metadata).data

    assert data.docker_repository == "airbyte/destination-billing"
    assert data.connector_type.value == "destination"
    assert data.supports_data_activation is True
    assert data.allowed_hosts is not None
    assert data.allowed_hosts.hosts == ALLOWED_HOSTS


def test_given_both_metadata_files_when_compared_then_the_connectors_have_distinct_identities(
    metadata: dict[str, Any],
) -> None:
    source = yaml.safe_load((CONNECTOR_ROOT / "metadata.yaml").read_text(encoding="utf-8"))["data"]

    for key in ("definitionId", "dockerRepository", "githubIssueLabel", "documentationUrl"):
        assert metadata["data"][key] != source[key], key


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "unit_tests/destination/test_destination_packaging.py",
        "sandbox/store.py",
        "secrets/config.json",
        "destination_billing/__pycache__/plan.cpython-311.pyc",
        "source_billing.egg-info/PKG-INFO",
    ],
)
def test_given_dockerignore_when_a_path_is_not_needed_by_the_image_then_it_is_left_out_of_the_context(
    path: str,
) -> None:
    assert DESTINATION.ignore().ignores(path)


# --- The build, replayed in a fresh virtual environment ---------------------------------------------------


@pytest.fixture(scope="module")
def built_image(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmulatedImage]:
    """The destination's Dockerfile replayed in a temporary image root."""
    base = tmp_path_factory.mktemp("destination-image")
    yield from build_image(base, DESTINATION.instructions(), DESTINATION.ignore())


@pytest.mark.packaging
def test_given_dockerfile_install_steps_in_a_fresh_venv_when_entrypoint_runs_spec_then_one_spec_is_emitted(
    built_image: EmulatedImage,
) -> None:
    result = built_image.run([*built_image.entrypoint, "spec"], SPEC_TIMEOUT_S)

    assert result.returncode == 0, result.stderr[-4000:]
    specs = [message for message in spec_messages(result.stdout) if message.type == Type.SPEC]
    assert len(specs) == 1
    assert specs[0].spec is not None
    assert {"stripe", "orb", "integrator_io", "dry_run"} <= set(
        specs[0].spec.connectionSpecification["properties"]
    )


@pytest.mark.packaging
def test_given_the_installed_package_when_compared_with_the_source_tree_then_no_module_is_missing(
    built_image: EmulatedImage,
) -> None:
    installed = built_image.site_packages() / "destination_billing"
    console_script = built_image.console_script("destination-billing", "spec")

    assert package_files(installed) == package_files(PACKAGE) - BUILD_FILES
    assert console_script.returncode == 0, console_script.stderr[-4000:]
    assert [message.type for message in spec_messages(console_script.stdout)].count(Type.SPEC) == 1
