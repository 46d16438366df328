"""What a tool is, for the API's `/tools` and `/tasks`: its roles, its mode, its parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class TaskSpec(BaseModel):
    """A role of a tool: the part of it that runs on one host."""

    id: str
    name: str
    tool: str
    role: Literal["server", "client", "worker"]
    description: str


class ToolSpec(BaseModel):
    """A tool: a Prefect flow deployed as `<id>/default`."""

    id: str
    name: str
    description: str
    mode: Literal["distributed", "federated"]
    tasks: list[TaskSpec]
    single_role: bool = True  # true: hosts go to `hosts`; false: `server` + `clients`
