"""The runner: save the blocks, then serve every tool deployment (`python -m deployments.serve`).

It polls for scheduled runs every FEDPE_RUNNER_POLL_S seconds (default 0.25: submit-to-start
latency is mostly this polling, and Prefect's own setting takes whole seconds only), starts
each flow run from a preloaded fork server (deployments/fast_start.py), and runs at most
FEDPE_RUNNER_LIMIT flow runs at once.
"""

from __future__ import annotations

import asyncio
import os

from prefect.runner import Runner

from deployments import fast_start
from deployments.build import tool_deployments
from deployments.configure import configure_from_env


async def serve() -> None:
    # pause_on_shutdown=False: `fedpe down` must not turn off schedules a user turned on.
    runner = Runner(name="fedpe", limit=int(os.environ.get("FEDPE_RUNNER_LIMIT", "4")), pause_on_shutdown=False,
                    query_seconds=float(os.environ.get("FEDPE_RUNNER_POLL_S", "0.25")))
    for flow, options in tool_deployments(owner=os.environ.get("FEDPE_OWNER", "admin")):
        await runner.aadd_flow(flow, **options)
    await runner.start()


def main() -> None:
    configure_from_env()
    if os.environ.get("FEDPE_FAST_START", "1") != "0":
        fast_start.install()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
