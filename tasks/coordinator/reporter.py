"""Everything a training reports, done on the coordinator by one background thread fed by the
server role's events, so neither the rounds nor the polls wait on it: each round stored once
(tasks/rounds.py), MLflow (one batch per round, the round's `tracked_metrics`), the execution's
progress header, round checkpoints, and at the end the metrics CSV, the curves PNG and the
final model (store + MLflow registry). The server role on its host holds no credential of any
of these; the coordinator does."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import queue
import re
import threading
import time

import numpy as np

from blocks.store import StoreSpec
from tasks.conventions import PROGRESS_FILE
from tasks.models.kinds import imputes
from tasks.rounds import RoundRecord, rounds_csv, tracked_metrics, write_round

logger = logging.getLogger("fedpe.flcore")

#: How long the MLflow thread gathers rounds into one request. A request costs MLflow's server
#: about 20 ms of CPU whatever it holds (100 rounds of 30 metrics: 1.8-2.1 s of its CPU at a
#: round a request, 0.42-0.45 s at ten), and a logreg round over 5-50 hosts takes 16-136 ms
#: (bench/scale.py); anything else queued (the final metrics, the model, the run's end) sends
#: what was gathered at once.
METRICS_FLUSH_S = 1.0
#: MLflow's own bound on the metrics of one `log_batch`.
METRICS_PER_REQUEST = 1000


def weights_to_npz(weights: list[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, *weights)
    return buffer.getvalue()


def npz_to_weights(data: bytes) -> list[np.ndarray]:
    with np.load(io.BytesIO(data)) as archive:
        return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def state_file(model: str, state) -> tuple[str, bytes]:
    """(suffix, bytes) of a global model as a file: weights and forests as .npz, a booster as its .json."""
    if model == "xgboost":
        return ".json", bytes(state or b"")
    if model in ("random_forest", "weighted_random_forest"):
        buffer = io.BytesIO()
        np.savez(buffer, **{f"tree{i:04d}.{key}": value for i, table in enumerate(state or [])
                            for key, value in table.items()})
        return ".npz", buffer.getvalue()
    return ".npz", weights_to_npz(state)


def curves_png(records: list[RoundRecord], title: str) -> bytes:
    """The validation quality (accuracy, or concordance for a survival model) and loss per round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quality = "accuracy" if any("accuracy" in r.metrics for r in records) else "concordance"
    shown = [r for r in records if quality in r.metrics]
    rounds = [r.round for r in shown]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(rounds, [r.metrics[quality] for r in shown], marker=".")
    ax1.set(xlabel="round", ylabel=f"validation {quality}", title=quality)
    ax2.plot(rounds, [r.metrics.get("loss", float("nan")) for r in shown], marker=".", color="tab:red")
    ax2.set(xlabel="round", ylabel="validation loss", title="loss")
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


#: Tags a server host may set on the run: under `host.`, so fedpe's own (`fedpe.*`) stay fedpe's.
HOST_TAG_PREFIX = "host."
_TAG_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def host_tags(tags: object, limit: int = 100) -> dict[str, str]:
    """The tags a server host sent, namespaced under `host.`; malformed names and extras dropped."""
    if not isinstance(tags, dict):
        return {}
    kept = [(k, v) for k, v in tags.items() if isinstance(k, str) and _TAG_NAME.match(k)][:limit]
    return {HOST_TAG_PREFIX + k: str(v)[:500] for k, v in kept}


class RoundReporter:
    """Queue in, side effects out: the store on one thread, MLflow on another.

    MLflow gets a thread of its own because its first call costs seconds (its import, its first
    run): the stored rounds, the progress header and the checkpoints must not wait for it.
    """

    def __init__(self, *, store: StoreSpec, execution_id: str, host: str, tool: str, rounds: int,
                 tracking_uri: str | None, experiment: str, tags: dict[str, str], params: dict,
                 checkpoint_every: int, model: str = "logreg",
                 log: logging.LoggerAdapter | logging.Logger = logger):
        self.model = model
        self.params = params
        self.store = store
        self.execution_id = execution_id
        self.host = host
        self.tool = tool
        self.rounds = rounds
        self.checkpoint_every = checkpoint_every
        self.log = log
        #: The rounds' entries as the server role sent them (the flow's result carries them).
        self.history: list[dict] = []
        self.records: list[RoundRecord] = []
        self.mlflow_run_id: str | None = None
        self.model_uri: str | None = None
        self.status = "running"
        self.is_paused = False
        self._tracking = (tracking_uri, experiment, tags, params)
        self._queue: queue.Queue = queue.Queue()
        self._mlflow: queue.Queue = queue.Queue()
        self._tracker = None
        self._model_logging: threading.Thread | None = None
        self._thread = threading.Thread(target=self._run, name=f"fedpe-report-{execution_id}", daemon=True)
        self._tracking_thread = threading.Thread(target=self._run_tracking, name=f"fedpe-mlflow-{execution_id}",
                                                 daemon=True)
        self._tracking_thread.start()
        self._thread.start()

    # -- called from the round loop (cheap) -----------------------------------------------------
    def round_done(self, entry: dict, weights: list[np.ndarray] | None) -> None:
        """A round as the server role sent it; `weights` is its checkpoint when one is due."""
        self._queue.put(("round", entry, weights))

    def on_event(self, event: dict) -> None:
        """The server role's own events (tasks/host/server.py): rounds, tags, pauses."""
        kind = event["kind"]
        if kind == "round":
            self.round_done(event["entry"], event.get("checkpoint"))
        elif kind == "tags":
            self.tags(host_tags(event.get("tags")))
        elif kind == "paused":
            self.paused(bool(event["paused"]))

    def tags(self, tags: dict[str, str]) -> None:
        self._queue.put(("tags", tags, None))

    def paused(self, paused: bool) -> None:
        """Say in the progress header that the rounds are held (between rounds) or go on again."""
        self._queue.put(("paused", paused, None))

    def finish(self, status: str, final: dict, state=None, model=None, labels=None,
               timeout_s: float = 180.0) -> None:
        """Write the final outputs and wait for the thread to drain (bounded)."""
        self._queue.put(("finish", {"status": status, "final": final, "model": model, "labels": labels}, state))
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("reporter still busy after %.0f s; outputs may be incomplete", timeout_s)

    # -- the thread ---------------------------------------------------------------------------------
    def _start_tracking(self) -> None:
        tracking_uri, experiment, tags, params = self._tracking
        if not tracking_uri:
            return
        try:
            from tasks.tracking import Tracker

            self._tracker = Tracker(tracking_uri, experiment, run_name=f"{self.tool}-{self.execution_id[:8]}", tags=tags)
            self._tracker.log_params(params)
            self.mlflow_run_id = self._tracker.run_id
        except Exception:
            logger.exception("MLflow tracking unavailable; training goes on without it")
            self._tracker = None

    def _track(self, method: str, *args) -> None:
        """Queue a call of the Tracker's `method` for the MLflow thread."""
        self._mlflow.put((method, args))

    def _run_tracking(self) -> None:
        self._start_tracking()
        held = None
        while True:
            method, args = held or self._mlflow.get()
            held = None
            if method is None:
                return
            if self._tracker is None:
                continue
            if method == "log_model":
                self._log_model_beside(args)
                continue
            if method == "end" and self._model_logging is not None:
                self._model_logging.join()  # the run ends with its model in it
            if method == "log_metrics":  # the rounds of the next second go in the same request
                rounds = [args]
                deadline = time.monotonic() + METRICS_FLUSH_S
                while (held is None and rounds[-1][1] < self.rounds  # the last round: none comes to wait for
                       and sum(len(metrics) for metrics, _ in rounds) < METRICS_PER_REQUEST):
                    try:
                        queued = self._mlflow.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    if queued[0] == "log_metrics":
                        rounds.append(queued[1])
                    elif queued[0] == "log_model":  # the finish: no round comes after it
                        self._log_model_beside(queued[1])
                        break
                    else:
                        held = queued
                method, args = "log_rounds", (rounds,)
            try:
                getattr(self._tracker, method)(*args)
            except Exception:
                logger.exception("MLflow call %s failed", method)

    def _log_model_beside(self, args: tuple) -> None:
        """Log and register the model on a thread of its own, beside the last rounds' metrics and
        the files: it is the finish's longest call (0.27-0.30 s alone, in 25-host trainings whose
        finish took 0.6-0.9 s from the server's outcome), and it needs none of them."""
        def log_model() -> None:
            try:
                self.model_uri = self._tracker.log_model(*args)
            except Exception:
                logger.exception("MLflow call log_model failed")

        self._model_logging = threading.Thread(target=log_model, name=f"fedpe-mlflow-model-{self.execution_id}",
                                               daemon=True)
        self._model_logging.start()

    def _write_progress(self) -> None:
        """The progress header, of constant size: the rounds themselves are stored one by one."""
        last = self.records[-1] if self.records else None
        progress = {
            "tool": self.tool, "execution_id": self.execution_id, "status": self.status, "paused": self.is_paused,
            "round": last.round if last else 0, "rounds": self.rounds, "metrics": last.metrics if last else {},
            "mlflow_run_id": self.mlflow_run_id, "model_uri": self.model_uri,
            "server": self.host, "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
        self.store.write_bytes(json.dumps(progress, default=float).encode(), self.execution_id, PROGRESS_FILE)

    def _run(self) -> None:
        kind = None
        while kind != "finish":  # the finish ends the thread even when reporting it failed
            kind, payload, weights = self._queue.get()
            try:
                if kind == "round":
                    self._on_round(payload, weights)
                elif kind == "paused":
                    self.is_paused = payload
                elif kind == "tags":
                    self._track("set_tags", payload)
                elif kind == "finish":
                    self._on_finish(payload, weights)
                    continue
                if self._queue.empty():
                    self._write_progress()
            except Exception:
                logger.exception("reporting %s failed", kind)

    def _on_round(self, entry: dict, weights) -> None:
        record = RoundRecord.from_entry(entry)
        write_round(self.store, self.execution_id, entry)  # before the header that counts it
        self.history.append(entry)
        self.records.append(record)
        self._track("log_metrics", tracked_metrics(record), record.round)
        if weights is not None and self.checkpoint_every and entry["round"] % self.checkpoint_every == 0:
            suffix, data = state_file(self.model, weights)
            self.store.write_bytes(data, self.execution_id, self.host, "checkpoints",
                                   f"round-{entry['round']:04d}{suffix}")

    def report_html(self, final: dict, labels, model: dict | None = None) -> bytes:
        """The execution's self-contained report (tasks/report.py): no network needed to open it.
        `model` is the trained model's plain description (its `plan`, `missing_indicators`)."""
        from tasks.report import render_report

        test = final.get("test") or {}
        return render_report(
            title=f"{self.tool} {self.execution_id} ({self.status})", parameters=self.params,
            history=[{"round": r.round, **r.metrics} for r in self.records],
            final=test, per_client=final.get("per_client") or {}, confusion=test.get("confusion_matrix"),
            labels=labels, participation={r.round: r.clients for r in self.records},
            preparation={**model["plan"], "missing_indicators": model.get("missing_indicators"),
                         "impute": imputes(model.get("kind", "weights"))}
            if model and model.get("plan") else None,
        ).encode()

    def _on_finish(self, payload: dict, weights) -> None:
        self.status = payload["status"]
        final = payload["final"]
        ex, host = self.execution_id, self.host
        test = (final or {}).get("test") or {}
        # MLflow's share first: its thread logs and registers the model while this one draws.
        # The tracker keeps the finite numbers only (not the confusion matrix).
        self._track("log_metrics", {f"final_{k}": v for k, v in test.items()}, len(self.records))
        if payload.get("model") is not None and self.status == "completed":
            self._track("log_model", payload["model"], f"fedpe-{self.tool}")
        csv_bytes = rounds_csv(self.records).encode()
        self.store.write_bytes(csv_bytes, ex, host, "metrics.csv")
        png = curves_png(self.records, f"{self.tool} {ex[:8]}") if self.records else None
        if png:
            self.store.write_bytes(png, ex, host, "curves.png")
        if weights is not None and self.status != "failed":  # a failed run has no final model
            suffix, data = state_file(self.model, weights)
            self.store.write_bytes(data, ex, host, f"model_final{suffix}")
        federated = payload.get("model")  # a FederatedModel: its plain description holds the preparation plan
        report = self.report_html(final or {}, payload.get("labels"), federated.model if federated is not None else None)
        self.store.write_bytes(report, ex, host, "report.html")
        self._track("log_artifact_bytes", "metrics.csv", csv_bytes)
        self._track("log_artifact_bytes", "report.html", report)
        if png:
            self._track("log_artifact_bytes", "curves.png", png)
        self._track("end", {"completed": "FINISHED", "cancelled": "KILLED"}.get(self.status, "FAILED"))
        self._mlflow.put((None, ()))
        self._tracking_thread.join(150)
        if self._tracking_thread.is_alive():
            logger.warning("MLflow still busy after 150 s; the run may lack its last metrics or its model")
        self._write_progress()

