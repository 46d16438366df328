"""The SDK and the CLI against the real API of the session's federation: health-check end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fedpe.errors import AuthenticationError, AuthorizationError, InvalidArgument, JobNotFound
from fedpe.sdk import MonitorReturnCode, Session

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


def _add_user(stack, name: str, password: str | None = None) -> str:
    """A new user's API key, from `fedpe users add NAME --json` (skips while that command is missing)."""
    result = subprocess.run([sys.executable, "-m", "fedpe.cli", "users", "add", name, "--json",
                             *(["--password-stdin"] if password else [])],
                            env={**os.environ, "FEDPE_HOME": str(stack.config.home)}, input=f"{password}\n",
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.skip(f"`fedpe users add` is not usable yet (exit {result.returncode}): "
                    f"{' '.join(result.stderr.split())[:200]}")
    return json.loads(result.stdout)["api_key"]


@pytest.fixture(scope="module")
def api_url(stack) -> str:
    return stack.config.api_url + "/api/v1"


@pytest.fixture(scope="module")
def api_key(stack) -> str:
    return _add_user(stack, f"sdk-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def session(api_url: str, api_key: str):
    with Session(api_url, api_key, timeout=60) as opened:
        yield opened


def test_health_check_through_the_sdk(stack, session: Session, tmp_path: Path) -> None:
    # Prepare
    chosen = sorted(stack.hosts)[:2]
    assert set(chosen) <= {h.name for h in session.hosts() if h.state == "running"}
    assert "health-check" in {t.id for t in session.tools()}

    # Execute
    job_id = session.submit_job("health-check", clients=chosen)
    events = list(session.stream_events(job_id))
    job = session.wait_for_job(job_id, timeout=180, poll_interval=0.5)

    # Assert: it ran, on exactly the chosen hosts
    assert job.status == "completed", job
    assert job.finished and job.tool == "health-check"
    assert events and events[-1].event == "done" and events[-1].data["status"] == "completed"
    assert "status" in {e.event for e in events}
    assert {entry.node for entry in session.job_status(job_id)} == set(chosen)
    assert session.monitor_job(job_id, poll_interval=0.1) is MonitorReturnCode.JOB_FINISHED
    assert job_id in {e.id for e in session.list_jobs(tool="health-check", limit=100).executions}

    # Assert: the report covers each host's role
    report = session.report(job_id)
    assert {task["node"] for task in report["tasks"]} == set(chosen)

    # Assert: outputs listed, downloaded whole and one by one, on disk
    files = session.list_files(job_id)
    assert {host for host, names in files.items() if "health.json" in names} == set(chosen)
    everything = session.download_job_result(job_id, tmp_path / "all")
    for host in chosen:
        on_disk = json.loads((everything / host / "health.json").read_text())
        assert on_disk["host"] == host
    one = session.download_job_result(job_id, tmp_path / "one", host=chosen[0], file="health.json")
    assert one == tmp_path / "one" / chosen[0] / "health.json"
    assert json.loads(one.read_text())["host"] == chosen[0]

    # Assert: logs per host only hold that host's lines
    for host in chosen:
        text = session.get_job_logs(job_id, host=host)
        assert all(f"[{host}]" in line for line in text.splitlines()), text[:500]
        records = session.log_records(job_id, host=host)
        assert all(record.node == host for record in records)


def test_errors_come_back_typed(stack, api_url: str, session: Session) -> None:
    # Prepare
    other_key = _add_user(stack, f"other-{uuid.uuid4().hex[:8]}")
    with Session(api_url, other_key, timeout=60) as other:
        theirs = other.submit_job("health-check", clients=sorted(stack.hosts)[:1])

    # Execute / Assert
    with pytest.raises(JobNotFound):
        session.get_job(str(uuid.uuid4()))
    with pytest.raises(AuthorizationError):
        session.get_job(theirs)
    with pytest.raises(InvalidArgument) as refused:
        session.submit_job("health-check", params={"no_such_parameter": 1})
    assert refused.value.field == "no_such_parameter"
    with Session(api_url, "not-a-key", timeout=60) as stranger, pytest.raises(AuthenticationError):
        stranger.hosts()


def test_password_login_through_the_sdk_and_the_cli(stack, api_url: str, tmp_path: Path) -> None:
    # Prepare
    name = f"pw-{uuid.uuid4().hex[:8]}"
    _add_user(stack, name, password="s3cret-pass")

    # Execute
    with Session(api_url, username=name, password="s3cret-pass", timeout=60) as session:
        hosts = session.hosts()
    env = {**os.environ, "FEDPE_HOME": str(tmp_path)}
    env.pop("FEDPE_API_KEY", None)
    login = subprocess.run([sys.executable, "-m", "fedpe.cli", "login", "--url", api_url, "--username", name,
                            "--password-stdin", "--json"], input="s3cret-pass\n", env=env,
                           capture_output=True, text=True, timeout=120)
    listed = subprocess.run([sys.executable, "-m", "fedpe.cli", "hosts", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)

    # Assert
    assert session.access_token and {h.name for h in hosts} >= set(stack.hosts)
    assert login.returncode == 0, login.stderr
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert listed.returncode == 0, listed.stderr
    assert {h["name"] for h in json.loads(listed.stdout)} >= set(stack.hosts)
    with pytest.raises(AuthenticationError):
        Session(api_url, username=name, password="wrong", timeout=60)


def _fedpe(api_url: str, api_key: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FEDPE_API_URL": api_url, "FEDPE_API_KEY": api_key, "FEDPE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "fedpe.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_cli_runs_health_check_and_waits(api_url: str, api_key: str, tmp_path: Path) -> None:
    # Execute
    result = _fedpe(api_url, api_key, tmp_path, "run", "health-check", "--clients", "hospital-a", "--wait", "--json")

    # Assert
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["status"] == "completed"
    assert [entry["node"] for entry in job["entries"]] == ["hospital-a"]
    shown = _fedpe(api_url, api_key, tmp_path, "executions", "show", job["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == job["id"]


def test_cli_exit_codes_against_the_real_api(api_url: str, api_key: str, tmp_path: Path) -> None:
    refused = _fedpe(api_url, api_key, tmp_path, "run", "health-check", "-p", "hosts=not-a-list")
    unknown = _fedpe(api_url, api_key, tmp_path, "executions", "show", str(uuid.uuid4()))
    stranger = _fedpe(api_url, "not-a-key", tmp_path, "hosts")

    assert refused.returncode == 2, refused.stderr
    assert unknown.returncode == 2 and unknown.stderr.startswith("Error: no execution")  # bad input: 2
    assert stranger.returncode == 1 and "Traceback" not in stranger.stderr
