"""The destination's packaging (destination_billing/metadata.yaml, Dockerfile and Dockerfile.dockerignore):
the same checks as the source's (unit_tests/test_packaging.py), with its helpers.

The build context is the repository root (the destination imports source_billing); BuildKit reads the
`Dockerfile.dockerignore` beside the Dockerfile instead of the root `.dockerignore`. The tests that replay
the build with a real install from the package index are marked `packaging`, as the source's are.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from airbyte_cdk.models import Type
from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
    ConnectorMetadataDefinitionV0,
)
from jsonschema import Draft7Validator, FormatChecker

from unit_tests.dockerfile import (
    DockerIgnore,
    Instruction,
    base_image,
    entrypoint,
    merged_pairs,
    only,
    parse_dockerfile,
    workdir,
)
from unit_tests.test_packaging import (
    ALLOWED_HOSTS,
    CONNECTOR_ROOT,
    MAX_ICON_BYTES,
    METADATA_SCHEMA_FILE,
    PIP_INSTALL_TIMEOUT_S,
    ROOT_USERS,
    SPEC_TIMEOUT_S,
    VENV_TIMEOUT_S,
    EmulatedImage,
    _copy_into_image,
    _fresh_env,
    metadata_schema_registry,
    spec_messages,
)

PACKAGE = CONNECTOR_ROOT / "destination_billing"
# The files of the package folder that describe the image, not the Python package.
BUILD_FILES = {"Dockerfile", "Dockerfile.dockerignore", "metadata.yaml", "icon.svg"}


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PACKAGE / "metadata.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile((PACKAGE / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerignore() -> DockerIgnore:
    return DockerIgnore.read(PACKAGE / "Dockerfile.dockerignore")


def test_given_metadata_yaml_when_validated_against_the_published_json_schema_then_it_has_no_errors(
    metadata: dict[str, Any],
) -> None:
    schema = json.loads(METADATA_SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = Draft7Validator(schema, registry=metadata_schema_registry(), format_checker=FormatChecker())

    errors = [f"{error.json_path}: {error.message}" for error in validator.iter_errors(metadata)]

    assert errors == []


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


def test_given_metadata_icon_when_read_then_it_is_a_small_svg_file(metadata: dict[str, Any]) -> None:
    icon = PACKAGE / metadata["data"]["icon"]

    root = ElementTree.fromstring(icon.read_bytes())

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert icon.stat().st_size < MAX_ICON_BYTES


def test_given_dockerfile_when_compared_with_metadata_then_from_equals_the_build_options_base_image(
    dockerfile: list[Instruction], metadata: dict[str, Any]
) -> None:
    assert base_image(dockerfile) == metadata["data"]["connectorBuildOptions"]["baseImage"]
    assert "@sha256:" in base_image(dockerfile), "the base image must be pinned by digest"


def test_given_dockerfile_when_compared_with_metadata_then_labels_name_the_repository_and_tag(
    dockerfile: list[Instruction], metadata: dict[str, Any]
) -> None:
    labels = merged_pairs(dockerfile, "LABEL")

    assert labels["io.airbyte.name"] == metadata["data"]["dockerRepository"]
    assert labels["io.airbyte.version"] == metadata["data"]["dockerImageTag"]


def test_given_dockerfile_when_parsed_then_airbyte_entrypoint_env_equals_the_exec_form_entrypoint(
    dockerfile: list[Instruction],
) -> None:
    airbyte_entrypoint = merged_pairs(dockerfile, "ENV")["AIRBYTE_ENTRYPOINT"]

    assert shlex.split(airbyte_entrypoint) == entrypoint(dockerfile)


def test_given_dockerfile_when_parsed_then_a_non_root_user_is_set_before_the_entrypoint(
    dockerfile: list[Instruction],
) -> None:
    entrypoint_at = max(i for i, instruction in enumerate(dockerfile) if instruction.keyword == "ENTRYPOINT")
    users = [
        instruction.arguments for instruction in dockerfile[:entrypoint_at] if instruction.keyword == "USER"
    ]

    assert users, "no USER before ENTRYPOINT: the connector would run as the base image's root"
    assert users[-1].split(":")[0] not in ROOT_USERS


def test_given_dockerfile_when_parsed_then_workdir_is_airbyte_integration_code(
    dockerfile: list[Instruction],
) -> None:
    assert workdir(dockerfile) == PurePosixPath("/airbyte/integration_code")


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
    dockerignore: DockerIgnore, path: str
) -> None:
    assert dockerignore.ignores(path)


def test_given_dockerignore_when_checking_what_the_dockerfile_copies_then_nothing_of_it_is_left_out(
    dockerfile: list[Instruction], dockerignore: DockerIgnore
) -> None:
    needed = ["source_billing/spec.yaml", "destination_billing/plan.py"]
    for instruction in only(dockerfile, "COPY"):
        needed += [token for token in shlex.split(instruction.arguments)[:-1] if not token.startswith("--")]

    assert [path for path in needed if dockerignore.ignores(path)] == []


# --- The build, replayed in a fresh virtual environment ---------------------------------------------------


@pytest.fixture(scope="module")
def built_image(
    tmp_path_factory: pytest.TempPathFactory, dockerfile: list[Instruction], dockerignore: DockerIgnore
) -> Iterator[EmulatedImage]:
    """The Dockerfile's steps replayed in a temporary image root with a fresh venv's python and pip."""
    base = tmp_path_factory.mktemp("destination-image")
    venv_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True, timeout=VENV_TIMEOUT_S)
    image = EmulatedImage(
        image_root=base / "root",
        python=venv_dir / "bin" / "python",
        env=_fresh_env(merged_pairs(dockerfile, "ENV")),
        workdir=workdir(dockerfile),
        entrypoint=entrypoint(dockerfile),
    )
    current_workdir = PurePosixPath("/")
    for instruction in dockerfile:
        if instruction.keyword == "WORKDIR":
            current_workdir = current_workdir / instruction.arguments
            image.host_path(current_workdir).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword in {"COPY", "ADD"}:
            _copy_into_image(instruction, current_workdir, image.image_root, dockerignore)
        elif instruction.keyword == "RUN":
            command = instruction.exec_form() or shlex.split(instruction.arguments)
            installed = image.run(command, PIP_INSTALL_TIMEOUT_S, cwd=image.host_path(current_workdir))
            assert installed.returncode == 0, (
                f"RUN {instruction.arguments} failed:\n{installed.stderr[-4000:]}"
            )
    yield image
    shutil.rmtree(base, ignore_errors=True)


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
    # The console script, run from elsewhere, imports from site-packages only (not the copied tree).
    site_packages = built_image.run(
        ["python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], SPEC_TIMEOUT_S
    ).stdout.strip()

    def package_files(root: Path) -> set[str]:
        return {
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    console_script = subprocess.run(
        [str(built_image.python.parent / "destination-billing"), "spec"],
        cwd=built_image.image_root.parent,
        env=built_image.env,
        capture_output=True,
        text=True,
        timeout=SPEC_TIMEOUT_S,
        check=False,
    )

    assert package_files(Path(site_packages) / "destination_billing") == package_files(PACKAGE) - BUILD_FILES
    assert console_script.returncode == 0, console_script.stderr[-4000:]
    assert [message.type for message in spec_messages(console_script.stdout)].count(Type.SPEC) == 1
