"""What a host's worker may tell the scheduler about itself, as schemas (pydantic).

Dask's scheduler trusts the shape of a worker's `register-worker` and `heartbeat_worker`
messages: a registration whose metrics lack `bandwidth` fails half-way and leaves a worker
without a stream in the scheduler's tables (seen here: every later memory check raised), and
heartbeat `extensions` are handed to scheduler extensions as they come. The scheduler's guard
(fedpe/stack/scheduler_guard.py) therefore rewrites both messages from these models: every
field the scheduler reads, typed and bounded, and nothing else. Metrics the scheduler does not
read, other workers' bandwidths, extension data and host information are dropped; Dask only
draws them on its dashboard, which fedpe does not serve.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Count = Annotated[int, Field(ge=0, le=2**62)]
Amount = Annotated[float, Field(ge=0, le=1e18, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=4096)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False, frozen=True)


class Spilled(_Model):
    memory: Count = 0
    disk: Count = 0


class Bandwidth(_Model):
    total: Amount = 100e6  # Dask's own starting estimate


class Transfer(_Model):
    incoming_bytes: Count = 0
    incoming_count: Count = 0
    incoming_count_total: Count = 0
    outgoing_bytes: Count = 0
    outgoing_count: Count = 0
    outgoing_count_total: Count = 0


class Metrics(_Model):
    """The metrics Dask's scheduler reads from a worker (heartbeat_worker, WorkerState.memory)."""

    memory: Count = 0
    managed_bytes: Count = 0
    spilled_bytes: Spilled = Spilled()
    bandwidth: Bandwidth = Bandwidth()
    transfer: Transfer = Transfer()
    cpu: Amount = 0.0
    time: Amount = 0.0
    num_fds: Count = 0
    event_loop_interval: Amount = 0.0
    task_counts: dict[Annotated[str, Field(max_length=64)], Count] = Field(default_factory=dict, max_length=16)

    def for_scheduler(self) -> dict[str, Any]:
        out = self.model_dump()
        out["bandwidth"].update(workers={}, types={})
        out["digests_total_since_heartbeat"] = {}
        return out


def metrics(raw: Any) -> dict[str, Any]:
    """A worker's metrics as the scheduler may take them: known fields only, typed, or defaults."""
    if not isinstance(raw, dict):
        raise ValueError("metrics must be a mapping")
    return Metrics.model_validate(raw).for_scheduler()


class _WorkerMessage(_Model):
    """What both messages share: no field Dask does not take, metrics rebuilt, Dask's rpc serializers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: dict = Field(default_factory=dict)
    serializers: list[Annotated[str, Field(max_length=32)]] | None = Field(default=None, max_length=8)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> dict:
        return metrics(value)


class Registration(_WorkerMessage):
    """`register-worker` from a host's worker: the fields Dask's `add_worker` takes."""

    op: Literal["register-worker"]
    reply: bool = False
    address: Text
    name: Text
    status: Literal["init", "running", "paused", "closing_gracefully"]
    nthreads: Annotated[int, Field(ge=1, le=1024)]
    now: Amount
    resources: dict[Annotated[str, Field(max_length=64)], Amount] = Field(default_factory=dict, max_length=16)
    memory_limit: Count | None = None
    local_directory: Text = ""
    services: dict = Field(default_factory=dict)
    nanny: None = None
    pid: Count = 0
    versions: dict = Field(default_factory=dict)
    extra: dict = Field(default_factory=dict, max_length=0)
    stimulus_id: Text = "fedpe"
    server_id: Text = "fedpe"

    def for_scheduler(self) -> dict[str, Any]:
        out = self.model_dump()
        out["services"] = {}  # dashboard links only: a host's ports are nobody's business
        return out


class Heartbeat(_WorkerMessage):
    """`heartbeat_worker` from a host's worker."""

    op: Literal["heartbeat_worker"]
    reply: bool = True
    address: Text
    now: Amount
    executing: dict = Field(default_factory=dict)
    extensions: dict = Field(default_factory=dict)

    def for_scheduler(self) -> dict[str, Any]:
        out = self.model_dump()
        # Durations of the tasks it runs: only finite numbers, for keys the scheduler can look up.
        out["executing"] = {k: float(v) for k, v in list(self.executing.items())[:10_000]
                            if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                            and isinstance(k, (str, tuple))}
        out["extensions"] = {}  # handed to scheduler extensions as they come: never from a host
        return out


def rewrite(msg: dict) -> dict:
    """`msg` rebuilt from its schema; ValueError naming the field when it does not fit."""
    model = Registration if msg.get("op") == "register-worker" else Heartbeat
    try:
        return model.model_validate(msg).for_scheduler()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{msg.get('op')}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
