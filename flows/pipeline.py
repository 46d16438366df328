"""pipeline: several tools under one execution id, run in order as subflows, stopping at the
first failure and reporting each part."""


from typing import Annotated, Literal

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from blocks import RESULTS_BLOCK
from flows.catalog import CheckContext
from flows.fed_stats import fed_stats
from flows.flcore import flcore
from flows.health_check import health_check
from flows.runtime import run_context
from flows.spec import TaskSpec, ToolSpec

TOOL = ToolSpec(
    id="pipeline",
    name="Pipeline",
    description="Runs tools one after another under one execution id (for example health-check, then flcore), "
                "stopping at the first failure.",
    mode="distributed",
    tasks=[TaskSpec(id="pipeline", name="pipeline", tool="pipeline", role="worker",
                    description="Runs its steps' tools; their roles are the steps' tasks.")],
)

STEPS = {"health-check": health_check, "flcore": flcore, "fed-stats": fed_stats}


class PipelineStep(BaseModel):
    """One part of a pipeline: a tool and its parameters."""

    model_config = ConfigDict(extra="forbid")

    tool: Literal["health-check", "flcore", "fed-stats"]
    parameters: dict = Field(default_factory=dict)


class PipelinePart(BaseModel):
    part: int
    tool: str
    flow_run_id: str | None
    state: str
    message: str | None = None
    result: dict | None = None


class PipelineResult(BaseModel):
    execution_id: str
    status: str
    parts: list[PipelinePart]


def refuse_repeated_tools(steps: list[PipelineStep]) -> None:
    """Parts share the execution's folders ({execution_id}/{host}/): a second run of the same
    tool would overwrite the first one's outputs, so each tool runs once per pipeline."""
    from fedpe.errors import InvalidArgument

    for index, step in enumerate(steps):
        first = next(i for i, s in enumerate(steps) if s.tool == step.tool)
        if first != index:
            raise InvalidArgument(f"steps.{index}: {step.tool} is already step {first}; a pipeline runs each tool "
                                  f"once (submit a second execution to run it again)", field=f"steps.{index}.tool")


def check(params: dict, ctx: CheckContext) -> None:
    """Each step's own checks, for the pipeline's owner, named `steps.N.<field>`."""
    from fedpe.errors import InvalidArgument, PolicyRefused
    from flows.catalog import validate

    steps = [s if isinstance(s, PipelineStep) else PipelineStep.model_validate(s) for s in params["steps"]]
    refuse_repeated_tools(steps)
    for index, step in enumerate(steps):
        try:
            validate(step.tool, step.parameters, ctx)
        except (InvalidArgument, PolicyRefused) as exc:  # the same refusal, named as the step's
            field = f"steps.{index}.parameters" + (f".{exc.field}" if exc.field else "")
            raise type(exc)(f"steps.{index} ({step.tool}): {exc.message}",
                            details={**exc.details, "field": field}) from None


@flow(name="pipeline", description=TOOL.description, persist_result=True, result_storage=RESULTS_BLOCK)
def pipeline(steps: Annotated[list[PipelineStep], Field(min_length=1, max_length=3)]) -> PipelineResult:
    """Run `steps` in order; the execution id of every part is this run's id.

    Args:
        steps: The tools to run in order, each with its parameters; each tool at most once.
    """
    refuse_repeated_tools(steps)
    ctx = run_context()
    parts: list[PipelinePart] = []
    status = "completed"
    for index, step in enumerate(steps):
        tool = STEPS[step.tool]
        state = tool.with_options(flow_run_name=f"{ctx.execution_id[:8]}-part{index}-{step.tool}")(
            **step.parameters, return_state=True)
        part = PipelinePart(part=index, tool=step.tool, flow_run_id=str(state.state_details.flow_run_id),
                            state=state.name, message=state.message)
        if state.is_completed():
            part.result = state.result().model_dump(mode="json")
            parts.append(part)
            continue
        parts.append(part)
        status = "failed"
        break
    result = PipelineResult(execution_id=ctx.execution_id, status=status, parts=parts)
    ctx.save_result(result)  # also when a part failed: the API shows which
    if status != "completed":
        from fedpe.errors import ExecutionFailed

        failed = parts[-1]
        raise ExecutionFailed(f"pipeline part {failed.part} ({failed.tool}) ended {failed.state}: {failed.message}")
    return result
