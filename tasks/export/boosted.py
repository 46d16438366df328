"""The federated booster with the preparation in front, as an MLflow pyfunc without fedpe.

MLflow's xgboost flavour stores a bare `Booster`: it cannot carry the one-hot encoding of
the raw columns. So the booster is logged in that flavour beside the registered model, and
the registered model is this pyfunc: the booster's JSON text and a `RawColumnsPreparation`,
pickled by value with this module, so it loads with xgboost, pandas and scikit-learn alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency
    PythonModel = object


class PreparedBooster(PythonModel):
    """Raw rows -> labels: the preparation, then the booster's most probable class."""

    def __init__(self, preparation: Any, booster_json: bytes, labels: list[Any]):
        self.preparation = preparation
        self.booster_json = bytes(booster_json)
        self.labels = list(labels)
        self._booster = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_booster": None}

    def booster(self) -> Any:
        """The booster, loaded from its JSON text on first use."""
        if self._booster is None:
            import xgboost

            booster = xgboost.Booster(params={"nthread": 1})
            booster.load_model(bytearray(self.booster_json))
            self._booster = booster
        return self._booster

    def predict_proba(self, frame: Any) -> np.ndarray:
        """Class probabilities, columns in `labels` order."""
        import xgboost

        X = self.preparation.transform(frame)
        p = np.asarray(self.booster().predict(xgboost.DMatrix(X, missing=np.nan)), dtype=np.float64)
        if len(self.labels) == 2:
            p = np.column_stack([1.0 - p, p])
        return p.reshape(X.shape[0], len(self.labels))

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would read them as a schema
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return np.asarray(self.labels)[self.predict_proba(frame).argmax(axis=1)]
