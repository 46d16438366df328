"""Every tool fedpe serves, by id: its flow and its spec (imported on demand: flows import Prefect)."""

from __future__ import annotations

import importlib

from flows.spec import ToolSpec

_MODULES = {
    "health-check": ("flows.health_check", "health_check"),
}


def tool_ids() -> list[str]:
    return list(_MODULES)


def load_tool(tool_id: str):
    """(flow, spec) of a tool; KeyError for an unknown id."""
    module_name, flow_name = _MODULES[tool_id]
    module = importlib.import_module(module_name)
    return getattr(module, flow_name), module.TOOL


def specs() -> list[ToolSpec]:
    return [load_tool(t)[1] for t in tool_ids()]
