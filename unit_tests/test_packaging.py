"""The connector's packaging: metadata.yaml, the Dockerfile and .dockerignore agree with each other and build.

There is no Docker daemon where these tests run, so the image build is emulated: the paths the Dockerfile
COPYs (filtered by .dockerignore) go into a temporary "image root", its `RUN pip install` steps run with a
fresh virtual environment's pip (a real install from the package index, so it needs network: these tests
are marked `packaging` and run by `make test-packaging`, not `make test`), and its ENTRYPOINT runs `spec`
with that environment's python. What the emulation cannot show (the base image, the non-root user at run
time) is checked statically against metadata.yaml.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import airbyte_connector_models
import pytest
import yaml
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type
from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
    ConnectorMetadataDefinitionV0,
)
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7

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

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
METADATA_SCHEMA_DIR = Path(airbyte_connector_models.__file__).parent / "metadata" / "v0"
METADATA_SCHEMA_FILE = METADATA_SCHEMA_DIR / "ConnectorMetadataDefinitionV0.json"
API_SECTIONS = ("stripe", "orb", "integrator_io")
ALLOWED_HOSTS = ["api.stripe.com", "api.withorb.com", "api.integrator.io", "api.eu.integrator.io"]
ROOT_USERS = {"root", "0"}
VENV_TIMEOUT_S = 120
PIP_INSTALL_TIMEOUT_S = 300
SPEC_TIMEOUT_S = 60
MAX_ICON_BYTES = 2048


# --- Emulating the build in a fresh virtual environment ---------------------------------------------------


@dataclass(frozen=True)
class EmulatedImage:
    image_root: Path  # stands for the image's `/`
    python: Path  # the fresh venv's interpreter, standing for the base image's `python`
    env: dict[str, str]
    workdir: PurePosixPath
    entrypoint: list[str]

    def host_path(self, image_path: PurePosixPath | str) -> Path:
        return self.image_root / str(image_path).lstrip("/")

    def host_command(self, command: list[str]) -> list[str]:
        """An image command made runnable here: `python`/`pip` from the venv, image paths under the root."""
        if command[0] == "pip":
            command = ["python", "-m", "pip", *command[1:]]
        assert command[0] in {"python", "python3"}, f"cannot emulate a command that is not python: {command}"
        mapped = [str(self.python)]
        for argument in command[1:]:
            on_host = self.host_path(argument) if argument.startswith("/") else None
            mapped.append(str(on_host) if on_host is not None and on_host.exists() else argument)
        return mapped

    def site_packages(self) -> Path:
        """Where the image's `pip install .` put the distribution."""
        purelib = self.run(
            ["python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], SPEC_TIMEOUT_S
        ).stdout.strip()
        return Path(purelib)

    def console_script(self, name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        """An installed console script run from outside the image's work directory, so that it imports from
        site-packages only (the ENTRYPOINT imports from the copied tree, which would hide package data
        missing from the installed distribution)."""
        return subprocess.run(
            [str(self.python.parent / name), *arguments],
            cwd=self.image_root.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=SPEC_TIMEOUT_S,
            check=False,
        )

    def run(
        self, command: list[str], timeout_s: float, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.host_command(command),
            cwd=cwd or self.host_path(self.workdir),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


def package_files(root: Path) -> set[str]:
    """A package folder's files (no bytecode caches), relative to it."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _copy_into_image(
    instruction: Instruction, current_workdir: PurePosixPath, image_root: Path, ignore: DockerIgnore
) -> None:
    tokens = instruction.exec_form() or shlex.split(instruction.arguments)
    flags = [token for token in tokens if token.startswith("--")]
    assert not [flag for flag in flags if flag.startswith("--from")], "multi-stage COPY is not emulated"
    *sources, destination = [token for token in tokens if not token.startswith("--")]
    target = image_root / str(current_workdir / destination).lstrip("/")
    into_folder = destination.endswith("/") or len(sources) > 1
    for source in sources:
        assert not ignore.ignores(source), f"COPY {source}: excluded by .dockerignore, the build would fail"
        origin = CONNECTOR_ROOT / source
        if origin.is_dir():  # Docker copies a folder's contents, minus what .dockerignore leaves out
            for file in sorted(path for path in origin.rglob("*") if path.is_file()):
                relative = file.relative_to(CONNECTOR_ROOT).as_posix()
                if not ignore.ignores(relative):
                    copied = target / file.relative_to(origin)
                    copied.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, copied)
        else:
            copied = target / origin.name if into_folder else target
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, copied)


def _fresh_env(image_env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its virtualenv (PIP_INDEX_URL & co. stay), plus the image's ENV."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}
    }
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1"} | image_env


def spec_messages(stdout: str) -> list[AirbyteMessage]:
    """Every stdout line as an Airbyte protocol message (fails on a line that is not one)."""
    return [AirbyteMessageSerializer.load(json.loads(line)) for line in stdout.splitlines() if line.strip()]


def metadata_schema_registry() -> Registry[Any]:
    """The package's schema files under their `$id`s.

    Today one bundled file holds every `$ref` it uses. A `$ref` to a sibling file resolves here; one to a file
    the package lacks fails instead of being fetched from the network.
    """
    resources = []
    for file in sorted(METADATA_SCHEMA_DIR.glob("*.json")):
        resource = DRAFT7.create_resource(json.loads(file.read_text(encoding="utf-8")))
        resources.append((resource.id() or file.as_uri(), resource))
    return Registry().with_resources(resources)


# --- Fixtures ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """One connector's image: its metadata.yaml (and icon) folder, Dockerfile and ignore file."""

    name: str
    folder: Path
    dockerfile: Path
    dockerignore: Path

    def metadata(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((self.folder / "metadata.yaml").read_text(encoding="utf-8"))
        return loaded

    def instructions(self) -> list[Instruction]:
        return parse_dockerfile(self.dockerfile.read_text(encoding="utf-8"))

    def ignore(self) -> DockerIgnore:
        return DockerIgnore.read(self.dockerignore)


DESTINATION_FOLDER = CONNECTOR_ROOT / "destination_billing"
# The source's image, and the destination's (built from the repository root with the ignore file BuildKit
# reads beside its Dockerfile): both pass the same checks.
IMAGES = (
    Image("source-billing", CONNECTOR_ROOT, CONNECTOR_ROOT / "Dockerfile", CONNECTOR_ROOT / ".dockerignore"),
    Image(
        "destination-billing",
        DESTINATION_FOLDER,
        DESTINATION_FOLDER / "Dockerfile",
        DESTINATION_FOLDER / "Dockerfile.dockerignore",
    ),
)
SOURCE, DESTINATION = IMAGES


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    return SOURCE.metadata()


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return SOURCE.instructions()


@pytest.fixture(scope="module")
def dockerignore() -> DockerIgnore:
    return SOURCE.ignore()


def build_image(
    base: Path, dockerfile: list[Instruction], dockerignore: DockerIgnore
) -> Iterator[EmulatedImage]:
    """A Dockerfile's steps replayed in `base` (an image root and a fresh venv's python and pip); the folder
    is removed afterwards (a venv with the CDK is ~300 MB: not kept for the next runs)."""
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
            assert not {"&&", "||", ";", "|"} & set(command), f"RUN with shell operators: {instruction}"
            installed = image.run(command, PIP_INSTALL_TIMEOUT_S, cwd=image.host_path(current_workdir))
            assert installed.returncode == 0, (
                f"RUN {instruction.arguments} failed:\n{installed.stderr[-4000:]}"
            )
    yield image
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def built_image(
    tmp_path_factory: pytest.TempPathFactory, dockerfile: list[Instruction], dockerignore: DockerIgnore
) -> Iterator[EmulatedImage]:
    """The source's Dockerfile replayed in a temporary image root."""
    yield from build_image(tmp_path_factory.mktemp("image"), dockerfile, dockerignore)


@pytest.fixture(scope="module", params=IMAGES, ids=lambda image: image.name)
def image(request: pytest.FixtureRequest) -> Image:
    """Each connector's image, for the checks both must pass."""
    chosen: Image = request.param
    return chosen


# --- metadata.yaml ----------------------------------------------------------------------------------------


def test_given_metadata_yaml_when_validated_against_the_published_json_schema_then_it_has_no_errors(
    image: Image,
) -> None:
    metadata = image.metadata()
    schema = json.loads(METADATA_SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = Draft7Validator(schema, registry=metadata_schema_registry(), format_checker=FormatChecker())

    errors = [f"{error.json_path}: {error.message}" for error in validator.iter_errors(metadata)]

    assert errors == []


def test_given_metadata_yaml_when_parsed_with_the_pydantic_model_then_it_describes_this_connector(
    metadata: dict[str, Any],
) -> None:
    data = ConnectorMetadataDefinitionV0.model_validate(metadata).data

    assert data.docker_repository == "airbyte/source-billing"
    assert data.connector_type.value == "source"
    assert data.allowed_hosts is not None
    assert data.allowed_hosts.hosts == ALLOWED_HOSTS


def test_given_metadata_icon_when_read_then_it_is_a_small_svg_file(image: Image) -> None:
    icon = image.folder / image.metadata()["data"]["icon"]

    root = ElementTree.fromstring(icon.read_bytes())

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert icon.stat().st_size < MAX_ICON_BYTES


# --- Dockerfile against metadata.yaml ---------------------------------------------------------------------


def test_given_dockerfile_when_compared_with_metadata_then_from_equals_the_build_options_base_image(
    image: Image,
) -> None:
    dockerfile, metadata = image.instructions(), image.metadata()
    assert base_image(dockerfile) == metadata["data"]["connectorBuildOptions"]["baseImage"]
    assert "@sha256:" in base_image(dockerfile), "the base image must be pinned by digest"


def test_given_dockerfile_when_compared_with_metadata_then_labels_name_the_repository_and_tag(
    image: Image,
) -> None:
    labels, metadata = merged_pairs(image.instructions(), "LABEL"), image.metadata()

    assert labels["io.airbyte.name"] == metadata["data"]["dockerRepository"]
    assert labels["io.airbyte.version"] == metadata["data"]["dockerImageTag"]


def test_given_dockerfile_when_parsed_then_airbyte_entrypoint_env_equals_the_exec_form_entrypoint(
    image: Image,
) -> None:
    dockerfile = image.instructions()
    airbyte_entrypoint = merged_pairs(dockerfile, "ENV")["AIRBYTE_ENTRYPOINT"]

    assert shlex.split(airbyte_entrypoint) == entrypoint(dockerfile)


def test_given_dockerfile_when_parsed_then_a_non_root_user_is_set_before_the_entrypoint(
    image: Image,
) -> None:
    dockerfile = image.instructions()
    entrypoint_at = max(i for i, instruction in enumerate(dockerfile) if instruction.keyword == "ENTRYPOINT")
    users = [
        instruction.arguments for instruction in dockerfile[:entrypoint_at] if instruction.keyword == "USER"
    ]

    assert users, "no USER before ENTRYPOINT: the connector would run as the base image's root"
    assert users[-1].split(":")[0] not in ROOT_USERS


def test_given_dockerfile_when_parsed_then_workdir_is_airbyte_integration_code(image: Image) -> None:
    assert workdir(image.instructions()) == PurePosixPath("/airbyte/integration_code")


def test_given_dockerfile_with_continuation_lines_when_parsed_then_instructions_are_joined() -> None:
    text = (
        "# a comment\nFROM base:1 AS build\n"
        "RUN pip install \\\n    # a comment inside\n    --no-cache-dir .\n"
        'LABEL a=1 b="two words"\nENTRYPOINT ["python", "/x/main.py"]\n'
    )

    instructions = parse_dockerfile(text)

    assert [instruction.keyword for instruction in instructions] == ["FROM", "RUN", "LABEL", "ENTRYPOINT"]
    assert instructions[1].arguments == "pip install --no-cache-dir ."
    assert instructions[2].pairs() == {"a": "1", "b": "two words"}
    assert base_image(instructions) == "base:1"
    assert entrypoint(instructions) == ["python", "/x/main.py"]


# --- .dockerignore ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "unit_tests/test_packaging.py",
        "integration_tests/test_sync.py",
        "sandbox/store.py",
        "scripts/generate_orb_schemas.py",
        "secrets/config.json",
        ".mypy_cache/3.11/cache.db",
        "source_billing.egg-info/PKG-INFO",
        "source_billing/__pycache__/source.cpython-311.pyc",
        "source_billing/stripe/__pycache__/base.cpython-311.pyc",
    ],
)
def test_given_dockerignore_when_a_path_is_not_needed_by_the_image_then_it_is_left_out_of_the_context(
    dockerignore: DockerIgnore, path: str
) -> None:
    assert dockerignore.ignores(path)


def test_given_dockerignore_when_checking_what_the_dockerfile_copies_then_nothing_of_it_is_left_out(
    image: Image,
) -> None:
    dockerignore = image.ignore()
    needed = ["source_billing/spec.yaml", "source_billing/orb/schemas/orb_invoices.json"]
    for instruction in only(image.instructions(), "COPY"):
        needed += [token for token in shlex.split(instruction.arguments)[:-1] if not token.startswith("--")]

    assert [path for path in needed if dockerignore.ignores(path)] == []


# --- The build, replayed in a fresh virtual environment ---------------------------------------------------


@pytest.mark.packaging
def test_given_dockerfile_install_steps_in_a_fresh_venv_when_entrypoint_runs_spec_then_one_spec_is_emitted(
    built_image: EmulatedImage,
) -> None:
    result = built_image.run([*built_image.entrypoint, "spec"], SPEC_TIMEOUT_S)

    assert result.returncode == 0, result.stderr[-4000:]
    messages = spec_messages(result.stdout)
    specs = [message for message in messages if message.type == Type.SPEC]
    assert len(specs) == 1, [message.type for message in messages]
    assert specs[0].spec is not None
    assert set(API_SECTIONS) <= set(specs[0].spec.connectionSpecification["properties"])


@pytest.mark.packaging
def test_given_the_installed_package_when_compared_with_the_source_tree_then_no_module_or_data_is_missing(
    built_image: EmulatedImage,
) -> None:
    installed = built_image.site_packages() / "source_billing"
    console_script = built_image.console_script("source-billing", "spec")

    assert package_files(installed) == package_files(CONNECTOR_ROOT / "source_billing")
    assert console_script.returncode == 0, console_script.stderr[-4000:]
    assert [message.type for message in spec_messages(console_script.stdout)].count(Type.SPEC) == 1
