"""The scheduler guard's rules for one host's messages, on the guard's own state (no scheduler
process: the integration test tests/integration/test_hostile_host.py plays them for real)."""

from types import SimpleNamespace

import pytest

from fedpe.stack.scheduler_guard import HostMessages, Refused, SchedulerGuard
from tasks.wire.identity import Identity

A = Identity("host", "hospital-a", "AA")
B_ADDRESS = "fedpe://127.0.0.1:2000"


@pytest.fixture()
def guard():
    scheduler = SimpleNamespace(workers={B_ADDRESS: object()}, aliases={"hospital-b": B_ADDRESS}, tasks={})
    guard = SchedulerGuard(scheduler, None)
    guard.bound["hospital-b"] = B_ADDRESS
    return guard


def register(messages, address="fedpe://127.0.0.1:1000", **changes):
    msg = {"op": "register-worker", "reply": False, "address": address, "status": "running", "nthreads": 1,
           "name": "hospital-a", "now": 1.0, "metrics": {}, "stimulus_id": "s", "server_id": "w", **changes}
    out = messages.check(msg)
    messages.guard.scheduler.workers[address] = object()  # what Dask's add_worker then does
    return out


def test_a_host_registers_once_under_its_own_name_at_an_address_of_its_own(guard):
    messages = HostMessages(guard, A)

    for changes, why in (({"name": "hospital-b"}, "as 'hospital-b'"), ({"address": B_ADDRESS}, "another worker"),
                         ({"address": "hospital-b"}, "not a fedpe://"), ({"address": "tls://1.2.3.4:5"}, "not a fedpe://")):
        with pytest.raises(Refused, match=why):
            HostMessages(guard, A).check({**{"op": "register-worker", "reply": False, "address": "fedpe://h:1",
                                             "status": "running", "nthreads": 1, "name": "hospital-a", "now": 1.0},
                                          **changes})
    register(messages)
    assert guard.bound["hospital-a"] == "fedpe://127.0.0.1:1000"
    with pytest.raises(Refused, match="while its worker is connected"):
        register(HostMessages(guard, A), address="fedpe://127.0.0.1:1001")


def test_rpc_for_another_worker_is_refused_even_through_an_alias(guard):
    register(HostMessages(guard, A))
    rpc = HostMessages(guard, A)

    for target in (B_ADDRESS, "hospital-b", "hospital-a"):
        with pytest.raises(Refused, match="not its worker"):
            rpc.check({"op": "unregister", "address": target, "stimulus_id": "s"})
    with pytest.raises(Refused, match="not its own"):
        rpc.check({"op": "retire_workers", "names": ["hospital-b"], "workers": ["fedpe://127.0.0.1:1000"]})
    assert rpc.check({"op": "unregister", "address": "fedpe://127.0.0.1:1000", "stimulus_id": "s"})["op"] == "unregister"
    with pytest.raises(Refused, match="not for hosts"):
        rpc.check({"op": "run_function", "function": b"x"})


def test_stream_messages_act_for_the_host_alone(guard):
    messages = HostMessages(guard, A)
    register(messages)
    own = "fedpe://127.0.0.1:1000"
    guard.scheduler.tasks = {"mine": SimpleNamespace(processing_on=SimpleNamespace(address=own)),
                             "theirs": SimpleNamespace(processing_on=SimpleNamespace(address=B_ADDRESS))}

    with pytest.raises(Refused, match="in the name of worker"):
        messages.check([{"op": "worker-status-change", "status": "paused", "worker": B_ADDRESS}])
    with pytest.raises(Refused, match="worker-status-change to"):
        messages.check({"op": "worker-status-change", "status": "no-such-status"})
    # a report about a task on another worker is dropped; one about a forgotten task is Dask's to handle
    out = messages.check([{"op": "task-erred", "key": "theirs", "exception_text": "x"},
                          {"op": "task-finished", "key": "mine", "type": b"pickled", "run_id": 1},
                          {"op": "task-finished", "key": "forgotten", "type": None, "run_id": 1},
                          {"op": "log-event", "topic": "warn", "msg": {"message": b"pickled"}},
                          {"op": "log-event", "topic": "fedpe-progress", "msg": {"round": 1}}])
    assert [m["op"] for m in out] == ["task-finished", "task-finished", "log-event"]
    assert out[0]["type"] is None and out[2]["topic"] == "fedpe-progress"
    dropped = [messages.check({"op": "task-finished", "key": ["unhashable"]}) for _ in range(2)]
    assert dropped == [{"op": "keep-alive"}] * 2 and dropped[0] is not dropped[1]  # Dask pops "op" from each


def test_a_failed_tasks_error_is_made_by_the_scheduler(guard):
    from tasks.wire.strict import WITHHELD

    messages = HostMessages(guard, A)
    register(messages)
    guard.scheduler.tasks = {"mine": SimpleNamespace(processing_on=SimpleNamespace(address="fedpe://127.0.0.1:1000"))}

    out = messages.check({"op": "task-erred", "key": "mine", "exception": WITHHELD, "traceback": WITHHELD,
                          "exception_text": "ValueError('no')"})

    assert out["traceback"] is None and "on host hospital-a: ValueError('no')" in str(out["exception"].data)


def test_a_hosts_relay_line_carries_answers_only_and_its_calls_only_relay_fields(guard):
    line = HostMessages(guard, A)
    assert line.check({"op": "fedpe-relay-attach", "reply": False})["op"] == "fedpe-relay-attach"

    assert line.check({"id": 3, "status": "OK", "payload": b"\x90"}) == {"id": 3, "status": "OK", "payload": b"\x90"}
    for bad in ({"id": "3", "status": "OK"}, {"id": 3, "status": "maybe"}, {"id": 3, "status": "OK", "payload": 5},
                {"id": 3, "status": "OK", "caller": "hospital-b"}, {"op": "register-worker"}):
        with pytest.raises(Refused, match="out of shape"):
            HostMessages(guard, A).check({"op": "fedpe-relay-attach"}) and line.check(bad)
    call = {"op": "fedpe-relay-call", "reply": True, "to": "hospital-b", "execution": "e", "role": "flcore-client",
            "method": "fit", "payload": b"\xc0", "timeout_s": 5.0}
    assert HostMessages(guard, A).check(dict(call)) == call
    for extra in ({"caller": "fedpe-coordinator"}, {"caller_kind": "coordinator"}, {"payload": [1]}):
        with pytest.raises(Refused, match="fedpe-relay-call with"):
            HostMessages(guard, A).check({**call, **extra})
