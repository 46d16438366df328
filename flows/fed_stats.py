"""fed-stats: federated descriptive statistics, combined exactly across hosts (sums, not averages
of averages), with every cell under `min_count` records suppressed on the host."""


import json
import time
from typing import Annotated

from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel, Field

from blocks import RESULTS_BLOCK
from flows.catalog import CheckContext
from flows.params import DatasetName, HostName
from flows.runtime import advertised_dataset, require, role_task_runner, run_context
from flows.spec import TaskSpec, ToolSpec
from tasks.hosts import available_hosts, check_hosts
from tasks.coordinator.remote import Relay, follow
from tasks.host.specs import RoleSpec
from tasks.stats import combine_summaries, global_edges

TOOL = ToolSpec(
    id="fed-stats",
    name="Federated statistics",
    description="Count, missing values, mean, standard deviation, min/max, histogram quantiles and category counts "
                "of a dataset across hosts, combined exactly; cells under min_count records are suppressed on the host.",
    mode="federated",
    tasks=[TaskSpec(id="fed-stats", name="fed-stats", tool="fed-stats", role="worker",
                    description="Computes one host's suppressed local statistics.")],
)

WAIT_S = 120.0


class FedStatsResult(BaseModel):
    execution_id: str
    hosts: list[str]
    dataset: str
    min_count: int
    #: What each host applied: the requested min_count, raised to the host policy's floor.
    min_count_by_host: dict[str, int] = {}
    statistics: dict
    outputs: str


NUMERIC_DTYPES = ("int", "float", "bool")


def check(params: dict, ctx: CheckContext) -> None:
    """Hosts, their policies, the dataset on each, and every named column in it (numeric where it must be)."""
    from tasks.policy import check_advertised

    connected, disabled, records, owner = ctx.connected, ctx.disabled, ctx.records, ctx.owner
    hosts = params.get("hosts") or available_hosts(connected, disabled)
    check_hosts(hosts, connected, disabled, field="hosts")
    columns, categorical = params.get("columns") or [], params.get("categorical") or []
    for host in hosts:
        check_advertised(records.get(host), host, field="hosts", tool="fed-stats", task="fed-stats", owner=owner,
                         dataset=params["dataset"], params={"min_count": params.get("min_count")})
        entry = advertised_dataset(records.get(host), host, params["dataset"])
        dtypes = {c["name"]: c.get("dtype", "") for c in entry.get("columns", [])}
        for field, names in (("columns", columns), ("categorical", categorical)):
            for name in names:
                require(name in dtypes, f"{field}: column {name!r} is not in {params['dataset']} on host {host} "
                                        f"(columns: {', '.join(sorted(dtypes))})", field)
        for name in columns:
            require(name in categorical or dtypes[name] in NUMERIC_DTYPES,
                    f"columns: column {name!r} is {dtypes[name]} on host {host}, not numeric "
                    f"(list it under categorical to count its values)", "columns")


@flow(name="fed-stats", description=TOOL.description, task_runner=role_task_runner(),
      persist_result=True, result_storage=RESULTS_BLOCK)
def fed_stats(
    hosts: list[HostName] | None = None,
    dataset: DatasetName = "breast-cancer",
    columns: list[str] | None = None,
    categorical: list[str] | None = None,
    bins: Annotated[int, Field(ge=2, le=1000)] = 20,
    min_count: Annotated[int, Field(ge=1, le=100000)] = 5,
) -> FedStatsResult:
    """Federated statistics of `dataset` on `hosts` (every connected, enabled host when empty).

    Args:
        hosts: The hosts whose data is summarised; every connected, enabled host when empty.
        dataset: A dataset in every host's catalogue.
        columns: Numeric columns to summarise; all when empty.
        categorical: Columns whose values are counted as categories.
        bins: Histogram bins on common edges, for the quantiles.
        min_count: Any cell built from fewer records is suppressed on the host before it leaves.
    """
    import queue

    ctx = run_context()
    selected = list(hosts) if hosts else ctx.available_hosts()
    check({"hosts": selected, "dataset": dataset, "columns": columns, "categorical": categorical,
           "min_count": min_count}, ctx.check_context())
    roles = ctx.roles()
    ranges: queue.Queue = queue.Queue()
    runs = {host: roles.start(RoleSpec(
        execution_id=ctx.execution_id, flow_run_id=ctx.flow_run_id, task="fed-stats", tool="fed-stats", host=host,
        owner=ctx.owner, dataset=dataset, params={"columns": columns, "categorical": categorical,
                                                  "min_count": min_count, "timeout_s": WAIT_S}))
            for host in selected}
    futures = {host: follow(roles, run, Relay(ctx.store, ctx.execution_id, host,
                                              {"ranges": lambda event, h=host: ranges.put((h, event["ranges"]))}))
               for host, run in runs.items()}
    received: dict[str, dict] = {}
    deadline = time.monotonic() + WAIT_S
    while len(received) < len(selected):
        try:
            host, found = ranges.get(timeout=0.5)
            received[host] = found
        except queue.Empty:
            for future in futures.values():
                if future.state.is_final():
                    future.result(timeout=5)  # raises the role's own error when it failed
            require(time.monotonic() < deadline, f"hosts: no ranges from {', '.join(sorted(set(selected) - set(received)))} "
                                                 f"after {WAIT_S:.0f} s", "hosts")
    edges = global_edges([received[h] for h in selected], bins)
    for run in runs.values():
        roles.call(run, "edges", {"edges": edges})
    outcomes = {h: futures[h].result(timeout=WAIT_S) for h in selected}
    roles.close()
    summaries = [outcomes[h]["summary"] for h in selected]
    combined = combine_summaries(summaries, edges)
    stats_json = json.dumps(combined, indent=2, default=float).encode()  # once: 10,000 columns took seconds
    for host in selected:
        ctx.store.write_bytes(stats_json, ctx.execution_id, host, "federated_stats.json")
    create_table_artifact(
        key="fed-stats",
        table=[{"column": c, "count": v.get("count"), "mean": v.get("mean"), "std": v.get("std"),
                "median": (v.get("quantiles") or {}).get("0.5")} for c, v in combined["columns"].items()
               if v.get("kind") == "numeric"],
        description=f"fed-stats of {dataset} over {len(selected)} hosts (min_count={min_count})",
    )
    result = FedStatsResult(execution_id=ctx.execution_id, hosts=selected, dataset=dataset, min_count=min_count,
                            min_count_by_host={h: outcomes[h]["min_count"] for h in selected},
                            statistics=combined, outputs=ctx.store.url_of(ctx.execution_id))
    ctx.save_result(result)
    return result
