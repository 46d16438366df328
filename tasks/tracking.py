"""MLflow for flcore: one run per execution in an experiment per tool, metrics in batches,
the final model registered. `import mlflow` costs seconds, so callers use this module from a
background thread, never on the round's critical path."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

try:  # the pyfunc base class is only needed when a model is logged
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency
    PythonModel = object


class FederatedModel(PythonModel):
    """The global NumPy model with the federation's feature scaling, served by MLflow pyfunc."""

    def __init__(self, model, mean: np.ndarray, std: np.ndarray, features: list[str], labels: list):
        self.model = model
        self.mean = mean
        self.std = std
        self.features = features
        self.labels = labels

    def predict(self, context, model_input, params=None):
        X = np.asarray(model_input[self.features] if hasattr(model_input, "columns") else model_input, dtype=np.float64)
        std = np.where(self.std == 0, 1.0, self.std)
        classes = self.model.predict((X - self.mean) / std)
        return np.asarray(self.labels, dtype=object)[classes]


class Tracker:
    """A thin, thread-confined wrapper over MlflowClient for one run."""

    def __init__(self, tracking_uri: str, experiment: str, run_name: str, tags: dict[str, str]):
        import mlflow
        from mlflow.tracking import MlflowClient

        self._mlflow = mlflow
        mlflow.set_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.run_id = self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None and np.isfinite(v)]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: str, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, path, artifact_path)

    def log_artifact_bytes(self, name: str, data: bytes) -> None:
        """Log `data` as the artifact `name` (through a file: MLflow uploads files)."""
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self.client.log_artifact(self.run_id, str(path))

    def log_model(self, model: FederatedModel, registered_name: str) -> str:
        """Log and register the model; returns its `models:/` URI."""
        with self._mlflow.start_run(run_id=self.run_id):
            info = self._mlflow.pyfunc.log_model(
                name="model", python_model=model, registered_model_name=registered_name,
                pip_requirements=["fedpe", "numpy"],  # skip requirement inference (slow, offline)
            )
        return info.model_uri

    def end(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)
