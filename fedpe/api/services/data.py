"""Outputs of an execution, per host: listing and streamed downloads (owner and admins only)."""

from __future__ import annotations

from typing import Any, Iterator

from fedpe.api.paths import safe_component
from fedpe.api.services.executions import Executions, fem_hosts
from fedpe.api.services.outputs import Outputs
from fedpe.auth.users import User
from fedpe.errors import InvalidArgument, NotFound


class Data:
    def __init__(self, executions: Executions, outputs: Outputs):
        self.executions = executions
        self.outputs = outputs

    async def _hosts(self, snap) -> list[str]:
        return sorted({*fem_hosts(snap), *(h for _, h, _ in snap.roles()), *await self.outputs.hosts_with_outputs(snap.id)})

    async def list_files(self, execution_id: str | None, user: User, nodes: list[str] | None) -> dict[str, Any]:
        if not execution_id:
            raise InvalidArgument("execution_id: required", field="execution_id")
        snap = await self.executions.readable(execution_id, user)
        hosts = await self._hosts(snap)
        wanted = [safe_component(n, field="nodes") for n in nodes or [] if n] or hosts
        strangers = [n for n in wanted if n not in hosts]
        if strangers:
            raise NotFound(f"nodes: {', '.join(strangers)} not part of execution {snap.id} "
                           f"(its hosts: {', '.join(hosts) or 'none'})", field="nodes")
        out = {}
        for node in wanted:
            files = await self.outputs.host_files(snap.id, node)
            out[node] = {"files": [f["name"] for f in files], "sizes": {f["name"]: f["size"] for f in files}}
        return out

    async def download(self, execution_id: str | None, user: User, node: str | None,
                       file: str | None) -> tuple[Iterator[bytes], str, str, int | None]:
        """(chunks, file name, media type, size or None) of one file, or of a host's outputs zipped."""
        if not execution_id:
            raise InvalidArgument("execution_id: required", field="execution_id")
        if not node:
            raise InvalidArgument("node: required (one of the execution's hosts)", field="node")
        snap = await self.executions.readable(execution_id, user)
        safe_component(node, field="node")
        if file:
            chunks, size = await self.outputs.open_file(snap.id, node, file)
            return chunks, file.rsplit("/", 1)[-1], "application/octet-stream", size
        files = [f["name"] for f in await self.outputs.host_files(snap.id, node)]
        if not files:
            raise NotFound(f"node {node!r} has no outputs in execution {snap.id}", field="node")
        return self.outputs.archive(snap.id, node, files), f"{snap.id}-{node}.zip", "application/zip", None
