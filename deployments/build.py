"""One deployment per tool, named `default`, carrying its owner's tag (runs from the UI or a
schedule are owned by the deployment's owner)."""

from __future__ import annotations

from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron, Schedule

from flows.catalog import load_tool, tool_ids
from flows.runtime import OWNER_TAG
from flows.spec import ToolSpec

DEPLOYMENT_NAME = "default"

#: Cron schedules each tool ships with; off until a user turns them on in the Prefect UI.
SCHEDULES = {
    "health-check": ["0 6 * * *"],
}


def _active_schedules(tool_id: str) -> dict[str, bool]:
    """Cron -> active of the deployment as it is now, so a restart keeps what a user turned on."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(f"{tool_id}/{DEPLOYMENT_NAME}")
    except ObjectNotFound:
        return {}
    return {getattr(s.schedule, "cron", None): s.active for s in deployment.schedules}


def schedules_for(tool_id: str) -> list[Schedule] | None:
    crons = SCHEDULES.get(tool_id)
    if not crons:
        return None
    active = _active_schedules(tool_id)
    return [Cron(cron, timezone="UTC", active=active.get(cron, False)) for cron in crons]


def tool_flows() -> dict[str, tuple[object, ToolSpec]]:
    """(flow, spec) of every tool by id: their imports, which need no Prefect server."""
    return {tool_id: load_tool(tool_id) for tool_id in tool_ids()}


def tool_deployments(tools: dict[str, tuple[object, ToolSpec]], owner: str) -> list[tuple[object, dict]]:
    """(flow, options for `Runner.add_flow`) of every tool in `tools` (reads each schedule's state)."""
    found = []
    for tool_id, (flow, spec) in tools.items():
        found.append((flow, dict(
            name=DEPLOYMENT_NAME,
            description=spec.description,
            tags=[f"{OWNER_TAG}{owner}", f"fedpe-tool:{tool_id}"],
            schedules=schedules_for(tool_id),
            enforce_parameter_schema=True,
            # Import flows as `flows.<tool>` so Dask workers can unpickle their tasks.
            entrypoint_type=EntrypointType.MODULE_PATH,
        )))
    return found
