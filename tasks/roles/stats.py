"""The fed-stats role: one task per host that computes its local statistics, suppressing every
cell under `min_count` on the host before anything leaves it.

Two passes so quantiles can be combined exactly on common histogram edges: the role publishes
its (suppressed) ranges in a Dask Variable, waits for the federation's edges, then summarises.
"""

from __future__ import annotations

import json

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.store import StoreSpec
from tasks.conventions import REPORTS_DIR, report_file
from tasks.data.catalogue import load_dataset
from tasks.hosts import current_host
from tasks.roles.usage import UsageMeter
from tasks.stats import local_ranges, local_summary

TASK_ID = "fed-stats"


def ranges_variable(execution_id: str, host: str) -> str:
    return f"fedpe-{execution_id}-ranges-{host}"


def edges_variable(execution_id: str) -> str:
    return f"fedpe-{execution_id}-edges"


def _plain(value):
    """msgpack-safe (Dask Variables carry plain data through the scheduler)."""
    return json.loads(json.dumps(value, default=float))


@task(name=TASK_ID, task_run_name="fed-stats[{host}]", persist_result=False, cache_policy=NO_CACHE)
def fed_stats_role(host: str, execution_id: str, dataset: str, columns: list[str] | None,
                   categorical: list[str] | None, min_count: int, store: StoreSpec, timeout_s: float = 120.0) -> dict:
    from distributed import Variable, get_client, secede

    secede()  # waits on the flow between its passes
    meter = UsageMeter()
    client = get_client()
    with meter.measure():
        here = current_host()
        frame = load_dataset(here.data_dir, dataset, "train")
        numeric = [c for c in columns if c not in (categorical or [])] if columns else None
        ranges = _plain(local_ranges(frame.drop(columns=list(categorical or [])), numeric, min_count))
        Variable(ranges_variable(execution_id, host), client=client).set(ranges)
    edges = Variable(edges_variable(execution_id), client=client).get(timeout=timeout_s)
    with meter.measure():
        summary = _plain(local_summary(frame, edges, min_count=min_count, categorical=categorical))
        store.write_bytes(json.dumps(summary, indent=2).encode(), execution_id, host, "local_stats.json")
    report = meter.report(host=host, task=TASK_ID)
    store.write_bytes(json.dumps(report, indent=2).encode(), execution_id, REPORTS_DIR, report_file(host, TASK_ID))
    return summary
