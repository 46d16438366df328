"""Executions: FEM's status/cancel_run/logs/report, and the peers' list, detail, control,
rename, delete, clone, and live streams (SSE and WebSocket)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, Response
from sse_starlette.sse import EventSourceResponse

from fedpe.api import responses
from fedpe.api.deps import CurrentUser, State, StreamUser, authenticate, get_state
from fedpe.api.schemas import (AuditAnchor, CancelResponse, CloneResponse, ControlRequest, ControlResponse, DeleteResponse,
                               Execution, ExecutionPage, ExecutionStatus, Metrics, Report, RenameRequest, TaskStatus)
from fedpe.api.streams import event_stream
from fedpe.errors import FedpeError

router = APIRouter(prefix="/executions", tags=["executions"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("", response_model=ExecutionPage, summary="Executions (yours; all for admins), filtered and paged")
async def list_executions(
    state: State, user: CurrentUser,
    status: ExecutionStatus | None = None,
    tool: str | None = None, owner: str | None = None, limit: Limit = 50, offset: Offset = 0,
    sort: Annotated[str, Query(description="field[:asc|desc]: created_at, started_at, ended_at, name, status, "
                                           "tool, owner")] = "created_at:desc",
):
    return await state.executions.list(user, status=status, tool=tool, owner=owner, limit=limit, offset=offset,
                                       sort=sort)


@router.get("/status/{execution_id}", response_model=list[TaskStatus],
            summary="FEM status list: one entry per host task; the job is finished when no entry reads running",
            description="From submit until the execution ends, at least one entry's `status` reads `running` "
                        "(a role not yet started reads `running` with `state: pending`); then every entry reads "
                        "`completed`, `failed` or `cancelled`. Poll until no entry is `running`.")
async def status(state: State, user: CurrentUser, execution_id: str):
    return Response(await state.executions.status_json(execution_id, user), media_type="application/json")


@router.get("/cancel_run/{execution_id}", response_model=CancelResponse, summary="Cancel an execution (= abort)")
async def cancel_run(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.cancel(execution_id, user)


@router.post("/cancel_run/{execution_id}", response_model=CancelResponse, summary="Cancel an execution (= abort)")
async def cancel_run_post(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.cancel(execution_id, user)


@router.get("/logs/{execution_id}", summary="Logs: plain text, or JSON lines with format=json; by node and level",
            response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}, "application/x-ndjson": {}}}})
async def logs(
    state: State, user: CurrentUser, execution_id: str,
    format: Literal["text", "json"] = "text", node: str | None = None,
    level: Annotated[str | None, Query(description="Minimum level: DEBUG, INFO, WARNING, ERROR, CRITICAL or a number")] = None,
    offset: Offset = 0, limit: Limit = 1000,
):
    lines = await state.executions.logs(execution_id, user, node=node, level=level, offset=offset, limit=limit)
    return responses.logs(lines, format)


@router.get("/report/{execution_id}", response_model=Report,
            summary="Per host task: CPU seconds, peak memory, start/end/elapsed, exit code; and totals")
async def report(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.report(execution_id, user)


@router.get("/{execution_id}/metrics", response_model=Metrics,
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
            summary="One row per round: its metrics, each client's, and the dropped hosts (named as in MLflow)")
async def metrics(state: State, user: CurrentUser, execution_id: str, format: Literal["json", "csv"] = "json"):
    body = await state.executions.metrics(execution_id, user)
    return responses.metrics_download(body) if format == "csv" else body


@router.get("/{execution_id}/audit", response_model=list[AuditAnchor],
            summary="The heads of the hosts' audit logs, one per host role, recorded off the hosts as it ended")
async def audit(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.audit(execution_id, user)


@router.get("/{execution_id}", response_model=Execution, summary="The full picture of one execution")
async def get_execution(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.detail(execution_id, user)


@router.patch("/{execution_id}", response_model=Execution, summary="Rename an execution")
async def rename(state: State, user: CurrentUser, execution_id: str, body: RenameRequest):
    await state.executions.rename(execution_id, user, body.name)
    return await state.executions.detail(execution_id, user)


@router.delete("/{execution_id}", response_model=DeleteResponse,
               summary="Delete an execution with its outputs and MLflow run (stopping it first)")
async def delete(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.delete(execution_id, user)


@router.post("/{execution_id}/control", response_model=ControlResponse,
             summary="pause / resume / stop (between rounds) or abort (cancel)")
async def control(state: State, user: CurrentUser, execution_id: str, body: ControlRequest):
    return await state.executions.control(execution_id, user, body.action, body.reason)


@router.post("/{execution_id}/clone", response_model=CloneResponse,
             summary="Run the same tool with the same parameters again, as the caller")
async def clone(state: State, user: CurrentUser, execution_id: str):
    return await state.executions.clone(execution_id, user)


@router.get("/{execution_id}/stream", summary="Server-Sent Events: status, round (metrics), log, done",
            description="Every event has an `id:`; a client that reconnects with `Last-Event-ID` gets only the "
                        "events after it (204 once it got `done`). The stream ends after `done`.",
            response_class=EventSourceResponse, responses={200: {"content": {"text/event-stream": {}}},
                                                            204: {"description": "The stream ended already"}})
async def stream(state: State, user: StreamUser, execution_id: str,
                 last_event_id: Annotated[str | None, Header(description="The id of the last event received")] = None):
    snap = await state.executions.readable(execution_id, user)
    return event_stream(state.streams, snap.id, last_event_id)


@router.websocket("/{execution_id}/ws")
async def websocket(websocket: WebSocket, execution_id: str):
    """The same events as /stream, as JSON messages {"event", "data"}; auth by ?access_token= or header."""
    state = get_state(websocket)
    header = websocket.headers.get("authorization", "")
    credential = websocket.query_params.get("access_token") or (
        header[7:].strip() if header.lower().startswith("bearer ") else None)
    try:
        import anyio

        user = await anyio.to_thread.run_sync(authenticate, state, credential)
        snap = await state.executions.readable(execution_id, user)
    except FedpeError as exc:
        await websocket.close(code=4000 + exc.status_code, reason=exc.message[:120])
        return
    await websocket.accept()
    try:
        async for item in state.streams.subscribe(snap.id):
            await websocket.send_json(item)
        await websocket.close()
    except WebSocketDisconnect:
        pass
