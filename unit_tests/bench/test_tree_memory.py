"""The benchmark's memory of a connector that forks: its processes' PSS summed, their RSS beside it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.sync import TreeMemory, process_tree

FORKS_AND_SLEEPS = "import os, time; os.fork(); time.sleep(3)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_given_a_process_that_forked_when_sampled_then_both_counted_and_shared_pages_once() -> None:
    process = subprocess.Popen([sys.executable, "-c", FORKS_AND_SLEEPS])
    try:
        deadline = time.monotonic() + 5
        while len(process_tree(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        memory = TreeMemory(process.pid)
        memory.sample()
    finally:
        process.kill()
        process.wait()
    assert memory.processes == 2
    # The child shares the parent's pages: counted once in the PSS sum, twice in the RSS sum.
    assert 0 < memory.peak_pss_kb < memory.peak_rss_kb
    assert process_tree(process.pid) == []


def test_given_one_process_when_sampled_then_left_to_wait4() -> None:
    memory = TreeMemory(0)  # no such process: an empty tree
    memory.sample()
    assert (memory.processes, memory.peak_pss_kb, memory.peak_rss_kb) == (1, 0, 0)
