"""Rejected records: a warning each (object, matching key, reason) and, when configured, a JSON-lines file.

A rejected record is done with: the others are applied, and the state after it is still echoed. The file
gets the matching key and the reason, not the whole record.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

import pendulum

from source_billing.config import config_error

if TYPE_CHECKING:
    from destination_billing.plan import Step


class RejectionLog:
    """Reports rejected records; a context manager that closes the file, if any.

    Args:
        path: the JSON-lines file to append to, or None to log only.
        logger: the connector's logger.
    """

    def __init__(self, path: str | None, logger: logging.Logger) -> None:
        self._path = path
        self._logger = logger
        self._file: IO[str] | None = None
        self.count = 0

    def __enter__(self) -> RejectionLog:
        if self._path is not None:
            try:
                self._file = Path(self._path).open("a", encoding="utf-8")
            except OSError as error:
                raise config_error(
                    f"`rejected_records_path` cannot be opened for writing ({error.strerror})."
                ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def add(self, step: Step, reason: str) -> None:
        """Report one rejected record."""
        self.count += 1
        key = " ".join(f"{name}={value}" for name, value in step.key.items()) or "(no matching key)"
        self._logger.warning(f"Rejected {step.operation.object_name} {key}: {reason}")
        if self._file is not None:
            line = {
                "object_name": step.operation.object_name,
                "sync_mode": step.operation.sync_mode.value,
                "key": dict(step.key),
                "reason": reason,
                "rejected_at": pendulum.now("UTC").to_iso8601_string(),
            }
            self._file.write(json.dumps(line, default=str) + "\n")
            self._file.flush()
