"""The fed-stats role: one host's local statistics, every cell under `min_count` suppressed on
the host before anything leaves it.

Two passes so quantiles can be combined exactly on common histogram edges: the role sends its
(suppressed) ranges home as an event, the coordinator combines every host's into the
federation's edges and hands them back (`edges`), then the role summarises. `min_count` is the
requester's, raised to the host policy's floor where it is lower (tasks/policy.py).
"""

from __future__ import annotations

import json
import threading

from tasks.data.catalogue import load_dataset
from tasks.host.context import RoleContext
from tasks.host.role import Role
from tasks.host.usage import UsageMeter
from tasks.stats import local_ranges, local_summary

TASK_ID = "fed-stats"


def _plain(value):
    """JSON-safe numbers (NaN and numpy scalars as the codec and the JSON files want them)."""
    return json.loads(json.dumps(value, default=float))


class LocalStats(Role):
    TASK_ID = TASK_ID
    COORDINATOR_METHODS = frozenset({"edges"})  # its answer is an acknowledgement: not audited

    def __init__(self, context: RoleContext):
        super().__init__(context)
        params = context.spec.params
        self.dataset = context.spec.dataset
        self.columns = params.get("columns")
        self.categorical = params.get("categorical") or []
        self.min_count = int(params["min_count"])
        # How many extremes min and max average: the host's floor alone (tasks/policy.py), never the requester's.
        self.extremes_k = int(params.get("extremes_k") or self.min_count)
        self.timeout_s = float(params.get("timeout_s", 120.0))
        self._edges: dict | None = None
        self._got_edges = threading.Event()

    def edges(self, value: dict) -> bool:
        self._edges = value["edges"]
        self._got_edges.set()
        return True

    def run(self) -> dict:
        meter = UsageMeter()
        context = self.context
        with meter.measure():
            frame = load_dataset(context.data_dir, self.dataset, "train")
            context.record("read", dataset=self.dataset, split="train", rows=len(frame),
                           columns=list(self.columns or map(str, frame.columns)))
            numeric = [c for c in self.columns if c not in self.categorical] if self.columns else None
            ranges = _plain(local_ranges(frame.drop(columns=list(self.categorical)), numeric, self.min_count,
                                         self.extremes_k))
        context.record("sent", to="coordinator", what="ranges", bytes=len(json.dumps(ranges)))
        context.emit("ranges", ranges=ranges)
        if not self._got_edges.wait(self.timeout_s):
            raise TimeoutError(f"no histogram edges from the coordinator after {self.timeout_s:.0f} s")
        with meter.measure():
            summary = _plain(local_summary(frame, self._edges, min_count=self.min_count, categorical=self.categorical,
                                           extremes_k=self.extremes_k))
            context.release_file("local_stats.json", json.dumps(summary, indent=2).encode())
        return {"summary": summary, "min_count": self.min_count, "usage": meter.report(host=context.host, task=TASK_ID)}
