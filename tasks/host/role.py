"""The base of every role a host plays: hooks named for when the host's runtime calls them.

The shape of dask's `WorkerPlugin`: a subclass overrides the hooks it needs, and the runtime
(tasks/host/runtime.py) calls them in this order, on the host, once the host's policy has
allowed the role:

- `__init__(context)`: read what the role needs (its data) before anyone may call it;
- `run()`: the role's life, on a thread of the host's role process; what it returns is the role's outcome;
- `close()`: always, after `run` returned or raised: let go of what the role holds.

While `run` runs, the runtime passes each call that reaches the host over its relay line to
the method of that name, if `methods_for(caller)` lists it; the answers of
`AUDITED_METHODS` (what the host's data gave) are written to the host's audit log before
they leave.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from tasks.host.context import RoleContext
from tasks.wire.identity import Identity

#: What a call to a role that has already ended says first (callers stop waiting for it).
ENDED = "role ended"


class Role(ABC):
    """A role of one execution on one host."""

    #: The task id the coordinator names the role by (`flcore-client`, `fed-stats`, ...).
    TASK_ID: ClassVar[str]
    #: What the execution's server host may call (and no other host).
    PEER_METHODS: ClassVar[frozenset[str]] = frozenset()
    #: What the coordinator may call.
    COORDINATOR_METHODS: ClassVar[frozenset[str]] = frozenset()
    #: Calls whose answers carry what the host's data gave: audited as "sent" before they leave.
    AUDITED_METHODS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, context: RoleContext):
        self.context = context

    @abstractmethod
    def run(self) -> dict:
        """The role's life; its return is the outcome the coordinator receives."""

    def close(self) -> None:
        """Let go of what the role holds; called after `run`, always (the runtime closes the peers it opened)."""

    def methods_for(self, caller: Identity) -> frozenset[str]:
        """The methods `caller` (named by its certificate) may call on this role."""
        if caller.kind == "coordinator":
            return self.COORDINATOR_METHODS
        if caller.is_host and caller.name == self.context.spec.server:
            return self.PEER_METHODS
        return frozenset()
