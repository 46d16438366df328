"""A test-only worker preload: records every task the scheduler hands this worker, as the bytes
it arrived as (re-pickled after Dask read it), so a test can look for secrets in them."""

import os
import pickle


async def dask_setup(worker) -> None:
    path = os.environ["FEDPE_TEST_PAYLOADS"]
    original = worker.stream_handlers["compute-task"]

    def record(**msg):
        with open(path, "ab") as fh:
            fh.write(pickle.dumps(msg))
        return original(**msg)

    worker.stream_handlers["compute-task"] = record
