"""What every tool's flow needs at run time: the federation's task runner and its settings.

The task runner's address comes from the Federation block when a flow run starts, not at
import time: served runs re-import the flow's module, and one deployment must follow the
federation wherever `fedpe up` put it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect_dask import DaskTaskRunner

from blocks import Federation, OutputStore, StoreSpec, Tracking
from fedpe.errors import InvalidArgument
from tasks.conventions import RESULT_FILE
from tasks.hosts import check_hosts, connected_hosts

if TYPE_CHECKING:
    from pydantic import BaseModel

BLOCK_NAME = "default"
OWNER_TAG = "fedpe-owner:"


class FederationTaskRunner(DaskTaskRunner):
    """A DaskTaskRunner that connects to the scheduler named by the `default` Federation block."""

    def __init__(self, block_name: str = BLOCK_NAME, **kwargs: Any):
        self.block_name = block_name
        super().__init__(**kwargs)

    def duplicate(self) -> "FederationTaskRunner":
        return type(self)(block_name=self.block_name, address=self.address, client_kwargs=self.client_kwargs)

    def __enter__(self):
        if not self.address:
            federation = Federation.load(self.block_name)
            self.address = federation.scheduler_address
            self.client_kwargs = {**federation.client_kwargs(), **self.client_kwargs}
        return super().__enter__()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FederationTaskRunner) and self.block_name == other.block_name and super().__eq__(other)

    __hash__ = None  # mutable settings; equality only


@dataclass
class RunContext:
    """The settings a flow run works with, loaded once when it starts."""

    execution_id: str
    flow_run_id: str
    owner: str
    #: Who the deployment runs for (UI and scheduled runs); may read every execution.
    operator: str
    federation: Federation
    store: StoreSpec
    tracking: Tracking

    def client(self):
        """The Dask client of this flow run's task runner."""
        from prefect.context import get_run_context

        return get_run_context().task_runner.client

    def hosts(self) -> dict[str, str]:
        return connected_hosts(self.client())

    def check_hosts(self, requested: list[str], *, field: str) -> None:
        """Refuse unknown, disconnected or disabled hosts before any role is placed."""
        check_hosts(requested, self.hosts(), self.federation.disabled_hosts, field=field)

    def save_result(self, result: "BaseModel") -> None:
        """What the flow returns, for readers that have no Prefect result storage (the API)."""
        self.store.write_bytes(result.model_dump_json(indent=2).encode(), self.execution_id, RESULT_FILE)

    def check_readable(self, execution_id: str, *, field: str) -> None:
        """Refuse another user's execution: a run may reuse only its owner's outputs."""
        from fedpe.errors import AuthorizationError

        try:
            run_tags, deployment_tags = _tags_of(execution_id)
        except Exception:  # not a UUID, or no such flow run
            raise InvalidArgument(f"{field}: no execution {execution_id}", field=field) from None
        owner = owner_from_tags(run_tags, deployment_tags)
        if owner != self.owner and self.owner != self.operator:
            raise AuthorizationError(f"{field}: execution {execution_id} belongs to another user", field=field)

    def available_hosts(self) -> list[str]:
        """Connected hosts that are not disabled, sorted."""
        return sorted(h for h in self.hosts() if h not in self.federation.disabled_hosts)


def run_context() -> RunContext:
    """Load the blocks and identify this flow run.

    The execution id is the root flow run's id: a tool run inside a pipeline writes its outputs
    under the pipeline's execution. The owner comes from the root run's tags.
    """
    from prefect.runtime import flow_run

    from prefect.runtime import deployment

    own_id = str(flow_run.id)
    root_id = str(flow_run.root_flow_run_id or own_id)
    if root_id == own_id:  # this run's tags are at hand; only its deployment's need a call
        run_tags, deployment_tags = list(flow_run.tags or []), _deployment_tags(deployment.id)
    else:
        run_tags, deployment_tags = _tags_of(root_id)
    return RunContext(
        execution_id=root_id,
        flow_run_id=own_id,
        owner=owner_from_tags(run_tags, deployment_tags),
        operator=owner_from_tags([], deployment_tags),
        federation=Federation.load(BLOCK_NAME),
        store=OutputStore.load(BLOCK_NAME).spec(),
        tracking=Tracking.load(BLOCK_NAME),
    )


def wait_for_variable(client, name: str, roles: dict, timeout_s: float):
    """The value a role publishes in the Dask Variable `name`, failing as soon as any role does.

    A role that fails before it publishes would otherwise leave the flow waiting the whole
    timeout, and the role's own error (the one a user needs) would be lost to a TimeoutError.
    """
    from distributed import Variable

    variable = Variable(name, client=client)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return variable.get(timeout=0.5)
        except TimeoutError:
            pass
        for future in roles.values():
            if future.wrapped_future.done():
                future.result(timeout=5)  # raises the role's own error when it failed
        if time.monotonic() > deadline:
            raise TimeoutError(f"no value for {name} after {timeout_s:.0f} s")


def require(condition: bool, message: str, field: str) -> None:
    """Cross-field checks read as one line each in a tool's validator."""
    if not condition:
        raise InvalidArgument(message, field=field)


def owner_from_tags(run_tags: list[str], deployment_tags: list[str]) -> str:
    """The user an execution belongs to, from its flow run's tags and its deployment's.

    The API adds the submitter's owner tag to the deployment's own; Prefect merges tags as a
    set, so their order says nothing. The owner is the tag that is not the deployment's; a run
    with only the deployment's tag (Prefect UI, schedules) belongs to the deployment's owner.
    """
    owners = sorted(t[len(OWNER_TAG):] for t in run_tags if t.startswith(OWNER_TAG))
    own = {t[len(OWNER_TAG):] for t in deployment_tags if t.startswith(OWNER_TAG)}
    extra = [o for o in owners if o not in own]
    if extra:
        return extra[-1]
    if owners:
        return owners[-1]
    return sorted(own)[-1] if own else "unknown"


def _tags_of(flow_run_id: str) -> tuple[list[str], list[str]]:
    """Tags of a flow run and of its deployment (none for a run without one)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    return list(run.tags or []), _deployment_tags(run.deployment_id)


def _deployment_tags(deployment_id) -> list[str]:
    if not deployment_id:
        return []
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return list(client.read_deployment(deployment_id).tags or [])
