"""health-check: one role per selected host reporting versions, resources, datasets and reachability.

Each host reports what it sees itself (tasks/host/health.py); the coordinator adds what it sees
of the host: whether it answered, and whether its report reached the store.
"""


from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel

from blocks import RESULTS_BLOCK
from flows.catalog import CheckContext
from flows.params import HostName
from flows.runtime import role_task_runner, run_context
from flows.spec import TaskSpec, ToolSpec
from tasks.coordinator.remote import Relay, follow
from tasks.host.specs import RoleSpec

TOOL = ToolSpec(
    id="health-check",
    name="Health check",
    description="Checks each selected host: library versions, CPU/memory/disk/GPU, its datasets, its policy, and "
                "whether it reaches the scheduler and reads its data folder.",
    mode="distributed",
    tasks=[TaskSpec(id="health-check", name="health-check", tool="health-check", role="worker",
                    description="Reports one host's health; writes health.json to the store.")],
)

ROLE_TIMEOUT_S = 120.0


class HealthCheckResult(BaseModel):
    """What `run_deployment("health-check/default")` callers read from the finished run."""

    execution_id: str
    hosts: list[str]
    healthy: bool
    reports: dict[str, dict]
    outputs: str


def check(params: dict, ctx: CheckContext) -> None:
    """The hosts, and whether each one's advertised policy runs the health check for the owner."""
    from tasks.hosts import available_hosts, check_hosts
    from tasks.policy import check_advertised

    connected, disabled, records, owner = ctx.connected, ctx.disabled, ctx.records, ctx.owner
    hosts = params.get("hosts") or available_hosts(connected, disabled)
    check_hosts(hosts, connected, disabled, field="hosts")
    for host in hosts:
        check_advertised(records.get(host), host, field="hosts", tool="health-check", task="health-check",
                         owner=owner, dataset=None, params={})


@flow(name="health-check", description=TOOL.description, task_runner=role_task_runner(),
      persist_result=True, result_storage=RESULTS_BLOCK)
def health_check(hosts: list[HostName] | None = None) -> HealthCheckResult:
    """Run the health-check role on `hosts` (every connected, enabled host when empty).

    Args:
        hosts: The hosts to check; every connected, enabled host when empty.
    """
    ctx = run_context()
    selected = list(hosts) if hosts else ctx.available_hosts()
    check({"hosts": selected}, ctx.check_context())
    roles = ctx.roles()
    runs = {host: roles.start(RoleSpec(execution_id=ctx.execution_id, flow_run_id=ctx.flow_run_id, task="health-check",
                                       tool="health-check", host=host, owner=ctx.owner)) for host in selected}
    futures = {host: follow(roles, run, Relay(ctx.store, ctx.execution_id, host)) for host, run in runs.items()}
    reports = {host: future.result(timeout=ROLE_TIMEOUT_S)["report"] for host, future in futures.items()}
    roles.close()
    for host, report in reports.items():
        report["reachability"]["coordinator"] = {"ok": True, "detail": f"{host} answered the coordinator's polls"}
        report["reachability"]["store"] = {"ok": ctx.store.exists(ctx.execution_id, host, "health.json"),
                                           "detail": ctx.store.url_of(ctx.execution_id, host, "health.json")}
        report["output"] = ctx.store.url_of(ctx.execution_id, host, "health.json")
        report["healthy"] = all(p["ok"] for p in report["reachability"].values())
    create_table_artifact(
        key="health-check",
        table=[{"host": h, "healthy": r["healthy"], "ran_on": r["host"], "cpus": r["resources"]["cpus"],
                "datasets": ", ".join(d["name"] for d in r["datasets"])} for h, r in reports.items()],
        description="Health of each host",
    )
    result = HealthCheckResult(
        execution_id=ctx.execution_id, hosts=selected, reports=reports,
        healthy=all(r["healthy"] for r in reports.values()), outputs=ctx.store.url_of(ctx.execution_id),
    )
    ctx.save_result(result)
    return result
