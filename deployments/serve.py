"""The runner: save the blocks, then serve every tool deployment (`python -m deployments.serve`).

It polls every PREFECT_RUNNER_POLL_FREQUENCY seconds (set to 1 by `fedpe up`) so a submitted
run starts within about a second, and runs at most FEDPE_RUNNER_LIMIT flow runs at once.
"""

from __future__ import annotations

import os

from prefect import serve

from deployments.build import build_deployments
from deployments.configure import configure_from_env


def main() -> None:
    configure_from_env()
    deployments = build_deployments(owner=os.environ.get("FEDPE_OWNER", "admin"))
    # pause_on_shutdown=False: `fedpe down` must not turn off schedules a user turned on.
    serve(*deployments, limit=int(os.environ.get("FEDPE_RUNNER_LIMIT", "4")), pause_on_shutdown=False,
          print_starting_message=False)


if __name__ == "__main__":
    main()
