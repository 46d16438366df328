"""The runner's fork server: the flow runs it forks find its preloaded objects frozen, so their
garbage collections never scan them (deployments/gc_freeze.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deployments.fast_start import PRELOAD

ROOT = Path(__file__).resolve().parents[3]

# A fork server of its own, in a process of its own: the test's process keeps no server behind.
FROZEN_IN_A_FORKED_CHILD = """
import gc, multiprocessing, sys
if __name__ == "__main__":
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(sys.argv[1:])
    with context.Pool(1) as pool:
        print(pool.apply(gc.get_freeze_count))
"""


def _frozen_in_a_child(preload: list[str]) -> int:
    done = subprocess.run([sys.executable, "-c", FROZEN_IN_A_FORKED_CHILD, *preload], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.strip())


def test_the_fork_server_freezes_what_it_preloaded_last_of_all():
    assert PRELOAD[-1] == "deployments.gc_freeze"  # what a module after it imports would stay unfrozen
    assert _frozen_in_a_child(["json", "deployments.gc_freeze"]) > 1000
    assert _frozen_in_a_child(["json"]) == 0
