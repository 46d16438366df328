"""The `health-check` role: what one host is, has, sees and reaches, reported from the host.

A host needs only the scheduler (and its peers) to serve its roles; it reaches no Prefect,
MLflow or store of its own, so the report says what the host itself sees: the scheduler, its
data folder and catalogue, its resources, versions and policy. `health.json` goes home as an
event like every other output; the coordinator adds what it sees of the host.
"""

from __future__ import annotations

import json
import os
import time

from tasks.data.catalogue import scan_catalogue
from tasks.resources import snapshot, versions
from tasks.host.role import Role
from tasks.host.usage import UsageMeter

TASK_ID = "health-check"


def _probe(fn) -> dict:
    start = time.perf_counter()
    try:
        detail = fn()
        return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1), "detail": detail}
    except Exception as exc:  # a failed probe is a finding, not a crash
        return {"ok": False, "ms": round((time.perf_counter() - start) * 1000, 1), "error": f"{type(exc).__name__}: {exc}"}


def _data_folder(data_dir) -> str:
    names = sorted(p.name for p in data_dir.iterdir() if not p.name.startswith("."))
    return f"{data_dir} readable ({len(names)} entries)"


class HealthCheck(Role):
    """Reports one host's health; ends as soon as its report is sent."""

    TASK_ID = TASK_ID

    def run(self) -> dict:
        meter = UsageMeter()
        context = self.context
        with meter.measure():
            report = {
                "host": context.host,
                "requested_host": context.spec.host,
                "worker_address": context.worker.address,
                "pid": os.getpid(),
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "versions": versions(),
                "resources": snapshot(str(context.data_dir)),
                "datasets": [d.model_dump(mode="json") for d in scan_catalogue(context.data_dir)],
                "policy": context.policy.summary(),
                "reachability": {
                    "scheduler": _probe(context.worker.scheduler),
                    "data_folder": _probe(lambda: _data_folder(context.data_dir)),
                },
            }
            report["healthy"] = all(p["ok"] for p in report["reachability"].values())
            context.release_file("health.json", json.dumps(report, indent=2).encode())
        return {"report": report, "usage": meter.report(host=context.host, task=TASK_ID)}

