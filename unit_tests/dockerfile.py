"""A small, tolerant reader of a Dockerfile and its .dockerignore, for the packaging tests (no Docker needed).

It knows what this project's Dockerfile uses: comments, `\\` continuation lines, exec (JSON array) and shell
forms, `key=value` ENV and LABEL pairs, and .dockerignore's globs with `!` exceptions.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction after joining its continuation lines."""

    keyword: str
    arguments: str

    def exec_form(self) -> list[str] | None:
        """The JSON-array ("exec") form of the arguments, or None for the shell form."""
        if not self.arguments.startswith("["):
            return None
        parsed = json.loads(self.arguments)
        assert isinstance(parsed, list), f"{self.keyword} {self.arguments}: not a JSON array"
        return [str(part) for part in parsed]

    def pairs(self) -> dict[str, str]:
        """`key=value` pairs of ENV or LABEL (quotes removed); also ENV's legacy `key value` form."""
        tokens = shlex.split(self.arguments)
        if self.keyword == "ENV" and tokens and "=" not in tokens[0]:
            key, _, value = self.arguments.partition(" ")
            return {key: value.strip()}
        return dict(token.split("=", 1) for token in tokens)


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile: comments and blank lines dropped, `\\` continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):  # also inside a continuation, as Docker does
            continue
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        keyword, _, arguments = " ".join([*pending, line]).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = []
    if pending:
        keyword, _, arguments = " ".join(pending).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def only(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    return [instruction for instruction in instructions if instruction.keyword == keyword]


def single(instructions: list[Instruction], keyword: str) -> Instruction:
    found = only(instructions, keyword)
    assert len(found) == 1, f"expected exactly one {keyword} in the Dockerfile, found {len(found)}"
    return found[0]


def merged_pairs(instructions: list[Instruction], keyword: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for instruction in only(instructions, keyword):
        merged.update(instruction.pairs())
    return merged


def base_image(instructions: list[Instruction]) -> str:
    """The image of the (only) FROM, without `--platform=...` flags or an `AS name` stage alias."""
    tokens = [token for token in single(instructions, "FROM").arguments.split() if not token.startswith("--")]
    return tokens[0]


def entrypoint(instructions: list[Instruction]) -> list[str]:
    """The ENTRYPOINT, in exec form: a shell-form ENTRYPOINT would drop the `spec`/`read` arguments."""
    instruction = only(instructions, "ENTRYPOINT")[-1]
    command = instruction.exec_form()
    assert command, f"ENTRYPOINT must be a JSON array, got: {instruction.arguments}"
    return command


def workdir(instructions: list[Instruction]) -> PurePosixPath:
    path = PurePosixPath("/")
    for instruction in only(instructions, "WORKDIR"):
        path = path / instruction.arguments
    return path


# --- .dockerignore, roughly as Docker reads it ------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's glob syntax as a regex: `**` spans folders, `*` and `?` stay within one path segment."""
    regex, position = "", 0
    while position < len(pattern):
        if pattern.startswith("**/", position):
            regex, position = regex + "(?:.*/)?", position + 3
        elif pattern.startswith("**", position):
            regex, position = regex + ".*", position + 2
        elif pattern[position] == "*":
            regex, position = regex + "[^/]*", position + 1
        elif pattern[position] == "?":
            regex, position = regex + "[^/]", position + 1
        elif pattern[position] == "[" and "]" in pattern[position:]:
            end = pattern.index("]", position)
            regex, position = regex + pattern[position : end + 1], end + 1
        else:
            regex, position = regex + re.escape(pattern[position]), position + 1
    return re.compile(regex)


@dataclass(frozen=True)
class DockerIgnore:
    rules: tuple[tuple[bool, re.Pattern[str]], ...]  # (is an exception `!...`, pattern)

    @classmethod
    def read(cls, path: Path) -> DockerIgnore:
        rules = []
        for raw_line in path.read_text(encoding="utf-8").splitlines():
            line = raw_line.strip()
            if line and not line.startswith("#"):
                exception = line.startswith("!")
                rules.append((exception, _pattern_regex(line.lstrip("!").strip().strip("/"))))
        return cls(tuple(rules))

    def ignores(self, relative_path: str) -> bool:
        """Whether a context-relative path is left out: the last rule matching it or a parent folder wins."""
        parts = PurePosixPath(relative_path).parts
        prefixes = ["/".join(parts[: length + 1]) for length in range(len(parts))]
        ignored = False
        for exception, pattern in self.rules:
            if any(pattern.fullmatch(prefix) for prefix in prefixes):
                ignored = not exception
        return ignored
