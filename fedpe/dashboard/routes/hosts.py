"""Hosts (/hosts): FEM's network table, refreshed by itself; admins disable and enable hosts."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fedpe.api.deps import State
from fedpe.api.services import hosts as service
from fedpe.dashboard.deps import AdminPage, PageUser, render
from fedpe.errors import NoConnection
from fedpe.schemas import Host

router = APIRouter()


async def _table(state) -> dict:
    try:
        return {"hosts": [Host.model_validate(h) for h in await service.hosts(state.scheduler)], "problem": None}
    except NoConnection as exc:  # the table says so and keeps polling
        return {"hosts": [], "problem": exc.message}


@router.get("/hosts")
async def hosts_page(request: Request, state: State, _: PageUser):
    return render(request, "hosts.html", await _table(state))


@router.get("/hosts/table")
async def hosts_table(request: Request, state: State, _: PageUser):
    return render(request, "_hosts_table.html", await _table(state))


async def _set(request: Request, state, name: str, disabled: bool):
    await service.host(state.scheduler, name)  # 404 for a host nobody knows
    await service.set_disabled(name, disabled)
    return render(request, "_hosts_table.html", await _table(state))


@router.post("/hosts/{name}/disable")
async def disable(request: Request, state: State, _: AdminPage, name: str):
    return await _set(request, state, name, True)


@router.post("/hosts/{name}/enable")
async def enable(request: Request, state: State, _: AdminPage, name: str):
    return await _set(request, state, name, False)
