"""GET /queue/status: how many executions are queued, running, finished."""

from __future__ import annotations

from fastapi import APIRouter

from fedpe.api.deps import CurrentUser, State
from fedpe.api.schemas import QueueStatus

router = APIRouter(prefix="/queue", tags=["queue"])


@router.get("/status", response_model=QueueStatus, summary="Counts of executions per state")
async def queue_status(state: State, _: CurrentUser):
    return await state.executions.queue()
