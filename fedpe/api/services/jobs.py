"""Submitting a tool: FEM's query parameters onto the flow's fields, checks, then a flow run.

`server_node` -> `server`, `client_nodes` -> `clients` (for a single-role tool both go to
`hosts`); given both in the query and the body and different is a 422. A single-role tool asked
for no hosts runs on the connected, enabled hosts, resolved here and passed explicitly so the
status list knows them from submit.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio

from fedpe.api.idempotency import SubmitTokens, request_sha256
from fedpe.api.services import hosts as host_service
from fedpe.api.services import tools
from fedpe.api.services.orchestrator import Orchestrator
from fedpe.api.services.scheduler import Scheduler
from fedpe.api.services.outputs import Outputs
from fedpe.auth.users import User
from fedpe.errors import (AuthorizationError, Conflict, FedpeError, HostNotAvailable, InvalidArgument, JobNotFound,
                          NotFound)
from flows import catalog
from flows.spec import ToolSpec
from tasks.hosts import available_hosts

TOKEN_WAIT_S = 30.0


def _same_hosts(a: Any, b: list[str]) -> bool:
    return isinstance(a, list) and all(isinstance(x, str) for x in a) and sorted(a) == sorted(b)


def apply_nodes(spec: ToolSpec, properties: set[str], body: dict[str, Any],
                server_node: str | None, client_nodes: list[str] | None) -> dict[str, Any]:
    """The flow's parameters from the JSON body and FEM's `server_node`/`client_nodes`."""
    params = dict(body)
    server_node = server_node or None
    # FEM repeats client_nodes; a comma-separated list (as the CLI takes it) means the same.
    client_nodes = [c.strip() for value in (client_nodes or []) for c in value.split(",") if c.strip()]
    if spec.single_role and "hosts" in properties:
        query = ([server_node] if server_node else []) + [c for c in client_nodes if c != server_node]
        if query:
            if params.get("hosts") not in (None, []) and not _same_hosts(params["hosts"], query):
                raise InvalidArgument("client_nodes: differs from the body's `hosts`; give the hosts once",
                                      field="client_nodes", details={"body_field": "hosts"})
            params["hosts"] = query
    elif "server" in properties or "clients" in properties:
        if server_node is not None:
            if params.get("server") not in (None, server_node):
                raise InvalidArgument("server_node: differs from the body's `server`; give the server once",
                                      field="server_node", details={"body_field": "server"})
            params["server"] = server_node
        if client_nodes:
            if params.get("clients") not in (None, []) and not _same_hosts(params["clients"], client_nodes):
                raise InvalidArgument("client_nodes: differs from the body's `clients`; give the clients once",
                                      field="client_nodes", details={"body_field": "clients"})
            params["clients"] = client_nodes
    elif server_node or client_nodes:
        field = "server_node" if server_node else "client_nodes"
        raise InvalidArgument(f"{field}: tool {spec.id!r} takes its hosts in its parameters", field=field)
    return apply_aliases(params, properties)


#: FEM's names of flcore's parameters: a FEM job's body runs unchanged.
FEM_ALIASES = {"train_labels": "features", "target_label": "target"}


def apply_aliases(params: dict[str, Any], properties: set[str]) -> dict[str, Any]:
    """FEM's `train_labels` (a list or one space-separated string) and `target_label` as fedpe's names;
    both spellings given with different values is a 422 naming FEM's. FEM's model names (`xgb`,
    `lsvc`, `nn`, `logistic_regression`) become fedpe's, and a job that names no model trains
    FEM's default, a random forest (through Prefect, fedpe's own default is `logreg`)."""
    from tasks.models.config import FEM_DEFAULT_MODEL, fem_model
    from tasks.features import parse_features

    if "model" in properties:
        params["model"] = fem_model(params["model"]) if params.get("model") is not None else FEM_DEFAULT_MODEL

    for alias, name in FEM_ALIASES.items():
        if alias not in params or name not in properties:
            continue
        value = params.pop(alias)
        if name == "features":
            try:
                value = parse_features(value)
            except ValueError as exc:
                raise InvalidArgument(f"{alias}: {exc}", field=alias) from None
        if params.get(name) not in (None, value):
            raise InvalidArgument(f"{alias}: differs from the body's `{name}`; give it once", field=alias,
                                  details={"body_field": name})
        params[name] = value
    return params


def schema_errors(parameters: dict[str, Any], schema: dict) -> list[InvalidArgument]:
    """The flow signature's checks (types, limits, unknown names), as Prefect would apply them."""
    from prefect.utilities.schema_tools.validation import validate

    errors: list[InvalidArgument] = []
    known = set((schema.get("properties") or {}))
    for name in parameters:
        if name not in known:
            errors.append(InvalidArgument(f"{name}: unknown parameter (known: {', '.join(sorted(known))})", field=name))
    for error in validate(parameters, schema, raise_on_error=False):
        path = error.json_path.removeprefix("$").removeprefix(".") or "parameters"
        precise = precise_problem(parameters, path)
        if precise:
            path, message = precise
            errors.append(InvalidArgument(f"{path}: {message}", field=path))
            continue
        errors.append(InvalidArgument(f"{path}: {error.message}", field=path))
    return errors


def precise_problem(parameters: dict[str, Any], path: str) -> tuple[str, str] | None:
    """A sharper (field, message) than JSON schema's for a union-typed field: the strategy."""
    from tasks.strategies.config import strategy_problem

    if path == "strategy" or path.startswith("strategy."):
        return strategy_problem(parameters.get("strategy"))
    return None


def _host_checks(tool: str, params: dict, connected: dict[str, str], disabled: list[str], prefix: str = "") -> None:
    """Every host a request names is connected and enabled (work pinned elsewhere would wait forever)."""
    from tasks.hosts import check_hosts

    if isinstance(params.get("steps"), list):
        for i, step in enumerate(params["steps"]):
            if isinstance(step, dict) and step.get("tool") in tools.tool_ids():
                _host_checks(step["tool"], step.get("parameters") or {}, connected, disabled, f"steps.{i}.parameters.")
        return
    if isinstance(params.get("hosts"), list):
        check_hosts(params["hosts"], connected, disabled, field=f"{prefix}hosts")
    if isinstance(params.get("server"), str):
        check_hosts([params["server"]], connected, disabled, field=f"{prefix}server")
    if isinstance(params.get("clients"), list):
        check_hosts(params["clients"], connected, disabled, field=f"{prefix}clients")


def _as_invalid(exc: Exception) -> InvalidArgument:
    """A pydantic ValidationError from a tool's validator, as a 422 naming its first field."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "parameters"
            return InvalidArgument(f"{field}: {first.get('msg')}", field=field)
        except Exception:
            pass
    return InvalidArgument(f"parameters: {exc}", field="parameters")


def _checkpoints(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(field, reference) of every `initial_weights` a request names, pipeline steps included."""
    found = []
    if isinstance(params.get("initial_weights"), str) and params["initial_weights"]:
        found.append((f"{prefix}initial_weights", params["initial_weights"]))
    for i, step in enumerate(params.get("steps") or []):
        if isinstance(step, dict) and isinstance(step.get("parameters"), dict):
            found += _checkpoints(step["parameters"], f"{prefix}steps.{i}.parameters.")
    return found


class Jobs:
    def __init__(self, orchestrator: Orchestrator, scheduler: Scheduler, submit_tokens: SubmitTokens,
                 outputs: Outputs):
        self.orchestrator = orchestrator
        self.scheduler = scheduler
        self.submit_tokens = submit_tokens
        self.outputs = outputs

    async def checkpoint_problems(self, params: dict, user: User | None) -> list[FedpeError]:
        """A run may start only from a model file of an execution its submitter may read."""
        from flows.flcore import checkpoint_parts

        problems: list[FedpeError] = []
        for field, ref in _checkpoints(params):
            try:
                parts = checkpoint_parts(ref, self.outputs.spec.url)
                flow_run = await self.orchestrator.flow_run(parts[0])
                if user is not None and not user.may_read(await self.orchestrator.owner_of(flow_run)):
                    raise AuthorizationError(f"{field}: execution {parts[0]} belongs to another user", field=field)
                if not await anyio.to_thread.run_sync(lambda: self.outputs.spec.exists(*parts)):
                    raise InvalidArgument(f"{field}: no file {'/'.join(parts)} in the store", field=field)
            except JobNotFound:
                problems.append(InvalidArgument(f"{field}: no execution {ref.split('/')[0]!r}", field=field))
            except FedpeError as exc:
                exc.details["field"] = field
                problems.append(exc)
        return problems

    def request(self, tool: str, body: dict[str, Any] | None, server_node: str | None,
                client_nodes: list[str] | None) -> tuple[ToolSpec, dict, dict[str, Any]]:
        spec, schema = tools.get(tool)
        if body is not None and not isinstance(body, dict):
            raise InvalidArgument("body: the tool's parameters as a JSON object", field="body")
        params = apply_nodes(spec, set(schema.get("properties") or {}), body or {}, server_node, client_nodes)
        return spec, schema, params

    async def check(self, tool: str, spec: ToolSpec, schema: dict, params: dict[str, Any],
                    user: User | None = None) -> dict[str, Any]:
        """Every check a submission passes, without starting anything; returns what would run.

        Raises the first problem; `problems()` collects them all for POST /validate.
        """
        problems = await self.problems(tool, spec, schema, params, user)
        if problems:
            raise problems[0]
        return params

    async def problems(self, tool: str, spec: ToolSpec, schema: dict, params: dict[str, Any],
                       user: User | None = None) -> list[FedpeError]:
        errors: list[FedpeError] = list(schema_errors(params, schema))
        if errors:
            return errors
        connected, disabled = await host_service.connected_enabled(self.scheduler)
        properties = set(schema.get("properties") or {})
        if spec.single_role and "hosts" in properties and not params.get("hosts"):
            available = available_hosts(connected, disabled)
            if not available:
                return [HostNotAvailable("hosts: no host is connected and enabled", field="hosts")]
            params["hosts"] = available
        try:
            _host_checks(tool, params, connected, disabled)  # whatever the tool's own validator checks
            records = await self.scheduler.host_records()
            ctx = catalog.CheckContext(connected=connected, disabled=list(disabled), records=records,
                                       owner=user.name if user else "unknown", store_url=self.outputs.spec.url)
            checked = await anyio.to_thread.run_sync(lambda: catalog.validate(tool, params, ctx))
            params.clear()  # JSON-ready, as the flow will see them
            params.update(checked)
        except FedpeError as exc:
            errors.append(exc)
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            errors.append(_as_invalid(exc))
        if not errors:
            errors += await self.checkpoint_problems(params, user)
        return errors

    async def validate(self, user: User, tool: str, body: dict[str, Any] | None, server_node: str | None = None,
                       client_nodes: list[str] | None = None) -> tuple[dict[str, Any] | None, list[FedpeError]]:
        """(what would run, every problem) of a submission, without starting it (POST /validate).
        An unknown tool or bad hosts are problems; an outage raises."""
        try:
            spec, schema, params = self.request(tool, body, server_node, client_nodes)
            problems = await self.problems(tool, spec, schema, params, user)
        except (InvalidArgument, NotFound) as exc:
            return None, [exc]
        return (None if problems else params), problems

    async def submit(self, user: User, tool: str, body: dict[str, Any] | None, *, server_node: str | None = None,
                     client_nodes: list[str] | None = None, submit_token: str | None = None) -> str:
        """Start `tool` for `user`; returns the execution id (the same one for a repeated token)."""
        spec, schema, params = self.request(tool, body, server_node, client_nodes)
        if not submit_token:
            return await self._start(user, tool, spec, schema, params, None)
        digest = request_sha256(tool, params)
        deadline = anyio.current_time() + TOKEN_WAIT_S
        while True:
            claim = await anyio.to_thread.run_sync(self.submit_tokens.claim, user.name, submit_token, digest)
            if claim.state == "done":
                return claim.execution_id
            if claim.state == "new":
                break
            if anyio.current_time() > deadline:
                raise Conflict("a submission with this submit_token is still in progress", field="submit_token")
            await asyncio.sleep(0.2)
        try:
            execution_id = await self._start(user, tool, spec, schema, params, f"fedpe:{user.name}:{submit_token}")
        except BaseException:
            await anyio.to_thread.run_sync(self.submit_tokens.release, user.name, submit_token)
            raise
        await anyio.to_thread.run_sync(self.submit_tokens.record, user.name, submit_token, execution_id)
        return execution_id

    async def _start(self, user: User, tool, spec, schema, params, idempotency_key) -> str:
        params = await self.check(tool, spec, schema, params, user)
        flow_run = await self.orchestrator.submit(tool, params, owner=user.name, idempotency_key=idempotency_key)
        return str(flow_run.id)
