"""Settings of a local stack and where its state lives (FEDPE_HOME, default ~/.fedpe)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

Port = Annotated[int, Field(ge=1, le=65535)]
#: Storage options that are credentials: kept out of `stack.json`.
SECRET_OPTIONS = ("key", "secret", "token", "password", "client_kwargs")


def default_home() -> Path:
    """FEDPE_HOME (default ~/.fedpe): the one place that reads it."""
    return Path(os.environ.get("FEDPE_HOME") or Path.home() / ".fedpe").expanduser().resolve()


class StackConfig(BaseModel):
    """Everything `fedpe up` needs to know; defaults give the demo federation."""

    home: Path = Field(default_factory=default_home)
    bind: str = "127.0.0.1"
    prefect_port: Port = 4200
    scheduler_port: Port = 8786
    dashboard_port: Port = 8787
    mlflow_port: Port = 5000
    api_port: Port = 8000
    hosts: Annotated[int, Field(ge=1, le=64)] = 3
    partition: Literal["iid", "dirichlet"] = "iid"
    alpha: Annotated[float, Field(gt=0)] = 0.5
    seed: int = 0
    data_format: Literal["csv", "parquet"] = "parquet"
    #: Share of the demo data's feature cells left blank (and a categorical column added), so the
    #: federated preparation of missing values runs in the demo and the tests.
    missing: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    store_url: str | None = None
    store_options: dict = Field(default_factory=dict)
    runner_limit: Annotated[int, Field(ge=1, le=64)] = 4
    host_threads: Annotated[int, Field(ge=1, le=64)] = 4
    #: The CPU priority (`nice`) of the demo hosts. They stand for other machines, yet here they
    #: share the coordinator's cores with the services users talk to (the API, Prefect), which
    #: should not wait behind fifty busy hosts. Each host's session is lowered too, where the
    #: kernel shares the CPU between sessions first (fedpe/stack/processes.py): there a session at
    #: nice 19 weighs 15 against a service's 1024, so fifty busy hosts weigh less than one busy
    #: service, and take the cores whenever the services leave them (at nice 10 they weighed 110
    #: each, five services' worth; 25-host status p99 13.2 ms at 10, 10.0 ms at 19, medians of
    #: five interleaved pairs). Hosts started with `fedpe host start` on their own machines keep
    #: their own priority.
    host_nice: Annotated[int, Field(ge=0, le=19)] = 19
    owner: str = "admin"
    serve_api: bool = True
    #: Each demo host in a network namespace of its own, behind a bridge (fedpe/stack/netns.py).
    netns: bool = False
    #: tc netem arguments for every host link (with `netns`), e.g. "delay 20ms loss 1%".
    netem: str | None = None
    #: Where the scheduler listens when hosts reach it from other machines or namespaces (default: `bind`).
    scheduler_host: str | None = None
    ready_timeout_s: float = 120.0

    @property
    def store(self) -> str:
        return self.store_url or f"file://{self.home / 'store'}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.bind}:{self.prefect_port}/api"

    @property
    def scheduler_address(self) -> str:
        """Always fedpe:// (mutual TLS read strictly, tasks/wire/transport.py); plain TCP is refused."""
        return f"fedpe://{self.scheduler_host or self.bind}:{self.scheduler_port}"

    def public_dict(self) -> dict:
        """The settings as `stack.json` keeps them: every credential left out."""
        raw = self.model_dump(mode="json")
        raw["store_options"] = {k: v for k, v in self.store_options.items() if k not in SECRET_OPTIONS}
        return raw

    @property
    def mlflow_uri(self) -> str:
        return f"http://{self.bind}:{self.mlflow_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.bind}:{self.api_port}"


def state_file(home: Path) -> Path:
    return home / "stack.json"
