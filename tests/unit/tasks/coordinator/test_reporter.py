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


def test_each_round_is_stored_once_and_the_progress_header_stays_small(tmp_path):
    import json

    from tasks.rounds import read_rounds

    store = StoreSpec(url=tmp_path.as_uri())
    reporter = RoundReporter(store=store, execution_id="e1", host="hospital-a", tool="flcore", rounds=3,
                             tracking_uri=None, experiment="flcore", tags={}, params={}, checkpoint_every=0)
    sizes = []
    for number in (1, 2, 3):
        reporter.round_done({"round": number, "clients": ["hospital-b"], "dropped": [], "ended_at": 1.0e9,
                             "accuracy": 0.5 + number / 10, "loss": 0.5,
                             "per_client": {"hospital-b": {"accuracy": 0.6, "loss": 0.4}}}, None)
        deadline = time.monotonic() + 10
        while len(read_rounds(store, "e1")) < number and time.monotonic() < deadline:
            time.sleep(0.02)
        while time.monotonic() < deadline and json.loads(store.read_bytes("e1", "_progress.json"))["round"] < number:
            time.sleep(0.02)
        sizes.append(len(store.read_bytes("e1", "_progress.json")))
    reporter.finish("completed", {"test": {"accuracy": 0.9}}, timeout_s=60)

    header = json.loads(store.read_bytes("e1", "_progress.json"))
    assert [e["round"] for e in read_rounds(store, "e1")] == [1, 2, 3]
    assert "history" not in header and (header["status"], header["round"]) == ("completed", 3)
    assert header["metrics"] == {"accuracy": 0.8, "loss": 0.5}
    assert max(sizes) - min(sizes) < 10  # the header does not grow with the rounds
    lines = store.read_bytes("e1", "hospital-a", "metrics.csv").decode().splitlines()
    assert lines[0] == "round,accuracy,loss,client.hospital-b.accuracy,client.hospital-b.loss,clients,dropped"
    assert len(lines) == 4


def test_rounds_that_come_within_a_second_reach_mlflow_in_one_request_and_none_is_lost(tmp_path, monkeypatch):
    """The MLflow thread's batching, with a stand-in tracker that records each request it would send."""
    import tasks.tracking

    requests = []

    class Recorder:
        run_id = "r1"

        def __init__(self, *args, **kwargs):
            pass

        def log_params(self, params):
            requests.append(("log_params", None))

        def log_rounds(self, rounds):
            requests.append(("log_rounds", [step for _, step in rounds]))

        def log_artifact_bytes(self, name, data):
            requests.append(("artifact", name))

        def end(self, status):
            requests.append(("end", status))

    monkeypatch.setattr(tasks.tracking, "Tracker", Recorder)
    reporter = RoundReporter(store=StoreSpec(url=tmp_path.as_uri()), execution_id="e1", host="hospital-a",
                             tool="flcore", rounds=20, tracking_uri="http://127.0.0.1:1", experiment="flcore",
                             tags={}, params={}, checkpoint_every=0)
    for number in range(1, 21):
        reporter.round_done({"round": number, "clients": ["hospital-b"], "dropped": [], "ended_at": 1.0e9,
                             "accuracy": 0.5, "loss": 0.5, "per_client": {}}, None)
    reporter.finish("completed", {"test": {"accuracy": 0.9}}, timeout_s=60)

    sent = [steps for kind, steps in requests if kind == "log_rounds"]
    steps_sent = sorted(step for steps in sent for step in steps)
    assert steps_sent == [*range(1, 21), 20]  # every round once, and the final metrics at the last round's step
    assert len(sent) <= 2  # twenty quick rounds and the final metrics: one request, two if a second passed
    assert requests[-1] == ("end", "FINISHED")


def test_the_last_round_is_sent_at_once_and_the_model_is_logged_beside_the_files(tmp_path, monkeypatch):
    """No batch window after the last round; the model's registration runs beside the other calls
    of the finish, and the run ends only once the model is in it."""
    import threading

    import tasks.tracking
    from tasks.coordinator import reporter as module

    requests, model_may_end = [], threading.Event()

    class Recorder:
        run_id = "r1"

        def __init__(self, *args, **kwargs):
            pass

        def log_params(self, params):
            pass

        def log_rounds(self, rounds):
            requests.append(("log_rounds", [step for _, step in rounds]))

        def log_model(self, model, name):
            requests.append(("model started", name))
            assert model_may_end.wait(30)
            requests.append(("model logged", name))
            return "models:/fedpe-flcore/1"

        def log_artifact_bytes(self, name, data):
            requests.append(("artifact", name))
            if name == "report.html":
                model_may_end.set()  # the files went while the model was still being logged

        def end(self, status):
            requests.append(("end", status))

    monkeypatch.setattr(tasks.tracking, "Tracker", Recorder)
    monkeypatch.setattr(module, "METRICS_FLUSH_S", 60.0)  # a window the last round must not wait out
    reporter = RoundReporter(store=StoreSpec(url=tmp_path.as_uri()), execution_id="e1", host="hospital-a",
                             tool="flcore", rounds=3, tracking_uri="http://127.0.0.1:1", experiment="flcore",
                             tags={}, params={}, checkpoint_every=0)
    for number in (1, 2, 3):
        reporter.round_done({"round": number, "clients": ["hospital-b"], "dropped": [], "ended_at": 1.0e9,
                             "accuracy": 0.5, "loss": 0.5, "per_client": {}}, None)
    deadline = time.monotonic() + 10
    while ("log_rounds", [1, 2, 3]) not in requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert requests == [("log_rounds", [1, 2, 3])]  # sent before the finish, not after the window
    from types import SimpleNamespace

    reporter.finish("completed", {"test": {"accuracy": 0.9}}, model=SimpleNamespace(model={}), timeout_s=60)

    kinds = [kind for kind, _ in requests]
    assert kinds.index("model started") < kinds.index("artifact") < kinds.index("model logged")
    assert requests[-1] == ("end", "FINISHED") and kinds.index("model logged") < len(kinds) - 1
    assert reporter.model_uri == "models:/fedpe-flcore/1"
