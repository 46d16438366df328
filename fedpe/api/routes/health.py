"""Health: /health/live (the process answers), /health and /health/dependencies."""

from __future__ import annotations

from fastapi import APIRouter

from fedpe.api.deps import CurrentUser, State
from fedpe.api.schemas import Dependencies, Health
from fedpe.api.services import health as service

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The API process answers (no dependency checked, no credentials needed)")
def live() -> dict:
    return {"status": "ok"}


@router.get("", response_model=Health, summary="Overall health with each dependency's status and response time")
async def health(state: State, _: CurrentUser):
    return await service.health(state)


@router.get("/dependencies", response_model=Dependencies,
            summary="Prefect API, Dask scheduler, MLflow and the store: status, response time, version")
async def dependencies(state: State, _: CurrentUser):
    return {"dependencies": await service.dependencies(state)}
