"""Dask worker preload of a host (`dask worker --preload fedpe.host.preload`): the guard, the
role runtime and the host agent, installed before the worker takes any work.

The data folder and the policy file come from FEDPE_HOST_DATA_DIR and FEDPE_HOST_POLICY, set by
`fedpe host start` (which already checked the policy, so a bad one never gets this far).
"""

import os

from fedpe.host.agent import HostAgent
from fedpe.host.guard import WorkerGuard
from tasks.policy import load_policy
from tasks.host.runtime import HostRuntime


async def dask_setup(worker) -> None:
    data_dir = os.environ.get("FEDPE_HOST_DATA_DIR")
    if not data_dir:
        raise RuntimeError("FEDPE_HOST_DATA_DIR is not set: start hosts with `fedpe host start`")
    guard = WorkerGuard(worker).install()
    runtime = HostRuntime(worker, name=str(worker.name), data_dir=data_dir,
                          policy=load_policy(os.environ.get("FEDPE_HOST_POLICY") or None)).install()
    # The roles (numpy, pandas, the models) are imported when the first one starts, not here:
    # an idle host keeps only Dask, its guard and its agent in memory.
    await worker.plugin_add(HostAgent(data_dir, policy=runtime.policy, guard=guard, runtime=runtime),
                            name=HostAgent.name)
