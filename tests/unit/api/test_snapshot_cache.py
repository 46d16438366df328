"""How the API shares reads of an execution between pollers: within the TTL one read serves all;
past it a running execution is answered from the last read while one background read renews it;
a final one, or one never read, waits for its read."""

import asyncio
import time
import uuid
from types import SimpleNamespace

from fedpe.api.services import executions as module
from fedpe.api.services.executions import Executions


class SlowPrefect:
    """Answers like the orchestrator service, each flow-run read taking `delay_s`."""

    def __init__(self, delay_s: float, state_type: str = "RUNNING"):
        self.delay_s = delay_s
        self.state_type = state_type
        self.reads = 0

    async def flow_run(self, execution_id):
        self.reads += 1
        await asyncio.sleep(self.delay_s)
        return SimpleNamespace(id=uuid.UUID(execution_id), state_type=self.state_type, parameters={},
                               read=self.reads)

    def tool_of(self, flow_run):
        return "health-check"

    async def child_runs(self, flow_run_id):
        return []

    async def task_runs(self, ids):
        return []

    async def owner_of(self, flow_run):
        return "alice"


def _executions(prefect: SlowPrefect) -> Executions:
    return Executions(prefect, scheduler=None, outputs=None, mlflow_uri=None)


def test_concurrent_pollers_share_one_read_and_then_get_the_last_read_at_once_while_it_renews(monkeypatch):
    monkeypatch.setattr(module, "SNAPSHOT_TTL_S", 0.05)
    prefect = SlowPrefect(delay_s=0.3)
    service = _executions(prefect)
    execution = str(uuid.uuid4())

    async def scenario():
        first = await asyncio.gather(*(service.snapshot(execution) for _ in range(20)))
        await asyncio.sleep(0.1)  # past the TTL
        started = time.perf_counter()
        stale = await asyncio.gather(*(service.snapshot(execution) for _ in range(20)))
        answered_s = time.perf_counter() - started
        reads_begun = prefect.reads
        await asyncio.sleep(0.5)  # the renewal lands
        renewed = await service.snapshot(execution)
        return first, stale, answered_s, renewed, reads_begun

    first, stale, answered_s, renewed, reads_begun = asyncio.run(scenario())
    assert {s.flow_run.read for s in first} == {1}
    assert {s.flow_run.read for s in stale} == {1} and answered_s < prefect.delay_s  # not behind the read
    assert reads_begun == 2 and renewed.flow_run.read == 2  # one background read for 20 pollers


def test_a_final_execution_past_its_ttl_is_read_again_before_it_is_answered(monkeypatch):
    monkeypatch.setattr(module, "FINAL_SNAPSHOT_TTL_S", 0.05)
    prefect = SlowPrefect(delay_s=0.01, state_type="COMPLETED")
    service = _executions(prefect)
    execution = str(uuid.uuid4())

    async def scenario():
        await service.snapshot(execution)
        await asyncio.sleep(0.1)
        return await service.snapshot(execution)

    assert asyncio.run(scenario()).flow_run.read == 2


def test_a_snapshot_older_than_the_stale_window_waits_for_its_read(monkeypatch):
    monkeypatch.setattr(module, "SNAPSHOT_TTL_S", 0.01)
    monkeypatch.setattr(module, "STALE_SNAPSHOT_S", 0.05)
    prefect = SlowPrefect(delay_s=0.01)
    service = _executions(prefect)
    execution = str(uuid.uuid4())

    async def scenario():
        await service.snapshot(execution)
        await asyncio.sleep(0.1)
        return await service.snapshot(execution)

    assert asyncio.run(scenario()).flow_run.read == 2
