"""What every tool's flow needs at run time: the federation's Dask client and its settings.

The scheduler's address comes from the Federation block when a flow run starts, not at import
time: served runs re-import the flow's module, and one deployment must follow the federation
wherever `fedpe up` put it. Flows run their roles' Prefect tasks on threads of the flow's own
process (`role_task_runner`): each follows a role that runs on its host as a plain Dask task
(tasks/coordinator/remote.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect.task_runners import ThreadPoolTaskRunner

from blocks import Federation, OutputStore, StoreSpec, Tracking
from fedpe.errors import InvalidArgument
from flows.catalog import CheckContext
from tasks.conventions import RESULT_FILE
from tasks.hosts import AGENT_REFRESH_S, connected_hosts

if TYPE_CHECKING:
    from pydantic import BaseModel

BLOCK_NAME = "default"
OWNER_TAG = "fedpe-owner:"


#: One thread per role a flow follows; they mostly wait on their hosts.
ROLE_THREADS = 512
_CLIENTS: dict[str, Any] = {}


def role_task_runner() -> ThreadPoolTaskRunner:
    """The task runner of every tool's flow: role tasks are threads that follow their hosts."""
    return ThreadPoolTaskRunner(max_workers=ROLE_THREADS)


def federation_client(federation: Federation):
    """This process's Dask client of the federation (one per scheduler, reused by sub-flows).

    It never talks to hosts directly (`direct_to_workers=False`): what a host sends reaches it
    only through the scheduler, whose guard strips anything that would be unpickled here.
    """
    client = _CLIENTS.get(federation.scheduler_address)
    if client is None or client.status not in ("running", "connecting"):
        from distributed import Client

        client = Client(federation.scheduler_address, set_as_default=False, direct_to_workers=False,
                        **federation.client_kwargs())
        _CLIENTS[federation.scheduler_address] = client
    return client


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
        """The federation's Dask client (the coordinator's certificate)."""
        return federation_client(self.federation)

    def roles(self, *, with_control: bool = False):
        """The roles of this flow run, placed and followed through the federation's client.

        With `with_control`, a watcher carries stop, pause and cancel to them (federated tools).
        """
        from tasks.coordinator.control import ControlWatcher
        from tasks.coordinator.remote import RemoteRoles

        control = ControlWatcher(self.execution_id, self.flow_run_id, self.client()).start() if with_control else None
        return RemoteRoles(self.client(), self.store, control)

    def hosts(self) -> dict[str, str]:
        return connected_hosts(self.client())

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

    def check_context(self) -> CheckContext:
        """What this run's parameters are checked against: the same as the API checked them with."""
        from tasks.hosts import host_records

        return CheckContext(connected=self.hosts(), disabled=list(self.federation.disabled_hosts),
                            records=host_records(self.client()), owner=self.owner, store_url=self.store.url)

    def available_hosts(self) -> list[str]:
        """Connected hosts that are not disabled, sorted."""
        from tasks.hosts import available_hosts

        return available_hosts(self.hosts(), self.federation.disabled_hosts)


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
    store = OutputStore.load(BLOCK_NAME)  # its credentials come from the Secret block it references
    # Prefect writes this run's result through `fedpe-results`, which holds no credentials.
    store.configure_fsspec()
    return RunContext(
        execution_id=root_id,
        flow_run_id=own_id,
        owner=owner_from_tags(run_tags, deployment_tags),
        operator=owner_from_tags([], deployment_tags),
        federation=Federation.load(BLOCK_NAME),
        store=store.spec(),
        tracking=Tracking.load(BLOCK_NAME),
    )


def require(condition: bool, message: str, field: str) -> None:
    """Cross-field checks read as one line each in a tool's validator."""
    if not condition:
        raise InvalidArgument(message, field=field)


def advertised_dataset(record: dict | None, host: str, dataset: str) -> dict:
    """The catalogue entry of `dataset` in `host`'s advertised record. Refused naming what the host
    does list, and when a dataset just added to its folder shows: a user who has just copied
    one is told to wait seconds, not to look for a mistake."""
    datasets = {d["name"]: d for d in (record or {}).get("datasets", [])}
    if dataset not in datasets:
        raise InvalidArgument(
            f"dataset: {dataset!r} is not in the catalogue of host {host} (it lists: {', '.join(sorted(datasets)) or 'none'}; "
            f"a dataset added to a host's data folder is listed within {AGENT_REFRESH_S:.0f} s)", field="dataset")
    return datasets[dataset]


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
