"""One real local federation for the whole session: Prefect server, Dask scheduler, three named
host workers in their own processes, the runner, MLflow on SQLite and the API."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest



@pytest.fixture(scope="session")
def stack():
    from fedpe.stack import launcher
    from fedpe.stack.config import StackConfig

    ports, home = json.loads(os.environ["FEDPE_TEST_PORTS"]), os.environ["FEDPE_HOME"]
    config = StackConfig(
        home=Path(home), prefect_port=ports["prefect"], scheduler_port=ports["scheduler"],
        dashboard_port=ports["dashboard"], mlflow_port=ports["mlflow"], api_port=ports["api"],
        hosts=3, runner_limit=4,
    )
    running = launcher.up(config)
    try:
        yield running
    finally:
        launcher.down(config.home)


@pytest.fixture(scope="session")
def dask_client(stack):
    from distributed import Client

    from fedpe.stack.launcher import client_security

    client = Client(stack.config.scheduler_address, timeout="10s", set_as_default=False,
                    security=client_security(stack.config))
    yield client
    client.close()
