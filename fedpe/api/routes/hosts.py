"""Hosts: connected, known-but-disconnected, disabled; heartbeat; admins disable and enable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fedpe.api.deps import AdminUser, CurrentUser, State
from fedpe.api.schemas import Heartbeat, Host, HostToggle
from fedpe.api.services import hosts as service
from fedpe.errors import NotFound

router = APIRouter(prefix="/hosts", tags=["hosts"])


@router.get("", response_model=list[Host], summary="Every host: connected, disconnected (last seen) or disabled")
async def list_hosts(state: State, _: CurrentUser):
    return await service.hosts(state.scheduler)


@router.get("/datasets", summary="Datasets on each host, by host name")
async def datasets(state: State, _: CurrentUser) -> dict[str, list[dict]]:
    return {h["name"]: h["datasets"] for h in await service.hosts(state.scheduler)}


@router.get("/resources", summary="Resources of the given hosts (all when none given), by host name")
async def resources(state: State, _: CurrentUser,
                    client_nodes: Annotated[list[str] | None, Query()] = None) -> dict[str, dict]:
    hosts = {h["name"]: h for h in await service.hosts(state.scheduler)}
    unknown = [n for n in client_nodes or [] if n not in hosts]
    if unknown:
        raise NotFound(f"client_nodes: no host {', '.join(map(repr, unknown))}", field="client_nodes")
    return {n: {**hosts[n]["resources"], "state": hosts[n]["state"]} for n in client_nodes or sorted(hosts)}


@router.get("/heartbeat", response_model=Heartbeat, summary="Whether a host is connected to the scheduler now")
async def heartbeat(state: State, _: CurrentUser, node_name: Annotated[str, Query(min_length=1)]):
    return await service.heartbeat(state.scheduler, node_name)


@router.get("/{host_id}", response_model=Host, summary="One host")
async def get_host(state: State, _: CurrentUser, host_id: str):
    return await service.host(state.scheduler, host_id)


@router.post("/{host_id}/disable", response_model=HostToggle, summary="Admins: give a host no new work")
async def disable(state: State, _: AdminUser, host_id: str):
    await service.host(state.scheduler, host_id)
    disabled = await service.set_disabled(host_id, True)
    return {"node": host_id, "state": "disabled", "disabled_hosts": disabled}


@router.post("/{host_id}/enable", response_model=HostToggle, summary="Admins: let a disabled host take work again")
async def enable(state: State, _: AdminUser, host_id: str):
    await service.host(state.scheduler, host_id)
    disabled = await service.set_disabled(host_id, False)
    return {"node": host_id, "state": (await service.host(state.scheduler, host_id))["state"],
            "disabled_hosts": disabled}
