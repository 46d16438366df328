"""The federation's data preparation as a scikit-learn transformer over raw rows.

The hosts' own preparation (`tasks.export.matrix.prepared_matrix`: imputation, one-hot over
the plan's categories, optional missing indicators), then the pooled scaling of weight models,
from the plan's plain parameters. It imports nothing of fedpe's but that module: MLflow
pickles both by value (`cloudpickle.register_pickle_by_value`), so the registered model
loads where fedpe is not installed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from tasks.export.matrix import prepared_matrix


class RawColumnsPreparation(TransformerMixin, BaseEstimator):
    """Raw columns -> the float matrix the model was trained on; fitted federatedly, so `fit`
    learns nothing.

    `categories` names the categorical columns; every other feature is numeric, its gaps filled
    with `fills` (the federated mean or median). `impute=False`
    keeps NaN (trees route it themselves); `mean`/`std` are None for tree models.
    """

    def __init__(self, features: list[str], fills: dict[str, float], categories: dict[str, list[str]],
                 indicators: list[str] = (), missing_indicators: bool = False, impute: bool = True,
                 mean: list[float] | None = None, std: list[float] | None = None):
        self.features = features
        self.fills = fills
        self.categories = categories
        self.indicators = indicators
        self.missing_indicators = missing_indicators
        self.impute = impute
        self.mean = mean
        self.std = std

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=list(self.features))
        out = prepared_matrix(frame, self.features, self.fills, self.categories, self.indicators,
                              missing_indicators=self.missing_indicators, impute=self.impute)
        if self.mean is not None:
            std = np.asarray(self.std, dtype=np.float64)
            out = (out - np.asarray(self.mean, dtype=np.float64)) / np.where(std == 0, 1.0, std)
        return out
