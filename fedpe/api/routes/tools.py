"""Tools: GET /tools, /tools/{tool_id}, /tools/name/{name}."""

from __future__ import annotations

from fastapi import APIRouter

from fedpe.api.deps import CurrentUser, State
from fedpe.api.schemas import Tool
from fedpe.api.services import tools as service

router = APIRouter(prefix="/tools", tags=["tools"])


@router.get("", response_model=list[Tool], summary="Every tool: description, mode, tasks, parameter schema")
def list_tools(_: CurrentUser):
    return service.all_tools()


@router.get("/name/{name}", response_model=Tool, summary="A tool by its name")
def tool_by_name(_: CurrentUser, name: str):
    return service.by_name(name)


@router.get("/{tool_id}", response_model=Tool, summary="A tool by its id")
def get_tool(_: CurrentUser, tool_id: str):
    return service.describe(tool_id)
