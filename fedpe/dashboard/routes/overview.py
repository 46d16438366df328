"""Overview (/): executions per state, the dependencies' health, the latest executions."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fedpe.api.deps import State
from fedpe.api.services import health
from fedpe.dashboard.deps import PageUser, render
from fedpe.schemas import ExecutionPage, ExecutionSummary

router = APIRouter()
LATEST = 8


async def _latest(state, user) -> list[ExecutionSummary]:
    return ExecutionPage.model_validate(await state.executions.list(
        user, status=None, tool=None, owner=None, limit=LATEST, offset=0, sort="created_at:desc")).executions


@router.get("/")
async def overview(request: Request, state: State, user: PageUser):
    return render(request, "overview.html", {"queue": await state.executions.queue(),
                                             "latest": await _latest(state, user)})


@router.get("/overview/counts")
async def counts(request: Request, state: State, _: PageUser):
    return render(request, "_counts.html", {"queue": await state.executions.queue()})


@router.get("/overview/health")
async def dependencies(request: Request, state: State, _: PageUser):
    return render(request, "_health.html", {"dependencies": await health.dependencies(state)})


@router.get("/overview/latest")
async def latest(request: Request, state: State, user: PageUser):
    return render(request, "_latest.html", {"latest": await _latest(state, user)})
