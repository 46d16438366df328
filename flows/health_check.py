"""health-check: one role per selected host reporting versions, resources, datasets and reachability."""


from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel

from blocks import RESULTS_BLOCK
from flows.params import HostName
from flows.runtime import FederationTaskRunner, run_context
from flows.spec import TaskSpec, ToolSpec
from tasks.hosts import pinned
from tasks.roles.health import health_check_role

TOOL = ToolSpec(
    id="health-check",
    name="Health check",
    description="Checks each selected host: library versions, CPU/memory/disk/GPU, its datasets, and whether it "
                "reaches the scheduler, the Prefect API, MLflow and the store.",
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


@flow(name="health-check", description=TOOL.description, task_runner=FederationTaskRunner(),
      persist_result=True, result_storage=RESULTS_BLOCK)
def health_check(hosts: list[HostName] | None = None) -> HealthCheckResult:
    """Run the health-check role on `hosts` (every connected, enabled host when empty).

    Args:
        hosts: The hosts to check; every connected, enabled host when empty.
    """
    ctx = run_context()
    selected = list(hosts) if hosts else ctx.available_hosts()
    ctx.check_hosts(selected, field="hosts")
    futures = {}
    for host in selected:
        with pinned(host):
            futures[host] = health_check_role.submit(host=host, store=ctx.store, execution_id=ctx.execution_id)
    reports = {host: future.result(timeout=ROLE_TIMEOUT_S) for host, future in futures.items()}
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
