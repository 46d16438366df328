"""The FEM status list of an execution: one entry per (part, role, host), pure functions only.

The rule (DESIGN.md "Status list (FEM)"), as FEM's own clients read it: they treat a job as
finished when no entry's `status` reads `running`, and never look for `pending`. So every
entry exists from submit, and while the flow run lives `status` reads `running` for every role
that has not ended and for the server entry; when all roles have ended but the flow still works,
the last role to end reads `running`. A role's own progress is in `state` (`pending` until
its task run starts). Entries left unfinished when the flow run ends take its final state;
Paused and Cancelling read as `running`, Crashed as `failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = "pending", "running", "completed", "failed", "cancelled"
UNFINISHED = (PENDING, RUNNING)

_BY_STATE_TYPE = {
    "SCHEDULED": PENDING, "PENDING": PENDING,
    "RUNNING": RUNNING, "PAUSED": RUNNING, "CANCELLING": RUNNING,
    "COMPLETED": COMPLETED, "FAILED": FAILED, "CRASHED": FAILED, "CANCELLED": CANCELLED,
}
#: fedpe's word -> the Prefect state types it stands for (the one mapping, read both ways).
STATES_BY_STATUS: dict[str, list[str]] = {
    status: [t for t, s in _BY_STATE_TYPE.items() if s == status] for status in (PENDING, RUNNING, COMPLETED,
                                                                                 FAILED, CANCELLED)}
_FINAL = {t for status in (COMPLETED, FAILED, CANCELLED) for t in STATES_BY_STATUS[status]}
_LIVE = set(STATES_BY_STATUS[RUNNING])


def _name(state_type: Any) -> str:
    return str(getattr(state_type, "value", state_type) or "").upper()


def status_of(state_type: Any) -> str:
    """fedpe's word for a Prefect state type (flow or task run); unknown reads as pending."""
    return _BY_STATE_TYPE.get(_name(state_type), PENDING)


def is_final(state_type: Any) -> bool:
    return _name(state_type) in _FINAL


@dataclass(frozen=True)
class Slot:
    """One expected entry: the role `task` of step `part` on `host`."""

    part: int
    task: str
    role: str
    host: str


@dataclass(frozen=True)
class Observed:
    """A role's task run as Prefect reports it."""

    task: str
    host: str
    state_type: str
    order: Any = None  # sortable: when the task run was expected to start
    ended: Any = None  # sortable: when it ended (None while it runs)


def expected_slots(tool: str, parameters: dict, spec_of: Callable[[str], Any]) -> list[Slot]:
    """The entries an execution has from submit, read from its parameters.

    Single-role tools list their `hosts`; the others a `server` and `clients`; a pipeline
    (`steps`) one part per step. Unknown tools or steps contribute nothing (their task runs
    still appear once they start).
    """
    steps = parameters.get("steps") if isinstance(parameters.get("steps"), list) else None
    if steps is not None:
        slots: list[Slot] = []
        for part, step in enumerate(steps):
            if isinstance(step, dict) and isinstance(step.get("tool"), str):
                slots += _slots_of(step["tool"], step.get("parameters") or {}, spec_of, part)
        return slots
    return _slots_of(tool, parameters, spec_of, 0)


def _slots_of(tool: str, parameters: dict, spec_of, part: int) -> list[Slot]:
    try:
        spec = spec_of(tool)
    except KeyError:
        return []
    if spec is None:
        return []
    roles = {t.role: t.id for t in spec.tasks}
    if spec.single_role:
        task = spec.tasks[0]
        hosts = parameters.get("hosts") or []
        return [Slot(part, task.id, task.role, str(h)) for h in hosts if isinstance(h, str)]
    slots = []
    server, clients = parameters.get("server"), parameters.get("clients") or []
    if isinstance(server, str) and "server" in roles:
        slots.append(Slot(part, roles["server"], "server", server))
    if "client" in roles:
        slots += [Slot(part, roles["client"], "client", str(c)) for c in clients if isinstance(c, str)]
    return slots


def _sort_key(value: Any) -> tuple:
    return (value is None, 0 if value is None else value)


def status_list(slots: Iterable[Slot], observed: Iterable[Observed], flow_state_type: Any,
                roles: dict[str, str] | None = None) -> list[dict]:
    """The status list: `slots` filled with `observed` task runs under the flow run's state.

    Task runs are matched to slots by (task, host) in start order, so a pipeline that runs the
    same role twice on one host fills its parts in turn; task runs no slot expected (a run that
    chose its hosts itself) are appended. Each entry carries FEM's `status` and the role's own
    `state` (its task run's, `pending` until it starts).
    """
    roles = roles or {}
    slots = list(slots)
    queues: dict[tuple[str, str], list[Observed]] = {}
    for obs in sorted(observed, key=lambda o: _sort_key(o.order)):
        queues.setdefault((obs.task, obs.host), []).append(obs)
    matched: list[tuple[Slot, Observed | None]] = []
    for slot in slots:
        queue = queues.get((slot.task, slot.host))
        matched.append((slot, queue.pop(0) if queue else None))
    last_part = max((s.part for s in slots), default=0)
    for (task, host), rest in queues.items():
        for obs in rest:
            matched.append((Slot(last_part, task, roles.get(task, "worker"), host), obs))

    flow = _name(flow_state_type)
    flow_final = flow in _FINAL
    flow_status = status_of(flow)
    entries = []
    for slot, obs in matched:
        state = status_of(obs.state_type) if obs else PENDING
        if flow_final:
            if state in UNFINISHED or (slot.role == "server" and flow_status in (FAILED, CANCELLED)):
                state = flow_status
            status = state
        elif state in UNFINISHED or slot.role == "server":
            status = RUNNING  # the job lives: a role not yet started, or a server whose flow still works
        else:
            status = state
        entries.append({"node": slot.host, "task": slot.task, "status": status, "state": state,
                        "role": slot.role, "part": slot.part, "_ended": obs.ended if obs else None})
    if not flow_final and not any(e["status"] == RUNNING for e in entries):
        # Every role ended but the flow still works (writing its outputs): never read as finished
        # early. The last role to end stands for it.
        if entries:
            max(entries, key=lambda e: _sort_key(e["_ended"]))["status"] = RUNNING
        else:
            entries.append({"node": "*", "task": "*", "status": RUNNING, "state": status_of(flow),
                            "role": "flow", "part": 0, "_ended": None})
    for entry in entries:
        del entry["_ended"]
    return entries
