"""Dask worker preload of a host (`dask worker --preload fedpe.host.preload`): the guard, the
role process's front and the host agent, installed before the worker takes any work.

The data folder and the policy file come from FEDPE_HOST_DATA_DIR and FEDPE_HOST_POLICY, set by
`fedpe host start` (which already checked the policy, so a bad one never gets this far).
"""

import os

from fedpe.host.agent import HostAgent
from fedpe.host.guard import WorkerGuard
from tasks.policy import load_policy
from tasks.host.role_process import RoleProcess


async def dask_setup(worker) -> None:
    data_dir = os.environ.get("FEDPE_HOST_DATA_DIR")
    if not data_dir:
        raise RuntimeError("FEDPE_HOST_DATA_DIR is not set: start hosts with `fedpe host start`")
    guard = WorkerGuard(worker).install()
    policy = load_policy(os.environ.get("FEDPE_HOST_POLICY") or None)  # read once: what the host advertises and applies
    roles = RoleProcess(worker, name=str(worker.name), policy=policy).install()
    # The roles (numpy, pandas, the models) run in a process of their own, started with the
    # first one (tasks/host/role_process.py): an idle host keeps only Dask, its guard and its agent.
    await worker.plugin_add(HostAgent(data_dir, policy=policy, guard=guard, runtime=roles), name=HostAgent.name)


async def dask_teardown(worker) -> None:
    roles = getattr(worker, "fedpe_runtime", None)
    if roles is not None:
        await roles.close()
