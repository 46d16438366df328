"""The `health-check` role: what one host is, has, sees and reaches."""

from __future__ import annotations

import json
import os
import time

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.store import StoreSpec
from tasks.conventions import REPORTS_DIR, report_file
from tasks.data.catalogue import scan_catalogue
from tasks.hosts import current_host
from tasks.resources import snapshot, versions
from tasks.roles.usage import UsageMeter

TASK_ID = "health-check"


def _probe(fn) -> dict:
    start = time.perf_counter()
    try:
        detail = fn()
        return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1), "detail": detail}
    except Exception as exc:  # a failed probe is a finding, not a crash
        return {"ok": False, "ms": round((time.perf_counter() - start) * 1000, 1), "error": f"{type(exc).__name__}: {exc}"}


def _http(url: str) -> str:
    response = httpx.get(url, timeout=5.0)
    response.raise_for_status()
    return f"HTTP {response.status_code} from {url}"


def _scheduler() -> str:
    from distributed import get_worker
    from distributed.utils import sync

    worker = get_worker()
    identity = sync(worker.loop, worker.scheduler.identity)
    return f"{identity.get('address')} with {len(identity.get('workers', {}))} workers"


def _store(store: StoreSpec, execution_id: str, host: str) -> str:
    payload = f"probe {time.time()}".encode()
    store.write_bytes(payload, execution_id, host, ".probe")
    ok = store.read_bytes(execution_id, host, ".probe") == payload
    store.remove(execution_id, host, ".probe")
    if not ok:
        raise IOError("read back different bytes")
    return store.url_of(execution_id, host)


@task(name=TASK_ID, task_run_name="health-check[{host}]", persist_result=False, cache_policy=NO_CACHE)
def health_check_role(host: str, store: StoreSpec, execution_id: str) -> dict:
    """Report this host's versions, resources and datasets, and probe every service it needs.

    `host` is where the flow pinned the task; the report says where it actually ran.
    """
    meter = UsageMeter()
    with meter.measure():
        report = _check(host, store, execution_id)
    usage = meter.report(host=report["host"], task=TASK_ID)
    store.write_bytes(json.dumps(usage, indent=2).encode(), execution_id, REPORTS_DIR, report_file(report["host"], TASK_ID))
    return report


def _check(host: str, store: StoreSpec, execution_id: str) -> dict:
    here = current_host()
    prefect_url = os.environ.get("PREFECT_API_URL", "")
    mlflow_url = os.environ.get("MLFLOW_TRACKING_URI", "")
    report = {
        "host": here.name,
        "requested_host": host,
        "worker_address": here.worker_address,
        "pid": os.getpid(),
        "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "resources": snapshot(str(here.data_dir)),
        "datasets": [d.model_dump(mode="json") for d in scan_catalogue(here.data_dir)],
        "reachability": {
            "scheduler": _probe(_scheduler),
            "prefect_api": _probe(lambda: _http(f"{prefect_url}/health")) if prefect_url else {"ok": False, "error": "PREFECT_API_URL not set"},
            "mlflow": _probe(lambda: _http(f"{mlflow_url}/health")) if mlflow_url else {"ok": False, "error": "MLFLOW_TRACKING_URI not set"},
            "store": _probe(lambda: _store(store, execution_id, here.name)),
        },
    }
    report["healthy"] = all(p["ok"] for p in report["reachability"].values())
    report["output"] = store.write_bytes(json.dumps(report, indent=2).encode(), execution_id, here.name, "health.json")
    return report
