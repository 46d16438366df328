"""Outputs: GET /data/list_files and /data/download_files (owner and admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from fedpe.api import responses
from fedpe.api.deps import CurrentUser, State
from fedpe.api.schemas import FilesOfNode

router = APIRouter(prefix="/data", tags=["data"])


@router.get("/list_files", response_model=dict[str, FilesOfNode],
            summary="Output files of an execution per node (all its hosts when no nodes are given)")
async def list_files(state: State, user: CurrentUser, execution_id: str | None = None,
                     nodes: Annotated[list[str] | None, Query()] = None):
    return await state.data.list_files(execution_id, user, nodes)


@router.get("/download_files", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}, "application/zip": {}}}},
            summary="One output file, or all of a node's outputs as a zip (streamed)")
async def download_files(state: State, user: CurrentUser, execution_id: str | None = None,
                         node: str | None = None, file: str | None = None):
    return responses.download(*await state.data.download(execution_id, user, node, file))
