"""Tasks: the roles of the tools (GET /tasks, /tasks/{task_id})."""

from __future__ import annotations

from fastapi import APIRouter

from fedpe.api.deps import CurrentUser
from fedpe.api.schemas import Task
from fedpe.api.services import tools as service

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=list[Task], summary="Every task (role) of every tool")
def list_tasks(_: CurrentUser):
    return service.tasks()


@router.get("/{task_id}", response_model=Task, summary="One task")
def get_task(_: CurrentUser, task_id: str):
    return service.task(task_id)
