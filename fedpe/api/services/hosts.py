"""Hosts: connected ones from the scheduler, known ones from their agents' records, disabled
ones from the Federation block (where runs that bypass the API read them too)."""

from __future__ import annotations

import asyncio
from typing import Any

from fedpe.api.services.scheduler import Scheduler
from fedpe.errors import NoConnection, NotFound

BLOCK_NAME = "default"
RUNNING, DISCONNECTED, DISABLED = "running", "disconnected", "disabled"
_EDIT = asyncio.Lock()  # one read-modify-write of the block at a time


async def _federation():
    from blocks import Federation

    try:
        return await Federation.aload(BLOCK_NAME)
    except ValueError as exc:  # no such block yet: the runner has not saved it
        raise NoConnection(f"the federation block {BLOCK_NAME!r} is not saved yet (is the runner up?)") from exc


async def disabled_hosts() -> list[str]:
    return list((await _federation()).disabled_hosts)


async def set_disabled(host: str, disabled: bool) -> list[str]:
    async with _EDIT:
        federation = await _federation()
        names = [h for h in federation.disabled_hosts if h != host]
        if disabled:
            names.append(host)
        federation.disabled_hosts = sorted(names)
        await federation.asave(BLOCK_NAME, overwrite=True)
        return federation.disabled_hosts


def _state(name: str, workers: dict, disabled: list[str]) -> str:
    if name in disabled:
        return DISABLED
    return RUNNING if name in workers else DISCONNECTED


async def hosts(scheduler: Scheduler) -> list[dict[str, Any]]:
    """Every host connected now or seen before, with its state and when it was last seen."""
    workers = await scheduler.workers()
    records = await scheduler.host_records()
    disabled = await disabled_hosts()
    out = []
    for name in sorted({*workers, *records}):
        record, worker = records.get(name, {}), workers.get(name)
        out.append({
            "name": name,
            "state": _state(name, workers, disabled),
            "connected": worker is not None,
            "disabled": name in disabled,
            "address": worker["address"] if worker else record.get("address"),
            "last_seen": (worker or {}).get("last_seen") or record.get("last_seen"),
            "started_at": record.get("started_at"),
            "nthreads": (worker or {}).get("nthreads") or record.get("nthreads"),
            "datasets": record.get("datasets", []),
            "resources": record.get("resources", {}),
            "versions": record.get("versions", {}),
            "policy": record.get("policy"),
        })
    return out


async def host(scheduler: Scheduler, name: str) -> dict[str, Any]:
    for record in await hosts(scheduler):
        if record["name"] == name:
            return record
    raise NotFound(f"no host {name!r}", field="host_id")


async def heartbeat(scheduler: Scheduler, name: str) -> dict[str, Any]:
    try:
        record = await host(scheduler, name)
    except NotFound as exc:
        raise NotFound(exc.message, field="node_name") from None
    return {"node": name, "state": record["state"], "last_seen": record["last_seen"]}


async def connected_enabled(scheduler: Scheduler) -> tuple[dict[str, str], list[str]]:
    """(name -> address of connected hosts, disabled names): what submit checks against."""
    workers = await scheduler.workers()
    return {n: w["address"] for n, w in workers.items()}, await disabled_hosts()
