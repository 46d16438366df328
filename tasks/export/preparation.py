"""The federation's data preparation as a scikit-learn transformer over raw rows.

It repeats ``tasks.prep.transform`` (mean imputation, one-hot over the plan's categories,
optional missing indicators) and ``tasks.training.standardize`` (the pooled mean/std of weight
models) from the plan's plain parameters, and imports nothing of fedpe's: MLflow pickles this
module by value (``cloudpickle.register_pickle_by_value``), so the registered model loads
where fedpe is not installed. A test keeps it equal to ``tasks.prep.transform``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class RawColumnsPreparation(TransformerMixin, BaseEstimator):
    """Raw columns -> the float matrix the model was trained on; fitted federatedly, so ``fit``
    learns nothing.

    ``categories`` names the categorical columns; every other feature is numeric. ``impute=False``
    keeps NaN (trees route it themselves); ``mean``/``std`` are None for tree models.
    """

    def __init__(self, features: list[str], means: dict[str, float], categories: dict[str, list[str]],
                 indicators: list[str] = (), missing_indicators: bool = False, impute: bool = True,
                 mean: list[float] | None = None, std: list[float] | None = None):
        self.features = features
        self.means = means
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
        blocks, gaps_of = [], {}
        for col in self.features:
            if col not in frame.columns:
                raise ValueError(f"column {col!r} is missing from the input")
            series = frame[col]
            if col in self.categories:
                values = series.astype(object).where(series.notna(), None)
                strings = np.array([None if v is None else str(v) for v in values], dtype=object)
                known = self.categories[col]
                block = np.zeros((len(frame), len(known)))
                for j, value in enumerate(known):
                    block[:, j] = strings == value
                blocks.append(block)
                continue
            values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan).copy()
            gaps = ~np.isfinite(values)
            gaps_of[col] = gaps
            if self.impute:
                values[gaps] = self.means[col]
            blocks.append(values[:, None])
        if self.missing_indicators:
            blocks.extend(gaps_of[col][:, None].astype(np.float64) for col in self.indicators)
        out = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
        if self.mean is not None:
            std = np.asarray(self.std, dtype=np.float64)
            out = (out - np.asarray(self.mean, dtype=np.float64)) / np.where(std == 0, 1.0, std)
        return out
