"""A server's call to a client role still starting on its host waits for the role (bounded), where
the host answered at once that no such role runs and the server asked again every 0.1 s."""

import asyncio
import threading
import time

import pytest

import tasks.host.runtime as runtime_module
from tasks.host.role import ENDED, Role
from tasks.host.runtime import RoleRuntime
from tasks.policy import HostPolicy
from tasks.wire import codec
from tasks.wire.identity import Identity

SERVER = Identity("host", "hospital-b")


class SlowToStart(Role):
    """Reads its 'data' for 0.3 s before it may be called, then serves until released."""

    TASK_ID = "slow-client"
    PEER_METHODS = frozenset({"describe"})
    release = threading.Event()

    def __init__(self, context):
        super().__init__(context)
        time.sleep(0.3)

    def describe(self, _):
        return {"host": self.context.spec.host, "ready": True}

    def run(self) -> dict:
        self.release.wait(10)
        return {}


def _spec(execution: str) -> dict:
    return {"execution_id": execution, "flow_run_id": "f1", "task": "slow-client", "tool": "flcore",
            "host": "hospital-a", "owner": "alice", "server": "hospital-b"}


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_module, "role_classes", lambda: {"slow-client": SlowToStart})
    monkeypatch.setattr(runtime_module, "COLLECT_TIMEOUT_S", 0.1)
    monkeypatch.setattr(runtime_module, "ROLE_START_WAIT_S", 1.5)
    SlowToStart.release.clear()
    yield RoleRuntime(name="hospital-a", data_dir=tmp_path, policy=HostPolicy())
    SlowToStart.release.set()


def test_a_call_that_comes_before_its_role_is_answered_once_the_role_has_started(runtime):
    async def scenario():
        call = asyncio.ensure_future(runtime.dispatch(SERVER, "e1", "slow-client", "describe", codec.encode(None)))
        await asyncio.sleep(0.1)  # the call waits; the role's Dask task reaches the host now
        threading.Thread(target=runtime.run, args=(_spec("e1"),), daemon=True).start()
        started = time.monotonic()
        answer = await asyncio.wait_for(call, 5)
        return answer, time.monotonic() - started

    answer, waited_s = asyncio.run(scenario())

    assert answer["status"] == "OK" and codec.decode(answer["payload"]) == {"host": "hospital-a", "ready": True}
    assert waited_s < 1.0  # when the role started, not at the end of the wait


def test_a_role_that_never_comes_is_answered_no_role_after_the_wait(runtime, monkeypatch):
    monkeypatch.setattr(runtime_module, "ROLE_START_WAIT_S", 0.3)

    async def scenario():
        started = time.monotonic()
        answer = await runtime.dispatch(SERVER, "e2", "slow-client", "describe", codec.encode(None))
        return answer, time.monotonic() - started

    answer, waited_s = asyncio.run(scenario())

    assert answer == {"status": "error", "message": "no role slow-client of execution e2 runs on hospital-a"}
    assert 0.25 <= waited_s < 2


def test_a_role_refused_by_the_policy_is_answered_ended_at_once(tmp_path, runtime):
    runtime.policy = HostPolicy(owners=["bob"])  # alice's role is refused before it reads anything

    async def scenario():
        call = asyncio.ensure_future(runtime.dispatch(SERVER, "e3", "slow-client", "describe", codec.encode(None)))
        await asyncio.sleep(0.1)
        threading.Thread(target=runtime.run, args=(_spec("e3"),), daemon=True).start()
        started = time.monotonic()
        answer = await asyncio.wait_for(call, 5)
        return answer, time.monotonic() - started

    answer, waited_s = asyncio.run(scenario())

    assert answer["status"] == "error" and ENDED in answer["message"] and "refuses" in answer["message"]
    assert waited_s < 1.0
