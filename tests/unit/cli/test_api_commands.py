"""The API commands end to end through `fedpe.cli.main` (so exit codes are the real ones), the SDK
sending through an httpx.MockTransport put in place by `api_client.session_factory`."""

from __future__ import annotations

import importlib
import io
import json
import stat
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from fedpe.cli import api_client
from fedpe.sdk import Session

cli_app = importlib.import_module("fedpe.cli.app")  # the module; `fedpe.cli.app` the attribute is the Typer app

URL = "http://fedpe.test/api/v1"
TOOL = {"id": "fed-train", "name": "Federated training", "description": "FedAvg and friends", "mode": "federated",
        "tasks": [{"id": "server", "role": "server"}, {"id": "client", "role": "client"}],
        "parameters": {"type": "object", "required": ["rounds"],
                       "properties": {"rounds": {"type": "integer", "default": 3, "description": "Rounds"}}}}


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": {}}})


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("health.json", '{"healthy": true}')
    return buffer.getvalue()


class FakeAPI:
    """A small stand-in for the API: execution e1 goes through `statuses`, one per poll.

    The ids in `others` are listed too and answered as e1 is (the requests keep the id sent).
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses = ["running", "completed"]
        self.polls = 0
        self.refuse = False
        self.keys = {"key", "tok"}
        self.others: list[str] = []
        self.metrics: dict = {"loss": 0.25}
        self.rounds: int | None = 2
        self.tool = "fed-train"
        self.view: dict = {}  # more of the execution view (paused, stopped_because, result…)
        self.stream: bytes | None = (b'event: status\ndata: {"status": "running"}\n\n'
                                     b'event: round\ndata: {"round": 1, "rounds": 2, "metrics": {"loss": 0.5}}\n\n'
                                     b'event: round\ndata: {"round": 2, "rounds": 2, "metrics": {"loss": 0.25}}\n\n'
                                     b'event: done\ndata: {"status": "completed"}\n\n')

    def job(self) -> dict:
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        return {"id": "e1", "name": "first", "tool": self.tool, "owner": "alice", "status": status,
                "state": status.title(), "round": self.rounds, "rounds": self.rounds, "metrics": self.metrics,
                "entries": [{"node": "hospital-a", "task": "client", "status": status}], **self.view}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.refuse:
            raise httpx.ConnectError("Connection refused")
        path = request.url.path.removeprefix("/api/v1")
        for other in self.others:
            path = path.replace(other, "e1")
        if path == "/token":
            form = parse_qs(request.content.decode())
            if form.get("password") == ["pw"]:
                return httpx.Response(200, json={"access_token": "tok", "token_type": "bearer"})
            return _error(401, "UNAUTHENTICATED", "wrong username or password")
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.keys:
            return _error(401, "UNAUTHENTICATED", "invalid API key")
        match (request.method, path):
            case ("GET", "/hosts"):
                return httpx.Response(200, json=[
                    {"name": "hospital-a", "state": "running", "last_seen": "2026-01-02T03:04:05Z",
                     "datasets": [{"name": "digits"}], "resources": {"cpus": 4, "memory_total": 8 * 1024 ** 3, "memory_available": 4 * 1024 ** 3}},
                    {"name": "hospital-b", "state": "disconnected"}])
            case ("GET", "/tools"):
                return httpx.Response(200, json=[TOOL])
            case ("GET", "/tools/fed-train"):
                return httpx.Response(200, json=TOOL)
            case ("POST", "/tools/job/fed-train" | "/tools/job/health-check"):
                return httpx.Response(200, json={"status": "success", "execution_id": "e1"})
            case ("GET", _) if path.startswith("/tools/"):
                return _error(404, "NOT_FOUND", f"no tool {path.rsplit('/', 1)[-1]!r} (tools: fed-train)")
            case ("POST", _) if path.startswith("/tools/job/"):
                return _error(404, "NOT_FOUND", f"no tool {path.rsplit('/', 1)[-1]!r} (tools: fed-train)")
            case ("GET", "/executions"):
                jobs = [self.job(), *({**self.job(), "id": other} for other in self.others)]
                return httpx.Response(200, json={"executions": jobs, "total": len(jobs), "limit": 50, "offset": 0})
            case ("GET", "/executions/e1"):
                return httpx.Response(200, json=self.job())
            case ("PATCH", "/executions/e1"):
                return httpx.Response(200, json=self.job())
            case ("GET", "/executions/e1/stream"):
                if self.stream is None:
                    return httpx.Response(404, json={"detail": "Not Found"})
                return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=self.stream)
            case ("GET", "/executions/logs/e1"):
                if request.url.params.get("format") == "json":
                    offset = int(request.url.params.get("offset", 0))
                    lines = [{"timestamp": "2026-01-02T03:04:05Z", "level": "INFO", "node": "hospital-a" if i else None,
                              "message": f"line {i}"} for i in range(min(self.polls * 2, 4))][offset:]
                    return httpx.Response(200, text="".join(json.dumps(line) + "\n" for line in lines))
                return httpx.Response(200, text="INFO [hospital-a] hello\n")
            case ("GET", "/executions/report/e1"):
                return httpx.Response(200, json={"tasks": [{"node": "hospital-a", "task": "health", "cpu_seconds": 0.25,
                                                            "rss_peak_bytes": 50 * 1024 ** 2, "exit_code": 0,
                                                            "elapsed_s": 1.5}],
                                                 "totals": {"cpu_seconds": 0.25}})
            case ("GET", "/data/list_files"):
                return httpx.Response(200, json={"hospital-a": {"files": ["health.json", "model.npz"],
                                                                "sizes": {"health.json": 17, "model.npz": 1536}}})
            case ("GET", "/data/download_files"):
                return httpx.Response(200, content=_zip())
            case ("POST", "/executions/cancel_run/e1"):
                return httpx.Response(200, json={"status": "success", "message": "execution e1 is being cancelled"})
            case ("GET", "/executions/secret"):
                return _error(403, "FORBIDDEN", "execution secret belongs to another user")
        if path.startswith("/executions/"):
            return _error(404, "EXECUTION_NOT_FOUND", f"no execution {path.rsplit('/', 1)[-1]}")
        return httpx.Response(404, json={"detail": "Not Found"})

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == "/api/v1" + path]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAPI:
    fake = FakeAPI()
    monkeypatch.setenv("FEDPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FEDPE_API_URL", URL)
    monkeypatch.setenv("FEDPE_API_KEY", "key")
    monkeypatch.setattr(api_client, "session_factory", lambda url, api_key=None, **login: Session(
        url, api_key, transport=httpx.MockTransport(fake), **login))
    return fake


@pytest.fixture
def fedpe(api: FakeAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run `fedpe ARGS` through `main()`; returns the exit code and what was printed."""
    if not any(group.name == "executions" for group in cli_app.app.registered_groups):
        cli_app._register()
    monkeypatch.setattr(cli_app, "_register", lambda: None)

    def run(*args: str, stdin: str | None = None) -> Result:
        monkeypatch.setattr(sys, "argv", ["fedpe", *args])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        with pytest.raises(SystemExit) as info:
            cli_app.main()
        out, err = capsys.readouterr()
        return Result(info.value.code or 0, out, err)

    return run


def _one_line_error(result: Result) -> str:
    lines = " ".join(result.err.split())  # rich wraps long lines at the terminal's width
    assert result.err.startswith("Error: "), result.err
    assert result.err.count("\n") == 1, result.err  # one line, however long
    assert "Traceback" not in result.err
    return lines


# Hosts and tools


def test_hosts_as_table_and_json(fedpe, api: FakeAPI) -> None:
    table, as_json = fedpe("hosts"), fedpe("hosts", "--json")

    assert table.code == 0 and "hospital-a" in table.out and "disconnected" in table.out and "digits" in table.out
    assert "4 cpu" in table.out and "8.0G" in table.out
    assert as_json.code == 0
    assert [h["name"] for h in json.loads(as_json.out)] == ["hospital-a", "hospital-b"]


def test_tools_and_one_tools_parameters(fedpe) -> None:
    listing, one = fedpe("tools"), fedpe("tools", "fed-train")

    assert listing.code == 0 and "fed-train" in listing.out and "server, client" in listing.out
    assert one.code == 0 and "rounds *" in one.out and "integer" in one.out


# run and job launch


def test_run_sends_hosts_and_nested_parameters(fedpe, api: FakeAPI) -> None:
    # Execute
    result = fedpe("run", "fed-train", "--server", "hospital-a", "--clients", "hospital-b,hospital-c",
                   "-p", "rounds=3", "-p", "strategy.name=fedprox", "-p", "strategy.mu=0.1", "--submit-token", "t1",
                   "--json")

    # Assert
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"execution_id": "e1", "tool": "fed-train"}
    [submit] = api.sent("POST", "/tools/job/fed-train")
    assert parse_qs(submit.url.query.decode()) == {"server_node": ["hospital-a"], "submit_token": ["t1"],
                                                   "client_nodes": ["hospital-b", "hospital-c"]}
    assert json.loads(submit.content) == {"rounds": 3, "strategy": {"name": "fedprox", "mu": 0.1}}


def test_run_with_a_malformed_parameter_exits_2_with_one_line(fedpe, api: FakeAPI) -> None:
    result = fedpe("run", "fed-train", "-p", "rounds")

    assert result.code == 2
    assert "expected key=value" in _one_line_error(result)
    assert api.requests == []


def test_run_wait_json_prints_the_final_execution(fedpe, api: FakeAPI) -> None:
    result = fedpe("run", "health-check", "--clients", "hospital-a", "--wait", "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "completed"


def test_run_wait_follows_the_event_stream(fedpe, api: FakeAPI) -> None:
    result = fedpe("run", "fed-train", "--server", "hospital-a", "--clients", "hospital-b", "--wait")

    assert result.code == 0, result.err
    assert "execution e1 completed" in result.out
    assert api.sent("GET", "/executions/e1/stream")


def test_run_wait_falls_back_to_polling_without_a_stream(fedpe, api: FakeAPI) -> None:
    api.stream = None
    api.statuses = ["running", "running", "completed"]

    result = fedpe("run", "health-check", "--wait")

    assert result.code == 0, result.err
    assert "completed" in result.out


def test_run_wait_on_a_failed_execution_exits_1(fedpe, api: FakeAPI) -> None:
    api.statuses = ["running", "failed"]

    result = fedpe("run", "health-check", "--clients", "hospital-a", "--wait", "--json")

    assert result.code == 1
    assert json.loads(result.out)["status"] == "failed"
    assert "execution e1 failed" in _one_line_error(result)


def test_job_launch_submits_the_file_and_names_the_execution(fedpe, api: FakeAPI, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("tool: fed-train\nname: baseline\nserver: hospital-a\nclients: [hospital-b]\n"
                   "parameters: {rounds: 4}\n")

    result = fedpe("job", "launch", str(job), "--json")

    assert result.code == 0, result.err
    [submit] = api.sent("POST", "/tools/job/fed-train")
    assert json.loads(submit.content) == {"rounds": 4}
    [rename] = api.sent("PATCH", "/executions/e1")
    assert json.loads(rename.content) == {"name": "baseline"}


@pytest.mark.parametrize(("text", "message"), [("tool: fed-train\nrounds: 3\n", "unknown key 'rounds'"),
                                               ("clients: [a]\n", "missing `tool`")])
def test_job_launch_with_a_bad_file_exits_2_with_one_line(fedpe, api: FakeAPI, tmp_path: Path, text, message) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(text)

    result = fedpe("job", "launch", str(job))

    assert result.code == 2
    assert message in _one_line_error(result)
    assert api.requests == []


# executions


def test_executions_list(fedpe) -> None:
    table, as_json = fedpe("executions", "list", "--status", "running"), fedpe("executions", "list", "--json")

    assert table.code == 0 and "e1" in table.out and "1-1 of 1" in table.out
    assert json.loads(as_json.out)["total"] == 1


def test_executions_show_and_show_json(fedpe, api: FakeAPI) -> None:
    shown, as_json = fedpe("executions", "show", "e1"), fedpe("executions", "show", "e1", "--json")

    assert shown.code == 0 and "hospital-a" in shown.out and "loss=0.25" in shown.out
    assert json.loads(as_json.out)["id"] == "e1"


def test_executions_show_watch_ends_with_the_final_state(fedpe, api: FakeAPI) -> None:
    result = fedpe("executions", "show", "e1", "--watch")

    assert result.code == 0, result.err
    assert "completed" in result.out


@pytest.mark.parametrize(("args", "message"), [
    (("executions", "show", "nonexistent-id"), "no execution nonexistent-id"),
    (("run", "nosuchtool"), "no tool 'nosuchtool'"),
    (("tools", "nosuch"), "no tool 'nosuch'"),
])
def test_an_unknown_tool_or_execution_exits_2_with_the_apis_message(fedpe, args, message) -> None:
    result = fedpe(*args)

    assert result.code == 2
    assert message in _one_line_error(result)


def test_another_users_execution_exits_1(fedpe) -> None:
    result = fedpe("executions", "show", "secret")

    assert result.code == 1
    assert "belongs to another user" in _one_line_error(result)


def test_executions_logs_and_follow(fedpe, api: FakeAPI) -> None:
    api.statuses = ["running", "completed"]

    text = fedpe("executions", "logs", "e1", "--host", "hospital-a")
    followed = fedpe("executions", "logs", "e1", "--follow")

    assert text.code == 0, text.err
    assert text.out.splitlines()[1] == "2026-01-02T03:04:05+00:00 INFO     [hospital-a] line 1"
    first = api.sent("GET", "/executions/logs/e1")[0]
    assert (first.url.params["node"], first.url.params["format"]) == ("hospital-a", "json")
    assert followed.code == 0
    assert [line.split()[-1] for line in followed.out.splitlines()] == ["0", "1", "2", "3"]


def test_logs_with_and_without_follow_print_the_same_lines(fedpe, api: FakeAPI) -> None:
    api.statuses, api.polls = ["completed"], 2  # the fake's log is complete (4 lines) from the start

    plain = fedpe("executions", "logs", "e1")
    followed = fedpe("executions", "logs", "e1", "-f")

    assert plain.code == followed.code == 0
    assert plain.out == followed.out
    assert plain.out.splitlines()[0] == "2026-01-02T03:04:05+00:00 INFO     [flow] line 0"


@pytest.mark.parametrize("command", ["logs", "files", "download"])
def test_a_host_the_execution_does_not_have_exits_2_naming_its_hosts(fedpe, api: FakeAPI, command, tmp_path) -> None:
    output = ["-o", str(tmp_path)] if command == "download" else []

    result = fedpe("executions", command, "e1", "--host", "hospital-z", *output)

    assert result.code == 2
    message = _one_line_error(result)
    assert "no host 'hospital-z'" in message and "its hosts: hospital-a" in message
    assert not api.sent("GET", "/executions/logs/e1") and not api.sent("GET", "/data/list_files")
    assert not api.sent("GET", "/data/download_files")


def test_executions_report_files_download_cancel(fedpe, api: FakeAPI, tmp_path: Path) -> None:
    report = fedpe("executions", "report", "e1")
    files = fedpe("executions", "files", "e1", "--json")
    download = fedpe("executions", "download", "e1", "-o", str(tmp_path / "out"), "--json")
    cancel = fedpe("executions", "cancel", "e1")

    assert report.code == 0 and "50.00" in report.out and "health" in report.out
    assert json.loads(files.out) == {"hospital-a": [{"name": "health.json", "size": 17},
                                                    {"name": "model.npz", "size": 1536}]}
    assert json.loads(download.out)["path"] == str(tmp_path / "out")
    assert json.loads((tmp_path / "out" / "hospital-a" / "health.json").read_text()) == {"healthy": True}
    assert "being cancelled" in cancel.out


def test_files_table_shows_human_sizes(fedpe) -> None:
    result = fedpe("executions", "files", "e1")

    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if "hospital-a" in line]
    assert "health.json" in rows[0] and "17 bytes" in rows[0]
    assert "model.npz" in rows[1] and "1.5 kB" in rows[1]


def test_an_unreachable_api_exits_1_without_traceback(fedpe, api: FakeAPI) -> None:
    api.refuse = True

    result = fedpe("executions", "list")

    assert result.code == 1
    assert "cannot reach the fedpe API" in _one_line_error(result)


def test_a_wrong_key_exits_1(fedpe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDPE_API_KEY", "wrong")

    result = fedpe("hosts")

    assert result.code == 1
    assert "invalid API key" in _one_line_error(result)


def test_usage_errors_exit_2(fedpe) -> None:
    assert fedpe("executions", "show").code == 2
    assert fedpe("executions", "list", "--limit", "0").code == 2


# login


def test_login_with_an_api_key_saves_it_privately(fedpe, tmp_path: Path) -> None:
    result = fedpe("login", "--url", "http://fedpe.test:8000", "--api-key", "key", "--json")

    assert result.code == 0, result.err
    path = Path(json.loads(result.out)["credentials"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["url"] == "http://fedpe.test:8000/api/v1"


def test_login_with_a_password_from_stdin_saves_the_token(fedpe) -> None:
    result = fedpe("login", "--url", URL, "--username", "alice", "--password-stdin", "--json", stdin="pw\n")

    assert result.code == 0, result.err
    saved = json.loads(Path(json.loads(result.out)["credentials"]).read_text())
    assert (saved["api_key"], saved["kind"], saved["username"]) == ("tok", "token", "alice")


def test_login_with_a_wrong_key_exits_1_and_saves_nothing(fedpe, tmp_path: Path) -> None:
    result = fedpe("login", "--url", URL, "--api-key", "wrong")

    assert result.code == 1
    assert not (tmp_path / "home" / "credentials.json").exists()


@pytest.mark.parametrize("args", [["--api-key", "k", "--username", "u", "--password-stdin"], ["--username", "u"], []])
def test_login_with_conflicting_or_missing_credentials_exits_2(fedpe, api: FakeAPI, args) -> None:
    result = fedpe("login", "--url", URL, *args)

    assert result.code == 2
    _one_line_error(result)
    assert api.requests == []


# Short ids

A, B, C = ("aabddd51-1111-4111-8111-111111111111", "aabddd52-2222-4222-8222-222222222222",
           "ccc0ffee-3333-4333-8333-333333333333")


@pytest.mark.parametrize(("command", "method", "path"), [
    ("show", "GET", f"/executions/{A}"), ("logs", "GET", f"/executions/logs/{A}"),
    ("report", "GET", f"/executions/report/{A}"), ("files", "GET", "/data/list_files"),
    ("download", "GET", "/data/download_files"), ("cancel", "POST", f"/executions/cancel_run/{A}"),
])
def test_every_executions_command_takes_a_unique_prefix(fedpe, api: FakeAPI, tmp_path, command, method, path) -> None:
    api.others = [A, B, C]

    result = fedpe("executions", command, "AABDDD51", *(["-o", str(tmp_path)] if command == "download" else []))

    assert result.code == 0, result.err
    [sent] = api.sent(method, path)
    if path.startswith("/data/"):
        assert sent.url.params["execution_id"] == A


def test_an_ambiguous_prefix_exits_2_naming_the_candidates(fedpe, api: FakeAPI) -> None:
    api.others = [A, B, C]

    result = fedpe("executions", "show", "aabddd")

    assert result.code == 2
    message = _one_line_error(result)
    assert A in message and B in message and C not in message
    assert not api.sent("GET", f"/executions/{A}")


def test_a_prefix_that_matches_nothing_exits_2(fedpe, api: FakeAPI) -> None:
    api.others = [A, B, C]

    result = fedpe("executions", "cancel", "ffff")

    assert result.code == 2
    assert "no execution has an id starting with 'ffff'" in _one_line_error(result)
    assert not [r for r in api.requests if r.method == "POST"]


def test_a_full_id_is_used_as_it_is_without_listing(fedpe, api: FakeAPI) -> None:
    api.others = [A]

    result = fedpe("executions", "show", A)

    assert result.code == 0, result.err
    assert api.sent("GET", f"/executions/{A}") and not api.sent("GET", "/executions")


def test_executions_list_shows_short_ids_that_are_never_cut(fedpe, api: FakeAPI, monkeypatch) -> None:
    api.others = [A, B, C]
    monkeypatch.setattr(cli_app.console, "width", 80)

    result = fedpe("executions", "list")

    assert result.code == 0, result.err
    for full in (A, B, C):
        assert full[:8] in result.out and full not in result.out
    ids = [line.split()[1] for line in result.out.splitlines() if line.startswith("│")]
    assert "…" not in " ".join(ids) and A[:8] in ids


def test_short_ids_grow_where_eight_characters_would_clash() -> None:
    from fedpe.cli.executions import short_ids

    assert short_ids(["aabbccdd-1", "aabbccdd-2", "e1"]) == {"aabbccdd-1": "aabbccdd-1", "aabbccdd-2": "aabbccdd-2",
                                                             "e1": "e1"}
    assert short_ids([A, B]) == {A: A[:8], B: B[:8]}


# Metrics and progress

ROUND_METRICS = {"train_loss": 0.3, "round_ms": 12.5, "ended_at": 1.796e9, "epsilon": 1.2, "loss": 0.25,
                 "accuracy": 0.9}


def test_metrics_hide_timestamps_and_put_accuracy_and_loss_first() -> None:
    from fedpe.cli.executions import _metrics

    assert _metrics(ROUND_METRICS, limit=12) == "accuracy=0.9  loss=0.25  train_loss=0.3  round_ms=12.5  epsilon=1.2"
    assert _metrics({"val_loss": 0.5, "n": 3, "val_accuracy": 0.8, "created_at": 1.7e9}, limit=2) == \
        "val_accuracy=0.8  val_loss=0.5"


@pytest.mark.parametrize("args", [("executions", "show", "e1"), ("executions", "show", "e1", "--watch"),
                                  ("run", "fed-train", "--wait")])
def test_shown_metrics_have_no_timestamps(fedpe, api: FakeAPI, args) -> None:
    api.metrics = ROUND_METRICS

    result = fedpe(*args)

    assert result.code == 0, result.err
    assert "ended_at" not in result.out and "1.796e+09" not in result.out
    assert "accuracy=0.9  loss=0.25" in result.out


def test_the_watch_line_has_a_round_counter_only_for_tools_with_rounds(fedpe, api: FakeAPI) -> None:
    api.tool, api.rounds, api.stream = "health-check", None, None

    without = fedpe("executions", "show", "e1", "--watch")
    api.tool, api.rounds, api.polls = "fed-train", 2, 0
    with_rounds = fedpe("executions", "show", "e1", "--watch")

    assert without.code == with_rounds.code == 0
    assert "/?" not in without.out and "round " not in without.out
    progress_line = next(line for line in with_rounds.out.splitlines() if "fed-train completed" in line)
    assert "loss=0.25" in progress_line and progress_line.index("loss=0.25") < progress_line.index("2/2")


def test_run_help_names_tools_that_exist(fedpe) -> None:
    result = fedpe("run", "--help")

    assert result.code == 0
    text = " ".join(result.out.split())
    assert "fed-train" not in text and "health-check" in text and "flcore" in text


def test_usage_errors_are_one_line_with_the_same_prefix(fedpe) -> None:
    missing = fedpe("executions", "show")
    unknown = fedpe("executions", "list", "--bogus")

    assert missing.code == unknown.code == 2
    assert "Missing argument 'ID'" in _one_line_error(missing)
    assert "No such option: --bogus" in _one_line_error(unknown)
    assert "╭" not in missing.err + unknown.err


def test_a_non_fedpe_server_is_one_line_and_exit_1(fedpe, monkeypatch) -> None:
    html = "<!doctype html>\n<html><body><h1>Not Found</h1></body></html>\n"
    monkeypatch.setattr(api_client, "session_factory", lambda url, api_key=None, **login: Session(
        url, api_key, transport=httpx.MockTransport(lambda request: httpx.Response(404, html=html))))

    result = fedpe("hosts")

    assert result.code == 1
    message = _one_line_error(result)
    assert f"{URL}/hosts answered 404 Not Found with a non-fedpe body" in message and "FEDPE_API_URL" in message
    assert "<html" not in result.err


# Results, pauses and early stops

FLCORE_RESULT = {"final_metrics": {"accuracy": 0.91234, "loss": 0.2345, "num_examples": 456, "per_client": {},
                                   "validation": {}},
                 "mlflow_run_id": "run-7", "model_uri": "models:/flcore-e1/3", "epsilon": 7.077, "outputs": "file:///o",
                 "stopped_because": "privacy budget spent (epsilon 7.077 of 8.0)"}
HEALTH_RESULT = {"healthy": False, "reports": {
    "hospital-a": {"healthy": True,
                   "reachability": {"scheduler": {"ok": True, "ms": 1.5}, "store": {"ok": True, "ms": 2}}},
    "hospital-b": {"healthy": False,
                   "reachability": {"scheduler": {"ok": True, "ms": 1.0}, "store": {"ok": True, "ms": 3},
                                    "mlflow": {"ok": False, "error": "[Errno 111] Connection refused"}}}}}
STATS_RESULT = {"dataset": "breast-cancer", "min_count": 5, "hosts": ["hospital-a", "hospital-b"], "statistics": {
    "columns": {"radius": {"kind": "numeric", "count": 569, "mean": 14.127, "std": 3.524, "min": 6.98, "max": 28.1,
                           "quantiles": {"0.25": 11.7, "0.5": 13.37, "0.75": 15.78}, "suppressed": False,
                           "hosts_suppressed": 0, "hist_suppressed_bins": []},
                "rare": {"kind": "numeric", "suppressed": True, "hosts_suppressed": 2},
                "diagnosis": {"kind": "categorical", "count": 569, "counts": {"B": 357, "M": 212}}}}}
PIPELINE_RESULT = {"status": "failed", "parts": [
    {"part": 0, "tool": "health-check", "state": "Completed", "message": "All states completed.", "result": {}},
    {"part": 1, "tool": "flcore", "state": "Failed", "message": "[hospital-b] ran out of memory", "result": None}]}


def _row(out: str, first: str) -> str:
    """The printed line that starts with `first` (in a grid) or has it as its first cell (in a table)."""
    return next(line for line in out.splitlines() if line.strip("│ ").startswith(first))


def test_show_says_running_paused_while_a_pause_holds_the_rounds(fedpe, api: FakeAPI) -> None:
    api.statuses, api.view = ["running"], {"paused": True}

    paused = fedpe("executions", "show", "e1")
    api.view = {"paused": False}
    running = fedpe("executions", "show", "e1")

    assert paused.code == running.code == 0
    assert "running (paused)" in _row(paused.out, "status")
    assert "paused" not in running.out and "running (Running)" in _row(running.out, "status")


def test_show_gives_a_finished_flcores_test_figures_model_and_why_it_stopped(fedpe, api: FakeAPI) -> None:
    api.statuses, api.tool = ["completed"], "flcore"
    api.view = {"stopped_because": FLCORE_RESULT["stopped_because"], "result": FLCORE_RESULT}

    result = fedpe("executions", "show", "e1")

    assert result.code == 0, result.err
    assert "privacy budget spent (epsilon 7.077 of 8.0)" in _row(result.out, "stopped because")
    assert "0.9123" in _row(result.out, "test accuracy") and "0.2345" in _row(result.out, "test loss")
    assert "456" in _row(result.out, "test records")
    assert "run-7" in _row(result.out, "mlflow run") and "models:/flcore-e1/3" in _row(result.out, "model")


def test_show_without_a_result_has_no_result_rows(fedpe, api: FakeAPI) -> None:
    api.statuses, api.tool = ["running"], "flcore"

    result = fedpe("executions", "show", "e1")

    assert result.code == 0, result.err
    assert "stopped because" not in result.out and "test accuracy" not in result.out


def test_show_gives_a_health_check_line_per_host_naming_the_failed_probe(fedpe, api: FakeAPI) -> None:
    api.statuses, api.tool, api.view = ["completed"], "health-check", {"result": HEALTH_RESULT}

    result = fedpe("executions", "show", "e1")

    assert result.code == 0, result.err
    healthy, unhealthy = _row(result.out, "hospital-a │ healthy"), _row(result.out, "hospital-b")
    assert "unhealthy" not in healthy
    assert "unhealthy" in unhealthy and "mlflow ([Errno 111] Connection refused)" in unhealthy
    assert "store" not in unhealthy and "scheduler" not in unhealthy


def test_show_gives_fed_stats_numeric_columns_with_median_and_suppression(fedpe, api: FakeAPI) -> None:
    api.statuses, api.tool, api.view = ["completed"], "fed-stats", {"result": STATS_RESULT}

    result = fedpe("executions", "show", "e1")

    assert result.code == 0, result.err
    assert "breast-cancer: 2 hosts, min_count 5" in result.out
    assert [c.strip() for c in _row(result.out, "radius").split("│")[2:7]] == ["569", "14.13", "3.524", "13.37", "no"]
    assert "yes" in _row(result.out, "rare")
    assert not any(line.strip("│ ").startswith("diagnosis") for line in result.out.splitlines())
    assert "categorical: diagnosis" in result.out


def test_show_gives_a_pipelines_parts(fedpe, api: FakeAPI) -> None:
    api.statuses, api.tool, api.view = ["failed"], "pipeline", {"result": PIPELINE_RESULT}

    result = fedpe("executions", "show", "e1")

    assert result.code == 0, result.err
    assert [c.strip() for c in _row(result.out, "0").split("│")[1:5]] == ["0", "health-check", "Completed",
                                                                           "All states completed."]
    assert [c.strip() for c in _row(result.out, "1").split("│")[1:5]] == ["1", "flcore", "Failed",
                                                                           "[hospital-b] ran out of memory"]


def test_show_json_keeps_the_apis_result_as_it_is(fedpe, api: FakeAPI) -> None:
    api.statuses, api.tool = ["completed"], "flcore"
    api.view = {"paused": False, "stopped_because": "stopped", "result": FLCORE_RESULT}

    result = fedpe("executions", "show", "e1", "--json")

    shown = json.loads(result.out)
    assert (shown["result"], shown["stopped_because"], shown["paused"]) == (FLCORE_RESULT, "stopped", False)


def test_a_view_from_an_older_api_shows_as_before(fedpe, api: FakeAPI) -> None:
    from fedpe.sdk import Execution

    old = Execution.model_validate({"id": "e1", "status": "running"})
    result = fedpe("executions", "show", "e1")

    assert (old.paused, old.stopped_because, old.result) == (False, None, None)
    assert result.code == 0 and "running (Running)" in result.out


def test_list_shows_rounds_done_of_rounds_and_a_dash_without_rounds(fedpe, api: FakeAPI) -> None:
    api.view = {"round": 12, "rounds": 20}
    with_rounds = fedpe("executions", "list")
    api.view = {"round": None, "rounds": None}
    without = fedpe("executions", "list")

    header = next(line for line in with_rounds.out.splitlines() if "status" in line)
    assert "rounds" in header
    assert "12/20" in _row(with_rounds.out, "e1")
    assert _row(without.out, "e1").split("│")[6].strip() == "-"


def test_run_wait_ends_with_the_result_summary(fedpe, api: FakeAPI) -> None:
    api.tool, api.view = "flcore", {"stopped_because": "stopped", "result": FLCORE_RESULT}

    result = fedpe("run", "fed-train", "--server", "hospital-a", "--clients", "hospital-b", "--wait")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    progress = next(i for i, line in enumerate(lines) if "flcore completed" in line)
    summary = lines.index(_row(result.out, "test accuracy"))
    assert progress < summary and "0.9123" in lines[summary] and "stopped" in _row(result.out, "stopped because")
    assert result.out.count("test accuracy") == 1


def test_show_watch_gives_the_summary_once(fedpe, api: FakeAPI) -> None:
    api.tool, api.view = "flcore", {"result": FLCORE_RESULT}

    result = fedpe("executions", "show", "e1", "--watch")

    assert result.code == 0, result.err
    assert result.out.count("test accuracy") == 1


def test_the_watch_line_says_paused_while_paused() -> None:
    from rich.console import Console
    from rich.progress import Progress

    from fedpe.cli.executions import _Display
    from fedpe.sdk import Execution

    progress = Progress(console=Console(file=io.StringIO()))
    display = _Display(progress, Execution(id="e1", tool="flcore", status="running", rounds=5))

    def line() -> str:
        return progress.tasks[0].description

    display.update({"status": "running", "paused": True})
    paused = line()
    display.update({"round": 3, "rounds": 5, "metrics": {}})  # round events say nothing of pauses
    round_event = line()
    display.update(Execution(id="e1", status="running", paused=False))  # a poll
    resumed = line()
    display.update({"status": "running", "paused": True})
    display.update({"status": "completed"})  # nor does the done event

    assert paused == round_event == "flcore running (paused)"
    assert resumed == "flcore running"
    assert line() == "flcore completed"
