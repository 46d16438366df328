"""The API's endpoints as data: each SDK verb is a `Call` (what to send, how to read the answer).

Nothing here does I/O, so `Session` and `AsyncSession` share every request and every parser;
they differ only in how they send. Paths are relative to the session's `.../api/v1` URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import TypeAdapter

from fedpe.errors import InvalidArgument, from_response
from fedpe.schemas import EXECUTION_CONTROLS
from fedpe.sdk._files import file_name
from fedpe.sdk._models import Execution, ExecutionPage, Host, LogRecord, TaskStatus, Tool
from fedpe.sdk._transport import decode_json, unexpected_shape

Parser = Callable[[httpx.Response], Any]


def _json(response: httpx.Response) -> Any:
    return decode_json(response)


def _model(adapter: TypeAdapter) -> Parser:
    def parse(response: httpx.Response) -> Any:
        body = decode_json(response)
        with unexpected_shape(response):
            return adapter.validate_python(body)
    return parse


def _key(name: str, adapter: TypeAdapter | None = None) -> Parser:
    def parse(response: httpx.Response) -> Any:
        body = decode_json(response)
        with unexpected_shape(response):
            value = body[name]
            return adapter.validate_python(value) if adapter else value
    return parse


def _json_or_none(response: httpx.Response) -> Any:
    return decode_json(response) if response.content.strip() else None


def _text(response: httpx.Response) -> str:
    return response.text


@dataclass(frozen=True)
class Call:
    """One request and the parser of its 2xx answer."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    parse: Parser = _json
    streaming: bool = False
    """A long-lived answer (server-sent events): no read timeout."""

    def query(self) -> dict[str, Any]:
        """The query parameters without the ones left out (None)."""
        return {key: value for key, value in self.params.items() if value is not None}


def names(value: str | Iterable[str] | None, *, field_name: str = "clients") -> list[str] | None:
    """Host names from a list or a comma-separated string (None stays None)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise InvalidArgument(f"{field_name} must be host names", field=field_name)
    return [item.strip() for item in items if item.strip()]


def _id(value: str, what: str = "execution id") -> str:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise InvalidArgument(f"invalid {what}: {value!r}", field="id")
    return value.strip()


_HOSTS = TypeAdapter(list[Host])
_HOST = TypeAdapter(Host)
_TOOLS = TypeAdapter(list[Tool])
_TOOL = TypeAdapter(Tool)
_EXECUTION = TypeAdapter(Execution)
_PAGE = TypeAdapter(ExecutionPage)
_STATUSES = TypeAdapter(list[TaskStatus])
_LOG_RECORDS = TypeAdapter(list[LogRecord])
_FILES = TypeAdapter(dict[str, dict[str, Any] | list[Any]])
_FILE_LIST = TypeAdapter(list[Any])
_SIZE = TypeAdapter(int | None)


def token(username: str, password: str) -> Call:
    return Call("POST", "/token", data={"username": username, "password": password, "grant_type": "password"},
                parse=_key("access_token"))


def hosts() -> Call:
    return Call("GET", "/hosts", parse=_model(_HOSTS))


def host(name: str) -> Call:
    return Call("GET", f"/hosts/{_id(name, 'host name')}", parse=_model(_HOST))


def resources(host_names: str | Iterable[str] | None) -> Call:
    return Call("GET", "/hosts/resources", params={"client_nodes": names(host_names, field_name="hosts")})


def heartbeat(name: str) -> Call:
    return Call("GET", "/hosts/heartbeat", params={"node_name": _id(name, "host name")})


def datasets() -> Call:
    return Call("GET", "/hosts/datasets")


def tools() -> Call:
    return Call("GET", "/tools", parse=_model(_TOOLS))


def tool(tool_id: str) -> Call:
    return Call("GET", f"/tools/{_id(tool_id, 'tool id')}", parse=_model(_TOOL))


def _parameters(params: dict[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidArgument("params must be a dict of tool parameters", field="params")
    return params


def submit_job(tool_id: str, server: str | None, clients: str | Iterable[str] | None,
               params: dict[str, Any] | None, submit_token: str | None) -> Call:
    return Call("POST", f"/tools/job/{_id(tool_id, 'tool id')}",
                params={"server_node": server, "client_nodes": names(clients), "submit_token": submit_token},
                json=_parameters(params), parse=_key("execution_id"))


def validate(tool_id: str, server: str | None, clients: str | Iterable[str] | None,
             params: dict[str, Any] | None) -> Call:
    body = {"tool": _id(tool_id, "tool id"), "server_node": server, "client_nodes": names(clients) or [],
            "parameters": _parameters(params)}
    return Call("POST", "/validate", json=body, parse=_validated)


def _validated(response: httpx.Response) -> dict[str, Any]:
    """The parameters of a valid submission; an invalid one (a 200 with `valid: false`) raises."""
    body = decode_json(response)
    with unexpected_shape(response):
        if body.get("valid") is False:
            problems = body.get("problems") or [{"message": message} for message in body.get("errors") or []]
            first = problems[0] if problems else {}
            raise from_response(422, {"error": {
                "code": first.get("code") or "VALIDATION_ERROR",
                "message": "; ".join(str(p.get("message")) for p in problems) or "invalid submission",
                "details": {"field": first.get("field"), "problems": problems}}})
        return body["parameters"]


def list_jobs(status: str | None, tool_id: str | None, owner: str | None, limit: int, offset: int,
              sort: str | None) -> Call:
    if limit < 1 or offset < 0:
        raise InvalidArgument("limit must be at least 1 and offset not negative", field="limit" if limit < 1 else "offset")
    return Call("GET", "/executions", params={"status": status, "tool": tool_id, "owner": owner, "limit": limit,
                                              "offset": offset, "sort": sort}, parse=_model(_PAGE))


def get_job(job_id: str) -> Call:
    return Call("GET", f"/executions/{_id(job_id)}", parse=_model(_EXECUTION))


def job_status(job_id: str) -> Call:
    return Call("GET", f"/executions/status/{_id(job_id)}", parse=_model(_STATUSES))


def abort_job(job_id: str) -> Call:
    return Call("POST", f"/executions/cancel_run/{_id(job_id)}", parse=_json_or_none)


def control_job(job_id: str, action: str, reason: str | None) -> Call:
    if action not in EXECUTION_CONTROLS:
        raise InvalidArgument(f"action must be one of {', '.join(EXECUTION_CONTROLS)} (got {action!r})",
                              field="action")
    body: dict[str, Any] = {"action": action}
    if reason is not None:
        body["reason"] = reason
    return Call("POST", f"/executions/{_id(job_id)}/control", json=body, parse=_json_or_none)


def clone_job(job_id: str) -> Call:
    return Call("POST", f"/executions/{_id(job_id)}/clone", parse=_key("execution_id"))


def delete_job(job_id: str) -> Call:
    return Call("DELETE", f"/executions/{_id(job_id)}", parse=_json_or_none)


def rename_job(job_id: str, name: str) -> Call:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument("the new name must not be empty", field="name")
    return Call("PATCH", f"/executions/{_id(job_id)}", json={"name": name}, parse=_json_or_none)


def get_job_logs(job_id: str, host_name: str | None, level: str | None, offset: int | None,
                 limit: int | None) -> Call:
    return Call("GET", f"/executions/logs/{_id(job_id)}",
                params={"node": host_name, "level": level, "offset": offset, "limit": limit}, parse=_text)


def _json_lines(response: httpx.Response) -> list[LogRecord]:
    text = response.text.strip()
    with unexpected_shape(response):
        if text.startswith("["):
            return _LOG_RECORDS.validate_json(text)
        return [LogRecord.model_validate_json(line) for line in text.splitlines() if line.strip()]


def log_records(job_id: str, host_name: str | None, level: str | None, offset: int | None,
                limit: int | None) -> Call:
    return Call("GET", f"/executions/logs/{_id(job_id)}",
                params={"node": host_name, "level": level, "offset": offset, "limit": limit, "format": "json"},
                parse=_json_lines)


def report(job_id: str) -> Call:
    return Call("GET", f"/executions/report/{_id(job_id)}")


def audit(job_id: str) -> Call:
    return Call("GET", f"/executions/{_id(job_id)}/audit")


def _files(response: httpx.Response) -> dict[str, list[Any]]:
    body = decode_json(response)
    with unexpected_shape(response):
        return {node: _FILE_LIST.validate_python(entry["files"] if isinstance(entry, dict) else entry)
                for node, entry in _FILES.validate_python(body).items()}


def _file_sizes(response: httpx.Response) -> dict[str, dict[str, int | None]]:
    """`{node: {path: bytes}}` from `{node: {"files": [path], "sizes": {path: bytes}}}` (None: size not given)."""
    body = decode_json(response)
    out: dict[str, dict[str, int | None]] = {}
    with unexpected_shape(response):
        for node, entry in _FILES.validate_python(body).items():
            files = _FILE_LIST.validate_python(entry["files"] if isinstance(entry, dict) else entry)
            sizes = (entry.get("sizes") or {}) if isinstance(entry, dict) else {}
            out[node] = {}
            for item in files:
                path = file_name(item)
                size = sizes.get(path, item.get("size") if isinstance(item, dict) else None)
                out[node][path] = _SIZE.validate_python(size)
    return out


def list_files(job_id: str, host_name: str | None, *, sizes: bool = False) -> Call:
    return Call("GET", "/data/list_files", params={"execution_id": _id(job_id), "nodes": names(host_name, field_name="host")},
                parse=_file_sizes if sizes else _files)


def download(job_id: str, host_name: str, file: str | None) -> Call:
    return Call("GET", "/data/download_files", params={"execution_id": _id(job_id), "node": host_name, "file": file},
                parse=_text, streaming=False)


def stream_events(job_id: str) -> Call:
    return Call("GET", f"/executions/{_id(job_id)}/stream", parse=_text, streaming=True)
