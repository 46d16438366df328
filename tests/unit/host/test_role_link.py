"""The link between a host's worker and its role process, and the role process at the other end."""

import asyncio
import os
import socket
import subprocess
import sys

import msgpack
import pytest

from tasks.host.role_link import Link, LinkClosed, no_role_answer
from tasks.wire import codec
from tasks.wire.identity import Identity


async def _pair(left_handlers: dict, right_handlers: dict) -> tuple[Link, Link]:
    a, b = socket.socketpair()
    left = Link(*await asyncio.open_unix_connection(sock=a), left_handlers)
    right = Link(*await asyncio.open_unix_connection(sock=b), right_handlers)
    for link in (left, right):
        asyncio.get_running_loop().create_task(link.serve())
    return left, right


def test_requests_go_both_ways_and_bytes_arrive_whole():
    big = os.urandom(3 * 1024 * 1024)

    async def echo(message: dict) -> dict:
        return {"status": "OK", "payload": message["payload"], "n": len(message["payload"])}

    async def scenario():
        worker, role = await _pair({"echo": echo}, {"echo": echo})
        from_worker = await worker.request("echo", payload=big)
        from_role = await role.request("echo", payload=b"x")
        unknown = await worker.request("nothing")
        worker.close()
        return from_worker, from_role, unknown

    from_worker, from_role, unknown = asyncio.run(scenario())

    assert from_worker == {"status": "OK", "payload": big, "n": len(big)}
    assert from_role["payload"] == b"x"
    assert unknown["status"] == "error" and "no op 'nothing'" in unknown["message"]


def test_a_cancelled_request_cancels_its_handler_at_the_other_end():
    async def scenario():
        began, ended = asyncio.Event(), asyncio.Event()

        async def slow(message: dict) -> dict:
            began.set()
            try:
                await asyncio.sleep(30)
            finally:
                ended.set()
            return {"status": "OK"}

        worker, role = await _pair({}, {"slow": slow})
        call = asyncio.create_task(worker.request("slow"))
        await began.wait()
        call.cancel()
        await asyncio.wait_for(ended.wait(), 5)
        still = await worker.request("nothing")  # the link itself lives on
        worker.close()
        return call.cancelled(), still

    cancelled, still = asyncio.run(scenario())

    assert cancelled
    assert still["status"] == "error"


def test_when_one_end_goes_the_other_ends_waiting_requests_fail_and_a_handler_error_is_an_answer():
    async def scenario():
        async def hang(message: dict) -> dict:
            await asyncio.sleep(30)
            return {}

        async def broken(message: dict) -> dict:
            raise ValueError("no such thing")

        worker, role = await _pair({}, {"hang": hang, "broken": broken})
        error = await worker.request("broken")
        waiting = asyncio.create_task(worker.request("hang"))
        await asyncio.sleep(0.1)
        role.close()
        with pytest.raises(LinkClosed):
            await asyncio.wait_for(waiting, 5)
        with pytest.raises(LinkClosed):
            await worker.request("hang")
        return error

    error = asyncio.run(scenario())

    assert error == {"status": "error", "message": "ValueError: no such thing"}


def test_a_frame_that_is_not_a_map_ends_the_link():
    async def scenario():
        a, b = socket.socketpair()
        link = Link(*await asyncio.open_unix_connection(sock=a), {})
        served = asyncio.get_running_loop().create_task(link.serve())
        frame = msgpack.packb([1, 2, 3])
        b.sendall(len(frame).to_bytes(4, "big") + frame)
        await asyncio.wait_for(served, 5)
        b.close()
        return link.closed.is_set()

    assert asyncio.run(scenario())


def test_a_host_without_the_role_answers_the_coordinator_unknown_and_anyone_else_an_error():
    coordinator, host = Identity("coordinator", "fedpe-coordinator"), Identity("host", "hospital-b")

    poll = no_role_answer("hospital-a", coordinator, "e1", "flcore-client", "poll")
    foreign_poll = no_role_answer("hospital-a", host, "e1", "flcore-client", "poll")
    fit = no_role_answer("hospital-a", host, "e1", "flcore-client", "fit")

    assert poll["status"] == "OK" and codec.decode(poll["payload"]) == {"known": False}
    assert foreign_poll["status"] == "error" and "may not poll" in foreign_poll["message"]
    assert fit == {"status": "error", "message": "no role flcore-client of execution e1 runs on hospital-a"}


def test_the_role_process_answers_over_its_link_refuses_a_foreign_spec_and_ends_with_the_link(tmp_path):
    async def scenario():
        ours, theirs = socket.socketpair()
        env = {**os.environ, "FEDPE_HOST_NAME": "hospital-a", "FEDPE_HOST_DATA_DIR": str(tmp_path)}
        env.pop("FEDPE_HOST_POLICY", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tasks.host.role_main", str(theirs.fileno()), "fedpe://127.0.0.1:1",
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        link = Link(*await asyncio.open_unix_connection(sock=ours), {})
        asyncio.get_running_loop().create_task(link.serve())
        poll = await link.request("call", caller_kind="coordinator", caller="fedpe-coordinator", execution="e1",
                                  role="flcore-client", method="poll", payload=codec.encode({"cursor": 0}))
        garbage = await link.request("call", caller_kind="coordinator", caller="fedpe-coordinator", execution="e1",
                                     role="flcore-client", method="poll", payload=b"\xc1")
        foreign = await link.request("run", spec=codec.encode({
            "execution_id": "e1", "flow_run_id": "f1", "task": "health-check", "tool": "health-check",
            "host": "hospital-b", "owner": "alice"}))
        link.close()
        code = await asyncio.wait_for(process.wait(), 20)
        return poll, garbage, foreign, code

    poll, garbage, foreign, code = asyncio.run(scenario())

    assert poll["status"] == "OK" and codec.decode(poll["payload"]) == {"known": False}
    assert garbage["status"] == "error"  # a payload that is not the codec's is refused, not decoded
    assert foreign["status"] == "error" and foreign["code"] == "ROLE_REFUSED"
    assert "reached host hospital-a" in foreign["message"]
    assert code == 0


def test_a_message_too_large_or_not_plain_fails_its_own_request_and_the_link_lives_on(monkeypatch):
    import tasks.host.role_link as role_link

    monkeypatch.setattr(role_link, "MAX_FRAME_BYTES", 1024)

    async def big_answer(message: dict) -> dict:
        return {"status": "OK", "payload": b"x" * 4096}

    async def echo(message: dict) -> dict:
        return {"status": "OK"}

    async def scenario():
        worker, role = await _pair({}, {"big": big_answer, "echo": echo})
        with pytest.raises(role_link.FrameRefused):
            await worker.request("echo", payload=b"x" * 4096)
        with pytest.raises(role_link.FrameRefused):
            await worker.request("echo", payload=object())
        answer = await worker.request("big")
        still = await worker.request("echo")
        worker.close()
        return answer, still

    answer, still = asyncio.run(scenario())

    assert answer["status"] == "error" and "over the role link's limit" in answer["message"]
    assert still == {"status": "OK"}


def test_the_worker_makes_a_roles_peer_calls_for_its_own_execution_and_named_hosts_only():
    from tasks.host.role_process import RoleProcess

    from tasks.host.role_process import LiveRole

    roles = RoleProcess(worker=None, name="hospital-a")
    roles._live["e1/flcore-server"] = LiveRole("e1", frozenset({"hospital-b"}))

    def ask(**message):
        return asyncio.run(roles._peer({"group": "e1/flcore-server", "role": "flcore-client", "method": "fit",
                                        "payload": b"\xc0", **message}))

    stranger = ask(to="hospital-z", execution="e1")
    other_execution = ask(to="hospital-b", execution="e2")
    unknown_group = asyncio.run(roles._peer({"group": "e9/flcore-server", "to": "hospital-b", "execution": "e9"}))

    for answer in (stranger, other_execution, unknown_group):
        assert answer["status"] == "error" and "is not a peer of role" in answer["message"]
