"""Tools (/tools): the catalogue as cards; /tools/{tool}: the run form made from the tool's
parameter schema, checked live (/validate's checks) and sent with a submit token."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from fedpe.api.deps import State
from fedpe.api.services import hosts as host_service
from fedpe.api.services import tools as service
from fedpe.dashboard import forms
from fedpe.dashboard.deps import Form, PageUser, first, is_htmx, redirect, render
from fedpe.errors import Conflict, FedpeError, NoConnection
from fedpe.schemas import Execution, Host, Tool

router = APIRouter()


async def _federation(state) -> dict:
    """What the pickers offer: usable hosts, every host with its state, datasets by name."""
    try:
        hosts = [Host.model_validate(h) for h in await host_service.hosts(state.scheduler)]
    except NoConnection as exc:
        return {"usable": [], "hosts": [], "datasets": {}, "federation_problem": exc.message}
    usable = [h.name for h in hosts if h.state == "running"]
    datasets: dict[str, dict] = {}
    for host in hosts:
        if host.name not in usable:
            continue
        for ds in host.datasets:
            entry = datasets.setdefault(ds["name"], {"hosts": {}, "columns": []})
            entry["hosts"][host.name] = ds.get("rows")
            for column in ds.get("columns") or []:
                if column.get("name") not in entry["columns"]:
                    entry["columns"].append(column.get("name"))
    return {"usable": usable, "hosts": hosts, "datasets": datasets, "federation_problem": None}


def _problems(form_fields, values, problems: list[FedpeError]) -> dict:
    """Problems by the form input where each shows (None: only in the list above the button)."""
    by_slot: dict[str, str] = {}
    for problem in problems:
        where = forms.slot(form_fields, values, problem.field)
        if where and where not in by_slot:
            by_slot[where] = problem.message
    return {"problems": problems, "by_slot": by_slot, "fields": list(forms.all_fields(form_fields))}


@router.get("/tools")
async def catalogue(request: Request, _: PageUser):
    return render(request, "tools.html", {"tools": service.all_tools()})


async def _page(request: Request, state, tool: Tool, form_fields, values, problems, *, from_execution=None,
                status_code: int = 200, submit_token: str | None = None):
    return render(request, "tool.html", {
        "tool": tool, "form_fields": form_fields, "values": values, "from_execution": from_execution,
        "submit_token": submit_token or uuid.uuid4().hex, "checked": bool(problems),
        **await _federation(state), **_problems(form_fields, values, problems)}, status_code=status_code)


@router.get("/tools/{tool_id}")
async def run_form(request: Request, state: State, user: PageUser, tool_id: str, from_execution: str | None = None):
    tool = service.describe(tool_id)
    form_fields = forms.fields(tool.parameters)
    values = forms.initial(form_fields)
    if from_execution:  # "edit and run again": the form filled with that execution's parameters
        detail = Execution.model_validate(await state.executions.detail(from_execution, user))
        values.update(forms.filled(form_fields, detail.parameters))
    return await _page(request, state, tool, form_fields, values, [], from_execution=from_execution)


@router.post("/tools/{tool_id}/validate")
async def validate(request: Request, state: State, user: PageUser, tool_id: str, values: Form):
    form_fields = forms.fields(service.describe(tool_id).parameters)
    params, problems = forms.parameters(form_fields, values)
    if not problems:
        _, problems = await state.jobs.validate(user, tool_id, params)
    return render(request, "_problems.html", {"checked": True, **_problems(form_fields, values, problems)})


@router.post("/tools/{tool_id}/run")
async def run(request: Request, state: State, user: PageUser, tool_id: str, values: Form):
    tool = service.describe(tool_id)
    form_fields = forms.fields(tool.parameters)
    params, problems = forms.parameters(form_fields, values)
    token = first(values, "submit_token") or None
    if not problems:
        try:
            execution_id = await state.jobs.submit(user, tool_id, params, submit_token=token)
            return redirect(request, f"/executions/{execution_id}")
        except Conflict as exc:
            if exc.field != "submit_token":
                raise
            started = exc.details.get("execution_id")
            problems = [Conflict(f"submit_token: this form already started execution {started} with other values; "
                                 f"reload the page to start another", field="submit_token", details=exc.details)]
        except FedpeError as exc:
            if exc.status_code not in (403, 404, 422):  # outages are error pages, input problems stay here
                raise
            problems = [exc]
    if is_htmx(request):
        return render(request, "_problems.html", {"checked": True, **_problems(form_fields, values, problems)},
                      status_code=422)
    return await _page(request, state, tool, form_fields, values, problems, status_code=422, submit_token=token)
