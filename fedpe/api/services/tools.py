"""The tool catalogue (flows.catalog) as the API shows it: specs, tasks, parameter schemas."""

from __future__ import annotations

import functools

from fedpe.errors import NotFound
from fedpe.schemas import Task, Tool
from flows import catalog
from flows.spec import ToolSpec


@functools.lru_cache(maxsize=None)
def _tool(tool_id: str) -> tuple[ToolSpec, dict]:
    from prefect.utilities.callables import parameter_schema

    flow, spec = catalog.load_tool(tool_id)
    return spec, parameter_schema(flow).model_dump()


def tool_ids() -> list[str]:
    return catalog.tool_ids()


def spec_of(tool_id: str) -> ToolSpec:
    """The spec of a tool; KeyError when unknown (what `status.expected_slots` expects)."""
    if tool_id not in catalog.tool_ids():
        raise KeyError(tool_id)
    return _tool(tool_id)[0]


def get(tool_id: str) -> tuple[ToolSpec, dict]:
    """(spec, parameter JSON schema) of a tool; NotFound naming the known ones."""
    if tool_id not in catalog.tool_ids():
        raise NotFound(f"no tool {tool_id!r} (tools: {', '.join(catalog.tool_ids())})", field="tool")
    return _tool(tool_id)


def describe(tool_id: str) -> Tool:
    """The tool as the API sends it: its spec with the parameter schema and the deployment's name."""
    spec, schema = get(tool_id)
    return Tool.model_validate({**spec.model_dump(), "parameters": schema, "deployment": f"{tool_id}/default"})


def all_tools() -> list[Tool]:
    return [describe(t) for t in tool_ids()]


def by_name(name: str) -> Tool:
    wanted = name.strip().lower()
    for tool_id in tool_ids():
        spec, _ = get(tool_id)
        if wanted in (spec.name.lower(), spec.id.lower()):
            return describe(tool_id)
    raise NotFound(f"no tool named {name!r}", field="name")


def tasks() -> list[Task]:
    return [task for t in tool_ids() for task in get(t)[0].tasks]


def task(task_id: str) -> Task:
    for t in tasks():
        if t.id == task_id:
            return t
    raise NotFound(f"no task {task_id!r} (tasks: {', '.join(sorted({t.id for t in tasks()}))})", field="task_id")


def roles() -> dict[str, str]:
    """Task id -> role, over every tool."""
    return {t.id: t.role for t in tasks()}


def warm() -> None:
    """Load every tool and Prefect's parameter checks now, as the first submission would: that
    submission spent 1.2 s of its 1.6 s importing them (py-spy, a 3-host federation). The API
    calls this on a thread of its own once it serves; nothing waits for it."""
    from prefect.utilities.schema_tools.validation import validate  # noqa: F401 - jobs.schema_errors'

    for tool_id in tool_ids():
        _tool(tool_id)
