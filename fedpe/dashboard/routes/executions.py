"""Executions (/executions): the user's executions (admins: everyone's), filtered, sorted, paged,
rows live; /executions/{id}: one execution, its live regions, its stream, files and controls."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request

from fedpe.api import responses
from fedpe.api.deps import State
from fedpe.api.services import tools
from fedpe.api.services.executions import SORTS
from fedpe.api.status import STATES_BY_STATUS
from fedpe.api.streams import event_stream
from fedpe.dashboard import curves
from fedpe.dashboard.deps import Form, PageUser, first, redirect, render
from fedpe.errors import InvalidArgument
from fedpe.schemas import EXECUTION_CONTROLS, Execution, ExecutionPage, ExecutionStatus

router = APIRouter()
PER_PAGE = 25
DEFAULT_SORT = "created_at:desc"


def _query(status, tool, owner, sort, page) -> dict:
    return {k: v for k, v in {"status": status, "tool": tool, "owner": owner,
                              "sort": sort if sort != DEFAULT_SORT else None,
                              "page": page if page > 1 else None}.items() if v}


async def _rows(state, user, status, tool, owner, sort, page) -> dict:
    listed = ExecutionPage.model_validate(await state.executions.list(
        user, status=status, tool=tool or None, owner=owner or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
        sort=sort))
    query = _query(status, tool, owner, sort, page)
    return {"rows": listed.executions, "total": listed.total, "page": page,
            "pages": max(1, math.ceil(listed.total / PER_PAGE)), "query": query,
            "query_string": urlencode(query), "filters": {"status": status, "tool": tool, "owner": owner, "sort": sort}}


Page = Annotated[int, Query(ge=1, le=100_000)]


@router.get("/executions")
async def executions_page(request: Request, state: State, user: PageUser, status: ExecutionStatus | None = None,
                          tool: str | None = None, owner: str | None = None, sort: str = DEFAULT_SORT,
                          page: Page = 1):
    return render(request, "executions.html", {
        **await _rows(state, user, status, tool, owner, sort, page),
        "statuses": list(STATES_BY_STATUS), "tools": tools.tool_ids(), "sorts": SORTS})


@router.get("/executions/rows")
async def executions_rows(request: Request, state: State, user: PageUser, status: ExecutionStatus | None = None,
                          tool: str | None = None, owner: str | None = None, sort: str = DEFAULT_SORT,
                          page: Page = 1):
    return render(request, "_execution_rows.html", await _rows(state, user, status, tool, owner, sort, page))


# one execution -------------------------------------------------------------------------------

def _has_rounds(detail: Execution) -> bool:
    """A training: its tool takes `rounds`, or its progress counts them (a pipeline's training step)."""
    schema = tools.get(detail.tool)[1] if detail.tool in tools.tool_ids() else {}
    return "rounds" in (schema.get("properties") or {}) or detail.rounds is not None


def _controls(detail: Execution) -> list[str]:
    """The controls that apply now: abort while it lives; pause/resume/stop for trainings."""
    if detail.finished:
        return []
    if detail.status == "pending" or not _has_rounds(detail):
        return ["abort"]
    return ["resume" if detail.paused else "pause", "stop", "abort"]


async def _status(state, user, execution_id: str) -> dict:
    detail = Execution.model_validate(await state.executions.detail(execution_id, user))
    return {"e": detail, "controls": _controls(detail), "has_rounds": _has_rounds(detail)}


async def _files(state, user, execution_id: str) -> dict:
    return {"files": await state.data.list_files(execution_id, user, None)}


async def _report(state, user, execution_id: str) -> dict:
    return {"report": await state.executions.report(execution_id, user)}


async def _audit(state, user, execution_id: str) -> dict:
    return {"audit": await state.executions.audit(execution_id, user)}


@router.get("/executions/{execution_id}")
async def execution_page(request: Request, state: State, user: PageUser, execution_id: str):
    status = await _status(state, user, execution_id)  # 404 / 403 before anything else is read
    metrics, files, report, audit = await asyncio.gather(
        state.executions.metrics(execution_id, user), _files(state, user, execution_id),
        _report(state, user, execution_id), _audit(state, user, execution_id))
    return render(request, "execution.html", {**status, **files, **report, **audit, "metrics": metrics,
                                              "curves": curves.chooser(metrics["rows"])})


@router.get("/executions/{execution_id}/status")
async def status_region(request: Request, state: State, user: PageUser, execution_id: str):
    return render(request, "_execution_status.html", await _status(state, user, execution_id))


@router.get("/executions/{execution_id}/result")
async def result_region(request: Request, state: State, user: PageUser, execution_id: str):
    return render(request, "_execution_result.html", await _status(state, user, execution_id))


@router.get("/executions/{execution_id}/files")
async def files_region(request: Request, state: State, user: PageUser, execution_id: str):
    snap = await state.executions.readable(execution_id, user)
    return render(request, "_execution_files.html", {"e": {"id": snap.id}, **await _files(state, user, snap.id)})


@router.get("/executions/{execution_id}/report")
async def report_region(request: Request, state: State, user: PageUser, execution_id: str):
    return render(request, "_execution_report.html", await _report(state, user, execution_id))


@router.get("/executions/{execution_id}/audit")
async def audit_region(request: Request, state: State, user: PageUser, execution_id: str):
    snap = await state.executions.readable(execution_id, user)
    return render(request, "_execution_audit.html", {"e": {"id": snap.id}, **await _audit(state, user, snap.id)})


@router.get("/executions/{execution_id}/events")
async def events(state: State, user: PageUser, execution_id: str,
                 last_event_id: Annotated[str | None, Header()] = None):
    """The execution's event stream for the page, the session cookie as credential."""
    snap = await state.executions.readable(execution_id, user)
    return event_stream(state.streams, snap.id, last_event_id)


@router.get("/executions/{execution_id}/metrics.csv")
async def metrics_download(state: State, user: PageUser, execution_id: str):
    return responses.metrics_download(await state.executions.metrics(execution_id, user))


@router.get("/executions/{execution_id}/logs.txt")
async def logs_download(state: State, user: PageUser, execution_id: str):
    lines = await state.executions.logs(execution_id, user, node=None, level=None, offset=0, limit=10_000)
    return responses.log_text(lines)


@router.get("/executions/{execution_id}/download")
async def download(state: State, user: PageUser, execution_id: str, node: str | None = None, file: str | None = None):
    return responses.download(*await state.data.download(execution_id, user, node, file))


@router.post("/executions/{execution_id}/control")
async def control(request: Request, state: State, user: PageUser, execution_id: str, values: Form):
    action = first(values, "action")
    if action not in EXECUTION_CONTROLS:
        raise InvalidArgument(f"action: one of {', '.join(EXECUTION_CONTROLS)}", field="action")
    outcome = await state.executions.control(execution_id, user, action, f"from the dashboard by {user.name}")
    state.executions.forget(execution_id)
    return render(request, "_execution_status.html", {**await _status(state, user, execution_id),
                                                      "flash": outcome["message"]})


@router.post("/executions/{execution_id}/rename")
async def rename(request: Request, state: State, user: PageUser, execution_id: str, values: Form):
    name = first(values, "name").strip()
    if not 1 <= len(name) <= 100:
        raise InvalidArgument("name: 1 to 100 characters", field="name")
    await state.executions.rename(execution_id, user, name)
    return render(request, "_execution_header.html", await _status(state, user, execution_id))


@router.post("/executions/{execution_id}/clone")
async def clone(request: Request, state: State, user: PageUser, execution_id: str):
    cloned = await state.executions.clone(execution_id, user)
    return redirect(request, f"/executions/{cloned['execution_id']}")


@router.post("/executions/{execution_id}/delete")
async def delete(request: Request, state: State, user: PageUser, execution_id: str):
    await state.executions.delete(execution_id, user)
    return redirect(request, "/executions")
