"""Every tool fedpe serves, by id: its flow and its spec (imported on demand: flows import Prefect)."""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass, field

from flows.spec import ToolSpec


@dataclass(frozen=True)
class CheckContext:
    """What a tool's `check(params, ctx)` checks parameters against: the same for the API, the
    dashboard's form and the flow run itself, so a submission is judged once, one way."""

    #: Connected hosts by name (their addresses).
    connected: dict[str, str]
    #: Hosts an admin disabled.
    disabled: list[str] = field(default_factory=list)
    #: What each host advertises: its catalogue (datasets, columns) and its policy.
    records: dict[str, dict] = field(default_factory=dict)
    #: Who submits: the hosts' advertised policies are checked for this owner.
    owner: str = "unknown"
    #: The output store's URL (checkpoint references must lie inside it).
    store_url: str | None = None

_MODULES = {
    "health-check": ("flows.health_check", "health_check"),
    "flcore": ("flows.flcore", "flcore"),
    "fed-stats": ("flows.fed_stats", "fed_stats"),
    "pipeline": ("flows.pipeline", "pipeline"),
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


def validate(tool_id: str, parameters: dict, ctx: CheckContext) -> dict:
    """Type-check `parameters` against the tool's flow signature, then run its cross-field checks
    (`check(params, ctx)`: the hosts' advertised policies for `ctx.owner` among them).

    Returns the parameters as JSON-ready values. Raises InvalidArgument (or PolicyRefused) naming the field.
    """
    from pydantic import ValidationError

    from fedpe.errors import InvalidArgument

    from tasks.strategies.config import strategy_problem

    problem = strategy_problem(parameters.get("strategy"))
    if problem:
        raise InvalidArgument(f"{problem[0]}: {problem[1]}", field=problem[0])
    signature = _signature_model(tool_id)
    unknown = sorted(set(parameters) - set(signature.model_fields))
    if unknown:
        raise InvalidArgument(f"{unknown[0]}: unknown parameter of {tool_id}", field=unknown[0])
    try:
        model = signature.model_validate(dict(parameters))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if not str(p)[0].isupper()) or "parameters"
        raise InvalidArgument(f"{field}: {first['msg']}", field=field) from None
    validated = {name: getattr(model, name) for name in model.model_fields_set}
    module = __import__(_MODULES[tool_id][0], fromlist=["check"])
    if hasattr(module, "check"):
        full = {name: getattr(model, name) for name in signature.model_fields}  # defaults filled in
        module.check(full, ctx)
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(validated)


@functools.cache
def _signature_model(tool_id: str):
    """A pydantic model of the flow's signature: Prefect's own check raises a message of
    several lines without the field, and logs an error, for what is only a bad input."""
    from pydantic import ConfigDict, create_model

    flow, _ = load_tool(tool_id)
    fields = {name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
              for name, p in inspect.signature(flow.fn, eval_str=True).parameters.items()}
    config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)
    return create_model(f"{tool_id}-parameters", __config__=config, **fields)
