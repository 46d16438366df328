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


def categorical_dtype(dtype) -> bool:
    """Object, string and category columns are categorical; numbers and booleans are numeric."""
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def column_dtypes(frame: pd.DataFrame, features: Sequence[str]) -> dict:
    """Every column's dtype by name, read at once; refused naming the first of `features` the
    frame lacks."""
    absent = next((col for col in features if col not in frame.columns), None)
    if absent is not None:
        raise ValueError(f"features: column {absent!r} is not in the data")
    return dict(zip(frame.columns, frame.dtypes))


def numeric_values(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """`columns` of `frame` as one float matrix, NaN where a value is missing. Number columns are
    read in one step: a column at a time cost tens of microseconds each, which a table of 10,000
    features paid several times per training. Others (dates) go through `pd.to_numeric`."""
    out = np.empty((len(frame), len(columns)))
    if not len(columns):
        return out
    selected = frame[list(columns)]
    plain = [pd.api.types.is_numeric_dtype(dtype) for dtype in selected.dtypes]
    at = [j for j, is_plain in enumerate(plain) if is_plain]
    if at:
        numbers = selected if len(at) == len(plain) else selected.iloc[:, at]
        out[:, at] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    for j, is_plain in enumerate(plain):
        if not is_plain:
            out[:, j] = pd.to_numeric(selected.iloc[:, j], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def prepared_matrix(frame: pd.DataFrame, features: Sequence[str], fills: Mapping[str, float],
                    categories: Mapping[str, Sequence[str]], indicators: Sequence[str], *,
                    missing_indicators: bool = False, impute: bool = True) -> np.ndarray:
    """Imputed numbers (each gap filled with `fills[col]`), one-hot categories (a value outside
    `categories[col]`, or a missing one, is all zeros), then `{col}__missing` indicator
    columns when asked; `impute=False` leaves NaN for models that route it themselves."""
    dtypes = column_dtypes(frame, features)
    numeric = [col for col in features if col not in categories]
    mismatched = next((col for col in numeric if categorical_dtype(dtypes[col])), None)
    if mismatched is not None:
        raise ValueError(f"features: column {mismatched!r} is categorical here but numeric in the plan")
    starts = np.cumsum([0, *(len(categories[col]) if col in categories else 1 for col in features)])
    out = np.empty((len(frame), int(starts[-1]) + (len(indicators) if missing_indicators else 0)))
    values = numeric_values(frame, numeric)
    gaps = ~np.isfinite(values)
    if impute and numeric:
        values = np.where(gaps, np.array([fills[col] for col in numeric], dtype=np.float64), values)
    out[:, [starts[i] for i, col in enumerate(features) if col not in categories]] = values
    for i, col in enumerate(features):
        if col in categories:
            series = frame[col]
            cells = series.astype(object).where(series.notna(), None)
            strings = np.array([None if v is None else str(v) for v in cells], dtype=object)
            for j, value in enumerate(categories[col]):
                out[:, starts[i] + j] = strings == value
    if missing_indicators:
        where = {col: j for j, col in enumerate(numeric)}
        for k, col in enumerate(indicators):
            out[:, starts[-1] + k] = gaps[:, where[col]]
    return out
