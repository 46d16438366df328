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


# Prefect's heartbeat context around a stand-in engine: the thread sends its first beat at once,
# then sleeps in one-second steps; the context ends 0.1 s later.
HEARTBEATS_AT_THE_END = """
import json, logging, sys, threading, time
if len(sys.argv) > 1:
    import deployments.heartbeats
from prefect import flow_engine

class Engine:
    heartbeat_seconds = 30
    flow_run = None
    logger = logging.getLogger("engine")
    beats = 0
    def _build_heartbeat_event_template(self):
        return None, None
    def _emit_flow_run_heartbeat(self, resource, related):
        Engine.beats += 1

before = set(threading.enumerate())
with flow_engine._send_heartbeats(Engine()):
    time.sleep(0.1)
    beating = [t for t in threading.enumerate() if t not in before]
alive_after_exit = beating[0].is_alive()
beating[0].join(3)
print(json.dumps({"alive_after_exit": alive_after_exit, "ended": not beating[0].is_alive(), "beats": Engine.beats}))
"""


def _heartbeats_at_the_end(*patched: str) -> dict:
    import json

    done = subprocess.run([sys.executable, "-c", HEARTBEATS_AT_THE_END, *patched], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_a_flow_run_ends_without_waiting_for_its_heartbeat_thread():
    """Prefect joins the thread, which sleeps in one-second steps: each flow run waited up to a
    second after its result. Patched, the context ends at once and the thread ends on its own,
    with no beat after the run."""
    assert PRELOAD.index("deployments.heartbeats") < PRELOAD.index("deployments.gc_freeze")
    assert _heartbeats_at_the_end() == {"alive_after_exit": False, "ended": True, "beats": 1}
    assert _heartbeats_at_the_end("patched") == {"alive_after_exit": True, "ended": True, "beats": 1}
