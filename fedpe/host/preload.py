"""Dask worker preload that installs the host agent (`dask worker --preload fedpe.host.preload`).

The data folder comes from FEDPE_HOST_DATA_DIR, set by `fedpe host start`.
"""

import os

from fedpe.host.agent import HostAgent


async def dask_setup(worker) -> None:
    data_dir = os.environ.get("FEDPE_HOST_DATA_DIR")
    if not data_dir:
        raise RuntimeError("FEDPE_HOST_DATA_DIR is not set: start hosts with `fedpe host start`")
    await worker.plugin_add(HostAgent(data_dir), name=HostAgent.name)
    # Import the roles now, while the host starts, not when the first execution unpickles them.
    import tasks.roles.client  # noqa: F401
    import tasks.roles.health  # noqa: F401
    import tasks.roles.server  # noqa: F401
    import tasks.roles.stats  # noqa: F401
