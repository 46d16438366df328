"""The round reporter's thread ends with the execution, also when reporting its end fails."""

import time

from blocks.store import StoreSpec
from tasks.coordinator.reporter import RoundReporter


def test_a_failing_finish_still_ends_the_reporter_at_once(tmp_path, monkeypatch):
    reporter = RoundReporter(store=StoreSpec(url=tmp_path.as_uri()), execution_id="e1", host="hospital-a",
                             tool="flcore", rounds=1, tracking_uri=None, experiment="flcore", tags={}, params={},
                             checkpoint_every=0)

    def broken(payload, weights):
        raise RuntimeError("the report could not be drawn")

    monkeypatch.setattr(reporter, "_on_finish", broken)
    started = time.monotonic()
    reporter.finish("completed", {}, timeout_s=30)

    assert not reporter._thread.is_alive()
    assert time.monotonic() - started < 5  # not the join's 30 s: the flow's result is not held
