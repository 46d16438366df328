"""One deployment per tool, named `default`, carrying its owner's tag (runs from the UI or a
schedule are owned by the deployment's owner)."""

from __future__ import annotations

from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.catalog import load_tool, tool_ids
from flows.runtime import OWNER_TAG

DEPLOYMENT_NAME = "default"

#: Schedules each tool ships with; all inactive until a user turns them on in the Prefect UI.
SCHEDULES = {
    "health-check": [Cron("0 6 * * *", timezone="UTC", active=False)],
}


def build_deployments(owner: str) -> list[RunnerDeployment]:
    deployments = []
    for tool_id in tool_ids():
        flow, spec = load_tool(tool_id)
        deployments.append(flow.to_deployment(
            name=DEPLOYMENT_NAME,
            description=spec.description,
            tags=[f"{OWNER_TAG}{owner}", f"fedpe-tool:{tool_id}"],
            schedules=SCHEDULES.get(tool_id),
            enforce_parameter_schema=True,
            # Import flows as `flows.<tool>` so Dask workers can unpickle their tasks.
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return deployments
