"""`python -m tasks.host.role_main FD WORKER-ADDRESS`: a host's role process.

Its worker starts it for the first role and ends it once roles have been idle a while
(tasks/host/role_process.py); it reads the host's name, data folder and policy (as the worker
read it at its start) from its environment, is given no certificate and opens no connection:
everything it says goes over the socket `FD` it inherited (tasks/host/role_link.py). The roles run here, each on a
thread of its own, and the host's audit log is written here only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading

from fedpe.errors import FedpeError
from tasks.host.role_link import Link
from tasks.host.runtime import RoleRuntime, WorkerLink
from tasks.policy import HostPolicy
from tasks.wire import codec
from tasks.wire.identity import Identity


async def serve(fd: int, worker_address: str) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    loop = asyncio.get_running_loop()
    runtime: RoleRuntime | None = None

    async def run(message: dict) -> dict:
        done = loop.create_future()

        def role_thread() -> None:
            try:
                outcome = {"status": "OK", "outcome": runtime.run(codec.decode(message["spec"]))}
            except FedpeError as exc:  # the host refused the spec before any role started
                outcome = {"status": "error", "code": exc.code, "message": exc.message}
            except Exception as exc:
                outcome = {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:2000]}
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(outcome))

        threading.Thread(target=role_thread, name="fedpe-role", daemon=True).start()
        return await done

    async def call(message: dict) -> dict:
        kind = message.get("caller_kind") if message.get("caller_kind") in ("coordinator", "host") else "unknown"
        return await runtime.dispatch(Identity(kind, str(message.get("caller", ""))), str(message.get("execution", "")),
                                      str(message.get("role", "")), str(message.get("method", "")),
                                      message.get("payload", b"\xc0"))

    link = Link(reader, writer, {"run": run, "call": call})
    runtime = RoleRuntime(name=os.environ["FEDPE_HOST_NAME"], data_dir=os.environ["FEDPE_HOST_DATA_DIR"],
                          policy=HostPolicy.model_validate_json(os.environ.get("FEDPE_HOST_POLICY_JSON") or "{}"),
                          worker=WorkerLink(link, loop, worker_address))
    await link.serve()  # until the worker closes the link (or ends)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python -m tasks.host.role_main FD WORKER-ADDRESS")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s")
    asyncio.run(serve(int(argv[0]), argv[1]))
    os._exit(0)  # role threads still running belong to a worker that is gone or asked this process to end


if __name__ == "__main__":
    main(sys.argv[1:])
