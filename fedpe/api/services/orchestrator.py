"""Prefect, as the API sees it: executions are flow runs of the tools' `default` deployments.

One `PrefectClient` lives as long as the app. Prefect's "not found", refusals and transport
errors become fedpe errors here (see also the app's handlers, which catch what slips through).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas import filters as f
from prefect.client.schemas.sorting import FlowRunSort, LogSort, TaskRunSort
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from fedpe.errors import InvalidArgument, JobNotFound, NoConnection
from flows.runtime import OWNER_TAG, owner_from_tags

TOOL_TAG = "fedpe-tool:"
DEPLOYMENT_NAME = "default"
PAGE = 200  # Prefect's largest page
_FIELD = re.compile(r"field '([^']+)'")


def parse_execution_id(value: str) -> uuid.UUID:
    """The UUID an execution id must be; anything else names no execution (404)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise JobNotFound(f"no execution {value!r}", field="execution_id") from None


def refused_parameters(exc: PrefectHTTPStatusError) -> InvalidArgument:
    """Prefect's 409 on a bad parameter ("Validation failed for field 'hosts'") as a 422 naming it."""
    try:
        detail = exc.response.json().get("detail") or exc.response.text
    except ValueError:
        detail = exc.response.text
    match = _FIELD.search(str(detail))
    field = match.group(1) if match else "parameters"
    return InvalidArgument(f"{field}: {detail}".replace("Error creating flow run: ", ""), field=field)


class Orchestrator:
    def __init__(self, client: PrefectClient, deployment_owner: str = "admin"):
        self.client = client
        self.deployment_owner = deployment_owner
        self._deployments: dict[uuid.UUID, Any] = {}
        self._deployment_ids: dict[str, uuid.UUID] = {}

    async def _call(self, coro):
        try:
            return await coro
        except httpx.TransportError as exc:
            raise NoConnection(f"the Prefect API cannot be reached: {exc}") from exc

    # deployments ----------------------------------------------------------------------------

    async def deployment(self, deployment_id: uuid.UUID | None):
        if deployment_id is None:
            return None
        if deployment_id not in self._deployments:
            try:
                self._deployments[deployment_id] = await self._call(self.client.read_deployment(deployment_id))
            except ObjectNotFound:
                self._deployments[deployment_id] = None
        return self._deployments[deployment_id]

    async def deployment_ids(self, tools: list[str]) -> dict[str, uuid.UUID]:
        """Tool id -> id of its `default` deployment (tools not deployed are left out)."""
        for tool in tools:
            if tool not in self._deployment_ids:
                try:
                    deployment = await self._call(self.client.read_deployment_by_name(f"{tool}/{DEPLOYMENT_NAME}"))
                except ObjectNotFound:
                    continue
                self._deployment_ids[tool] = deployment.id
                self._deployments[deployment.id] = deployment
        return {t: self._deployment_ids[t] for t in tools if t in self._deployment_ids}

    # reading executions -----------------------------------------------------------------------

    async def flow_run(self, execution_id: str):
        run_id = parse_execution_id(execution_id)
        try:
            return await self._call(self.client.read_flow_run(run_id))
        except ObjectNotFound:
            raise JobNotFound(f"no execution {execution_id}", field="execution_id") from None

    async def child_runs(self, run_id: uuid.UUID) -> list:
        """Flow runs started inside this one (a pipeline's steps, when they are subflows)."""
        return await self._call(self.client.read_flow_runs(
            flow_run_filter=f.FlowRunFilter(parent_flow_run_id=f.FlowRunFilterParentFlowRunId(any_=[run_id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=PAGE, offset=0))

    async def task_runs(self, run_ids: list[uuid.UUID]) -> list:
        runs, offset = [], 0
        while True:
            page = await self._call(self.client.read_task_runs(
                task_run_filter=f.TaskRunFilter(flow_run_id=f.TaskRunFilterFlowRunId(any_=run_ids)),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=PAGE, offset=offset))
            runs += page
            if len(page) < PAGE:
                return runs
            offset += PAGE

    async def owner_of(self, flow_run) -> str:
        """The user an execution belongs to (see flows.runtime.owner_from_tags)."""
        deployment = await self.deployment(flow_run.deployment_id)
        return owner_from_tags(list(flow_run.tags), list(deployment.tags) if deployment else [])

    @staticmethod
    def tool_of(flow_run) -> str | None:
        tools = [t[len(TOOL_TAG):] for t in flow_run.tags if t.startswith(TOOL_TAG)]
        return tools[0] if tools else None

    async def list_runs(self, *, deployment_ids: list[uuid.UUID], state_types: list[str] | None,
                        owner_tag: str | None, cap: int) -> list:
        """Top-level flow runs of the given deployments, newest first, at most `cap`."""
        run_filter = f.FlowRunFilter(
            deployment_id=f.FlowRunFilterDeploymentId(any_=deployment_ids),
            parent_task_run_id=f.FlowRunFilterParentTaskRunId(is_null_=True),
            state=f.FlowRunFilterState(type=f.FlowRunFilterStateType(any_=state_types)) if state_types else None,
            tags=f.FlowRunFilterTags(all_=[owner_tag]) if owner_tag else None,
        )
        runs, offset = [], 0
        while len(runs) < cap:
            page = await self._call(self.client.read_flow_runs(
                flow_run_filter=run_filter, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=PAGE, offset=offset))
            runs += page
            if len(page) < PAGE:
                break
            offset += PAGE
        return runs[:cap]

    async def count_runs(self, *, deployment_ids: list[uuid.UUID], state_types: list[str]) -> int:
        return await self._call(self.client.count_flow_runs(flow_run_filter=f.FlowRunFilter(
            deployment_id=f.FlowRunFilterDeploymentId(any_=deployment_ids),
            parent_task_run_id=f.FlowRunFilterParentTaskRunId(is_null_=True),
            state=f.FlowRunFilterState(type=f.FlowRunFilterStateType(any_=state_types)),
        )))

    async def logs(self, run_ids: list[uuid.UUID], *, task_run_ids: list[uuid.UUID] | None = None,
                   min_level: int | None = None, after=None, offset: int = 0, limit: int = PAGE) -> list:
        log_filter = f.LogFilter(
            flow_run_id=f.LogFilterFlowRunId(any_=run_ids),
            task_run_id=f.LogFilterTaskRunId(any_=task_run_ids) if task_run_ids is not None else None,
            level=f.LogFilterLevel(ge_=min_level) if min_level is not None else None,
            timestamp=f.LogFilterTimestamp(after_=after) if after is not None else None,
        )
        out: list = []
        while len(out) < limit:
            want = min(PAGE, limit - len(out))
            page = await self._call(self.client.read_logs(
                log_filter, sort=LogSort.TIMESTAMP_ASC, limit=want, offset=offset + len(out)))
            out += page
            if len(page) < want:
                break
        return out

    # changing executions ---------------------------------------------------------------------

    async def submit(self, tool: str, parameters: dict, *, owner: str, idempotency_key: str | None):
        from prefect.deployments.flow_runs import arun_deployment

        try:
            return await self._call(arun_deployment(
                f"{tool}/{DEPLOYMENT_NAME}", client=self.client, parameters=parameters, timeout=0,
                tags=[f"{OWNER_TAG}{owner}"], idempotency_key=idempotency_key, as_subflow=False))
        except ObjectNotFound:
            raise NoConnection(f"the {tool}/{DEPLOYMENT_NAME} deployment is not served (is the runner up?)") from None
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code in (409, 422):
                raise refused_parameters(exc) from None
            raise

    async def set_state(self, run_id: uuid.UUID, state) -> None:
        await self._call(self.client.set_flow_run_state(run_id, state, force=True))

    async def rename(self, run_id: uuid.UUID, name: str) -> None:
        await self._call(self.client.update_flow_run(run_id, name=name))

    async def delete(self, run_id: uuid.UUID) -> None:
        try:
            await self._call(self.client.delete_flow_run(run_id))
        except ObjectNotFound:
            pass

    async def ping(self) -> dict:
        return {"version": await self._call(self.client.api_version())}
