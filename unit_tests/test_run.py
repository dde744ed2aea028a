"""The console script's process setup."""

from __future__ import annotations

import platform

import pytest

from source_billing.runtime.run import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator (the image's) only")
def test_given_linux_when_the_connector_starts_then_glibc_keeps_two_malloc_arenas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas()


def test_given_malloc_arena_max_set_when_the_connector_starts_then_the_users_setting_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert not limit_malloc_arenas()
