"""The host agent: a Dask WorkerPlugin that advertises a host's datasets, resources and policy.

It publishes a record in the scheduler's metadata when the worker starts and refreshes it
periodically (the refresh is the host's heartbeat: `last_seen`). The record stays after the
host leaves, so the API can list a known host as disconnected with when it was last seen. Each
refresh also reads the federation's list of revoked certificates, which the host's guard then
refuses as peers.

An idle host must cost next to nothing, so a refresh is cheap: the catalogue is rescanned
only when a dataset file changed (stat calls tell), and the scan runs in a short-lived child
process (`python -m tasks.data.scan`, which remembers its result in the data folder), so
pandas and pyarrow are loaded into the worker only when a role reads data, not to list it.
Library versions are read once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback

from tasks.data.catalogue import catalogue_signature
from tasks.data.scan import remembered
from tasks.hosts import AGENT_PLUGIN_NAME, AGENT_REFRESH_S, FEDERATION_METADATA_KEY, HOSTS_METADATA_KEY
from tasks.resources import snapshot, versions

logger = logging.getLogger("fedpe.host")


class HostAgent(WorkerPlugin):
    """Advertises what a host holds; the only place that scans the host's data folder."""

    name = AGENT_PLUGIN_NAME

    def __init__(self, data_dir: str | os.PathLike, *, refresh_s: float = AGENT_REFRESH_S, policy=None, guard=None,
                 runtime=None):
        if refresh_s <= 0:
            raise ValueError("refresh_s must be positive")
        self.data_dir = str(Path(data_dir).resolve())
        self.refresh_s = refresh_s
        self.policy = policy
        self.guard = guard
        self.runtime = runtime
        self._worker = None
        self._callback: PeriodicCallback | None = None
        self._started_at = dt.datetime.now(dt.timezone.utc).isoformat()
        self._versions = versions()
        self._signature: tuple | None = None
        self._datasets: list[dict] = []

    async def setup(self, worker) -> None:
        self._worker = worker
        await self.publish()
        self._callback = PeriodicCallback(self.publish, self.refresh_s * 1000)
        self._callback.start()

    async def teardown(self, worker) -> None:
        if self._callback is not None:
            self._callback.stop()

    def record(self) -> dict:
        """What this host advertises: datasets, resources, versions, last seen."""
        worker = self._worker
        return {
            "name": str(worker.name),
            "address": worker.address,
            "data_dir": self.data_dir,
            "pid": os.getpid(),
            "nthreads": worker.state.nthreads,
            "started_at": self._started_at,
            "last_seen": dt.datetime.now(dt.timezone.utc).isoformat(),
            "datasets": self._datasets,
            "resources": snapshot(self.data_dir),
            "versions": self._versions,
            "policy": self.policy.summary() if self.policy is not None else None,
            "roles": self.runtime.live_roles() if self.runtime is not None else 0,
        }

    async def refresh_catalogue(self) -> None:
        """Rescan the data folder, in a child process, when a dataset file changed since the last scan."""
        signature = catalogue_signature(self.data_dir)
        if signature == self._signature:
            return
        known = remembered(self.data_dir, signature)
        if known is not None:
            self._datasets, self._signature = known, signature
            return
        scan = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tasks.data.scan", self.data_dir,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await scan.communicate()
        if scan.returncode != 0:
            raise RuntimeError(f"scanning {self.data_dir} failed: {err.decode(errors='replace')[-500:]}")
        self._datasets, self._signature = json.loads(out), signature

    async def publish(self) -> None:
        try:
            await self.refresh_catalogue()
            record = self.record()
            await self._worker.scheduler.set_metadata(keys=[HOSTS_METADATA_KEY, record["name"]], value=record)
            federation = await self._worker.scheduler.get_metadata(keys=[FEDERATION_METADATA_KEY], default={})
            if self.guard is not None:  # role calls come through the relay, which TLS already refuses revoked
                self.guard.revoked = set((federation or {}).get("revoked") or ())
        except Exception:  # a failed heartbeat must never take the worker down
            logger.exception("fedpe host agent could not publish its record")
