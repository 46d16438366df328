"""Raw rows -> the float matrix a model trains on: the one implementation of the preparation.

Every host applies it during training (`tasks.prep.transform`) and the registered model
applies it to a user's raw rows (`tasks.export.preparation`), so both must be the same code.
It imports nothing of fedpe's (numpy and pandas only): MLflow pickles it by value with the
model (tasks/tracking.py), so a registered model loads where fedpe is not installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def is_categorical(series: pd.Series) -> bool:
    """Object, string and category columns are categorical; numbers and booleans are numeric."""
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def prepared_matrix(frame: pd.DataFrame, features: Sequence[str], fills: Mapping[str, float],
                    categories: Mapping[str, Sequence[str]], indicators: Sequence[str], *,
                    missing_indicators: bool = False, impute: bool = True) -> np.ndarray:
    """Imputed numbers (each gap filled with `fills[col]`), one-hot categories (a value outside
    `categories[col]`, or a missing one, is all zeros), then `{col}__missing` indicator
    columns when asked; `impute=False` leaves NaN for models that route it themselves."""
    blocks: list[np.ndarray] = []
    gaps_of: dict[str, np.ndarray] = {}
    for col in features:
        if col not in frame.columns:
            raise ValueError(f"features: column {col!r} is not in the data")
        series = frame[col]
        if col in categories:
            values = series.astype(object).where(series.notna(), None)
            strings = np.array([None if v is None else str(v) for v in values], dtype=object)
            known = list(categories[col])
            block = np.zeros((len(frame), len(known)))
            for j, value in enumerate(known):
                block[:, j] = strings == value
            blocks.append(block)
            continue
        if is_categorical(series):
            raise ValueError(f"features: column {col!r} is categorical here but numeric in the plan")
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan).copy()
        gaps = ~np.isfinite(values)
        gaps_of[col] = gaps
        if impute:
            values[gaps] = fills[col]
        blocks.append(values[:, None])
    if missing_indicators:
        blocks.extend(gaps_of[col][:, None].astype(np.float64) for col in indicators)
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
