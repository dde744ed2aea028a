"""The benchmark's memory of a connector that forks: its processes' PSS summed, their RSS beside it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.sync import TreeMemory, process_tree

# The child says it is there, then both wait for the end of their shared standard input.
FORKS_AND_WAITS = "import os, sys\nif os.fork() == 0: print('forked', flush=True)\nsys.stdin.read()"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_given_a_process_that_forked_when_sampled_then_both_counted_and_shared_pages_once() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", FORKS_AND_WAITS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "forked\n"
        memory = TreeMemory(process.pid)
        memory.sample()
    finally:
        process.kill()
        process.wait()
        process.stdin.close()  # the child's end of its input: it exits
        process.stdout.close()
    assert memory.processes == 2
    # The child shares the parent's pages: counted once in the PSS sum, twice in the RSS sum.
    assert 0 < memory.peak_pss_kb < memory.peak_rss_kb
    assert process_tree(process.pid) == []


def test_given_one_process_when_sampled_then_left_to_wait4() -> None:
    memory = TreeMemory(0)  # no such process: an empty tree
    memory.sample()
    assert (memory.processes, memory.peak_pss_kb, memory.peak_rss_kb) == (1, 0, 0)
