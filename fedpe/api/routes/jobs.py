"""Submitting work: POST /tools/job/{tool} (FEM) and POST /validate (the same checks, no run)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from fedpe.api.deps import CurrentUser, State
from fedpe.api.schemas import SubmitResponse, ValidateRequest, ValidateResponse

router = APIRouter(tags=["jobs"])


@router.post("/tools/job/{tool_id}", response_model=SubmitResponse,
             summary="Run a tool: server_node/client_nodes pick the hosts, the body holds its parameters")
async def submit(
    state: State, user: CurrentUser, tool_id: str,
    parameters: Annotated[dict[str, Any] | None, Body(description="The tool's parameters (see its schema).")] = None,
    server_node: Annotated[str | None, Query(description="The server host (federated tools).")] = None,
    client_nodes: Annotated[list[str] | None, Query(description="Client hosts; the hosts of a single-role tool.")] = None,
    submit_token: Annotated[str | None, Query(min_length=1, max_length=200,
                                              description="Same token + same request = same execution.")] = None,
):
    execution_id = await state.jobs.submit(user, tool_id, parameters, server_node=server_node,
                                           client_nodes=client_nodes, submit_token=submit_token)
    return SubmitResponse(execution_id=execution_id)


@router.post("/validate", response_model=ValidateResponse, summary="Check a submission without starting it")
async def validate(state: State, user: CurrentUser, request: ValidateRequest):
    params, problems = await state.jobs.validate(user, request.tool, request.parameters, request.server_node,
                                                 request.client_nodes)
    if problems:
        return ValidateResponse(
            valid=False, errors=[p.message for p in problems],
            problems=[{"field": p.field, "code": p.code, "message": p.message} for p in problems])
    return ValidateResponse(valid=True, parameters=params)
