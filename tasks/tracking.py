"""MLflow for flcore: one run per execution in an experiment per tool, metrics in batches,
the final model registered. `import mlflow` costs seconds, so callers use this module from a
background thread, never on the round's critical path."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

try:  # the pyfunc base class is only needed when a model is logged
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency
    PythonModel = object


logger = logging.getLogger(__name__)


def _pinned(*distributions: str) -> list[str]:
    """`name==version` of the installed distributions (MLflow's own inference is slow and offline)."""
    def version(name: str) -> str:
        for candidate in (name, f"{name}-cpu"):  # xgboost installs as xgboost-cpu here
            try:
                return importlib.metadata.version(candidate)
            except importlib.metadata.PackageNotFoundError:
                continue
        raise importlib.metadata.PackageNotFoundError(name)

    return [f"{name}=={version(name)}" for name in distributions]


@contextlib.contextmanager
def _pickled_by_value() -> Iterator[None]:
    """The export modules' code goes inside the logged model, so it loads without fedpe."""
    import cloudpickle

    from tasks.export import boosted, matrix, preparation

    modules = (matrix, preparation, boosted)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def _native_form(model: FederatedModel, flavor: str) -> Any:
    """The sklearn Pipeline or the prepared booster of `model` (None for fedpe's own pyfunc)."""
    from tasks.export.packaging import prepared_booster, sklearn_pipeline

    if flavor == "sklearn":
        return sklearn_pipeline(model.model, model.state, model.predictor())
    if flavor == "xgboost":
        return prepared_booster(model.model, model.state)
    return None


class FederatedModel(PythonModel):
    """The global model with the federation's preparation (imputation, one-hot, scaling), served by
    MLflow pyfunc: it takes the raw columns a host holds and returns labels (risk scores for Cox)."""

    def __init__(self, model: dict, state):
        self.model = model
        self.state = state
        self._predictor = None

    def predictor(self):
        """The trained model itself (built on first use: it is not part of what MLflow pickles)."""
        if self._predictor is None:
            m = self.model
            if m["kind"] == "ensemble":
                from tasks.ensembles.registry import build_ensemble

                built = build_ensemble(m["name"], m["n_features"], m["n_classes"], **m["options"])
                built.set_payload(self.state)
            else:
                from tasks.models.registry import build_model

                options = {k: v for k, v in m["options"].items() if k not in ("duration", "event", "newton_steps")}
                built = build_model(m["name"], m["n_features"], max(m["n_classes"], 1), **options)
                built.set_weights([np.asarray(w) for w in self.state])
            self._predictor = built
        return self._predictor

    def __getstate__(self):
        return {"model": self.model, "state": self.state, "_predictor": None}

    def matrix(self, frame) -> np.ndarray:
        """The prepared, scaled feature matrix of `frame` (a DataFrame of the raw columns)."""
        from tasks.models.kinds import imputes
        from tasks.prep import PrepPlan, transform

        m = self.model
        X = transform(frame, PrepPlan.model_validate(m["plan"]), missing_indicators=m["missing_indicators"],
                      impute=imputes(m["kind"]))
        if m.get("mean") is not None:
            std = np.where(np.asarray(m["std"]) == 0, 1.0, np.asarray(m["std"]))
            X = (X - np.asarray(m["mean"])) / std
        return X

    def predict(self, context, model_input, params=None):
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        predictor = self.predictor()
        X = self.matrix(frame)
        if self.model["name"] == "cox":
            return predictor.predict_risk(X)
        return np.asarray(self.model["labels"], dtype=object)[predictor.predict(X)]


class Tracker:
    """A thin, thread-confined wrapper over MlflowClient for one run."""

    def __init__(self, tracking_uri: str, experiment: str, run_name: str, tags: dict[str, str]):
        import mlflow
        from mlflow.tracking import MlflowClient

        self._mlflow = mlflow
        mlflow.set_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.run_id = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags).info.run_id
        self.params: dict[str, str] = {}

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = {k: str(v)[:6000] for k, v in params.items()}
        self.params.update(params)
        self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in params.items()])

    def _run_model(self, name: str) -> str:
        """A new logged model of this run (its source and an output of it); returns its id.

        `log_model` inside an active run would make it too, and then fetch the whole history of
        every metric of the run (one request per metric name: `client.HOST.KEY` for every host)
        to copy the rounds at the model's step onto it: seconds at ten hosts, growing with
        each one. Made here and passed as `model_id` outside any active run, the model keeps
        its run (the registered version's `run_id`, the run's outputs) without that copy."""
        from mlflow.entities import LoggedModelOutput

        logged = self.client.create_logged_model(self.experiment_id, name=name, source_run_id=self.run_id,
                                                 params=self.params)
        self.client.log_outputs(self.run_id, [LoggedModelOutput(logged.model_id, step=0)])
        return logged.model_id

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.log_rounds([(metrics, step)])

    def log_rounds(self, rounds: list[tuple[dict[str, float], int]]) -> None:
        """Several rounds' metrics in as few requests as MLflow allows (1000 metrics each): fast
        rounds must not cost the tracking server a request each."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        # Only finite numbers: one odd value (a list, a NaN) must not cost the batch its rounds.
        batch = [Metric(k, float(v), now, step) for metrics, step in rounds for k, v in metrics.items()
                 if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v)]
        for start in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[start:start + 1000])

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
        """Log and register the model in its library's flavour where it has one (see
        `tasks.export.packaging`), with the raw columns' signature; returns its `models:/` URI.

        A model whose native form fails its check against fedpe's predictor is registered as
        fedpe's pyfunc instead, with a warning: a wrong model must never be the registered one."""
        from tasks.export.packaging import flavor_of
        from tasks.export.signature import model_signature

        m = model.model
        flavor = flavor_of(m["name"])
        signature = model_signature(m["plan"], m.get("labels"), dtypes=m.get("dtypes"), risk=m["name"] == "cox")
        native = None
        try:
            native = _native_form(model, flavor)
        except Exception as exc:  # noqa: BLE001 - any failure of the native form leaves fedpe's own
            logger.warning("model %s registered as fedpe's pyfunc: its %s form failed (%s: %s)", m["name"], flavor,
                           type(exc).__name__, exc)
            flavor = "pyfunc"
        with _pickled_by_value():
            if flavor == "sklearn":
                import mlflow.sklearn

                info = mlflow.sklearn.log_model(
                    sk_model=native, name="model", registered_model_name=registered_name, signature=signature,
                    model_id=self._run_model("model"),
                    serialization_format="cloudpickle",  # the preparation's code travels by value: no fedpe needed
                    pip_requirements=_pinned("scikit-learn", "numpy", "pandas", "cloudpickle"),
                )
            elif flavor == "xgboost":
                info = self._log_booster(model, native, registered_name, signature)
            else:
                info = self._mlflow.pyfunc.log_model(
                    name="model", python_model=model, registered_model_name=registered_name, signature=signature,
                    pip_requirements=["fedpe", "numpy"],  # skip requirement inference (slow, offline)
                    model_id=self._run_model("model"),
                )
        self.set_tags({"fedpe.model_flavor": flavor})
        return info.model_uri

    def _log_booster(self, model: FederatedModel, wrapped: Any, registered_name: str, signature) -> Any:
        """The bare booster in MLflow's xgboost flavour (prepared columns in), and the registered
        pyfunc that puts the preparation in front of it (raw columns in)."""
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        import mlflow.xgboost
        from tasks.ensembles.xgb import booster_from_bytes
        from tasks.prep import PrepPlan

        m = model.model
        columns = PrepPlan.model_validate(m["plan"]).columns(missing_indicators=m["missing_indicators"])
        mlflow.xgboost.log_model(
            xgb_model=booster_from_bytes(bytes(model.state)), name="booster", model_format="json",
            signature=ModelSignature(inputs=Schema([ColSpec("double", c) for c in columns])),
            pip_requirements=_pinned("xgboost", "numpy"), model_id=self._run_model("booster"),
        )
        return self._mlflow.pyfunc.log_model(
            name="model", python_model=wrapped, registered_model_name=registered_name, signature=signature,
            pip_requirements=_pinned("xgboost", "scikit-learn", "numpy", "pandas", "cloudpickle"),
            model_id=self._run_model("model"),
        )

    def end(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)
