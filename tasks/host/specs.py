"""What the flcore flow hands its roles: plain, picklable settings (validated by the flow)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tasks.privacy import DPConfig
from tasks.strategies.config import StrategyConfig


class TrainingSpec(BaseModel):
    """How every client trains, the same on every host."""

    model_config = ConfigDict(protected_namespaces=())

    dataset: str
    target: str = "target"
    #: The columns to train on (None: every column but the target).
    features: list[str] | None = None
    model: str = "logreg"
    model_options: dict = {}
    seed: int = 0
    validation_fraction: float = 0.2
    local_epochs: int = 1
    batch_size: int | None = None
    learning_rate: float = 0.1
    dp: DPConfig | None = None


class ServerSpec(BaseModel):
    """How the server runs the rounds."""

    model_config = ConfigDict(protected_namespaces=())

    execution_id: str
    flow_run_id: str
    owner: str = "unknown"
    tool: str = "flcore"
    clients: list[str]
    strategy: StrategyConfig
    rounds: int
    fraction_fit: float = 1.0
    min_clients: int = 1
    round_timeout_s: float = 60.0
    setup_timeout_s: float = 120.0
    checkpoint_every: int = 1
    initial_weights: str | None = None
    #: Fewest records a category needs on a host before the federation learns its name.
    min_count: int = 5
    #: Add a 0/1 column per numeric column that has missing values.
    missing_indicators: bool = False
    #: What fills a missing number: the federated mean, or the median of the pooled histogram.
    imputation: Literal["mean", "median"] = "mean"
    experiment: str = "flcore"
    parameters: dict = {}


class RoleSpec(BaseModel):
    """What the coordinator hands a host for one role: plain data, checked by the host's policy.

    `server` is the host whose server role may call this role's peer methods (clients);
    `peers` names the hosts a server calls (through the scheduler's relay: no host is dialed). `params` are the role's
    own settings (a TrainingSpec, a ServerSpec, fed-stats' options) as plain data.
    """

    execution_id: str
    flow_run_id: str
    task: str
    tool: str
    host: str
    owner: str = "unknown"
    dataset: str | None = None
    server: str | None = None
    peers: list[str] = []
    params: dict = {}
    idle_timeout_s: float = 300.0
