"""The FEM status list of an execution: one entry per (part, role, host), pure functions only.

The rule (DESIGN.md "Status list"): every entry exists from submit and reads ``pending`` until
its task run starts; the server entry stays ``running`` while the flow run lives; entries left
pending or running when the flow run ends take its final state; Paused and Cancelling read as
``running``, Crashed as ``failed``. A client treats the execution as finished when no entry is
``pending`` or ``running``, so while the flow run lives at least one entry stays unfinished.
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
_FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
_LIVE = {"RUNNING", "PAUSED", "CANCELLING"}


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
    chose its hosts itself) are appended.
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
        status = status_of(obs.state_type) if obs else PENDING
        if flow_final:
            if status in UNFINISHED or (slot.role == "server" and flow_status in (FAILED, CANCELLED)):
                status = flow_status
        elif slot.role == "server" and flow in _LIVE and status != PENDING:
            status = RUNNING  # ended early (the flow still writes its outputs) or failed: not final yet
        entries.append({"node": slot.host, "task": slot.task, "status": status, "role": slot.role,
                        "part": slot.part, "_ended": obs.ended if obs else None})
    if not flow_final and not any(e["status"] in UNFINISHED for e in entries):
        # The flow still works (writing outputs, or it has not placed its roles): never read as
        # finished early. The last role to end stands for it.
        if entries:
            anchor = max(entries, key=lambda e: _sort_key(e["_ended"]))
            anchor["status"] = RUNNING if flow in _LIVE else PENDING
        else:
            entries.append({"node": "*", "task": "*", "status": RUNNING if flow in _LIVE else PENDING,
                            "role": "flow", "part": 0, "_ended": None})
    for entry in entries:
        del entry["_ended"]
    return entries
