"""Federated data preparation: which columns, how to fill their gaps, how to encode categories.

Three pure steps, the way scikit-learn's `SimpleImputer(strategy="mean",
add_indicator=True)` and `OneHotEncoder(handle_unknown="ignore")` prepare a table,
split so that no record leaves a host:

1. `host_profile` on every host: per numeric column the sum and count of its non-missing
   values (and the count of missing ones); per categorical column the set of values it holds.
   Anything counting fewer than `min_count` records is suppressed on the host, as in
   `tasks.stats`: a small column releases no sum, a rare category's name is not released.
2. `combine_profiles` on the server: exact federated means (summed sums over summed
   counts) and the union of the released categories, as a `PrepPlan`.
3. `transform` on every host with that plan: a float matrix with missing numbers set to
   the federated mean, optional `{col}__missing` indicator columns (for columns where some
   host released missing values), and one `{col}={value}` column per category of the union;
   a value outside the union, or a missing category, is all zeros.

Indicators are off unless asked for: on the demo data with 10% of cells blanked at random
(missing completely at random, so the indicator carries no signal), adding them cost 1-5
accuracy points centrally and federated (logreg on breast-cancer, mlp on digits, 3 seeds),
where mean imputation alone stayed within about 2 points of the complete data.

Which columns to train on is `tasks.features` (the API reads it with no pandas loaded).
Tree models may skip the imputation: `transform(..., impute=False)` keeps NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from tasks.export.matrix import categorical_dtype, column_dtypes, numeric_values, prepared_matrix

MISSING_SUFFIX = "__missing"


def _check_min_count(min_count: int) -> None:
    if not isinstance(min_count, (int, np.integer)) or isinstance(min_count, bool) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")


def host_profile(frame: pd.DataFrame, features: Sequence[str], *, min_count: int) -> dict[str, Any]:
    """What a host releases to plan the preparation; cells under `min_count` stay on the host.

    Numeric: `{"sum", "count", "missing"}`, or `{"suppressed": True}` when fewer than
    `min_count` values are present; `missing` is None when 0 < missing < min_count.
    Categorical: `{"values": [...]}` holding only values seen at least `min_count` times.
    """
    _check_min_count(min_count)
    dtypes = column_dtypes(frame, features)
    categorical: dict[str, dict[str, Any]] = {}
    for col in features:
        if categorical_dtype(dtypes[col]):
            counts = frame[col].dropna().astype(str).value_counts()
            categorical[col] = {"values": sorted(str(v) for v, n in counts.items() if n >= min_count)}
    numbers = [col for col in features if col not in categorical]
    values = numeric_values(frame, numbers)  # the columns at once: a wide table has thousands
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    sums = np.where(finite, values, 0.0).sum(axis=0)
    numeric: dict[str, dict[str, Any]] = {}
    for col, count, total in zip(numbers, counts.tolist(), sums.tolist()):
        missing = len(frame) - count
        if 0 < count < min_count:
            numeric[col] = {"suppressed": True}
        else:
            numeric[col] = {"sum": total, "count": count, "missing": None if 0 < missing < min_count else missing}
    return {"rows": int(len(frame)), "numeric": numeric, "categorical": categorical}


class PrepPlan(BaseModel):
    """The server's recipe every host applies: column order, fill values, categories, indicators."""

    model_config = ConfigDict(frozen=True)

    features: list[str]
    #: The value each numeric column's gaps are filled with: its federated mean or median.
    fills: dict[str, float]
    categories: dict[str, list[str]]
    indicators: list[str]
    #: What `fills` holds: "mean" (exact, from the hosts' sums and counts) or "median" (from
    #: the pooled histogram on common edges, as fed-stats computes its quantiles).
    imputation: Literal["mean", "median"] = "mean"
    withheld: list[str] = []
    """Numeric columns no host released a mean for; they are imputed with 0."""

    def columns(self, *, missing_indicators: bool = False) -> list[str]:
        """Names of the transformed matrix's columns, in order."""
        out: list[str] = []
        for col in self.features:
            if col in self.categories:
                out.extend(f"{col}={value}" for value in self.categories[col])
            else:
                out.append(col)
        if missing_indicators:
            out.extend(f"{col}{MISSING_SUFFIX}" for col in self.indicators)
        return out


def combine_profiles(profiles: Sequence[dict[str, Any]], features: Sequence[str],
                     medians: dict[str, float | None] | None = None) -> PrepPlan:
    """Exact federated means and the union of categories, from every host's `host_profile`;
    with `medians` (`federated_medians`), numeric gaps are filled with those instead.

    A column numeric on one host and categorical on another is refused, naming it.
    """
    if not profiles:
        raise ValueError("combine_profiles needs at least one host's profile")
    fills: dict[str, float] = {}
    categories: dict[str, list[str]] = {}
    indicators: list[str] = []
    withheld: list[str] = []
    for col in features:
        kinds = {"numeric" if col in p["numeric"] else "categorical" if col in p["categorical"] else None
                 for p in profiles}
        if None in kinds:
            raise ValueError(f"features: column {col!r} is missing from a host's profile")
        if len(kinds) > 1:
            raise ValueError(f"features: column {col!r} is numeric on some hosts and categorical on others")
        if kinds == {"categorical"}:
            categories[col] = sorted(set().union(*(p["categorical"][col]["values"] for p in profiles)))
            continue
        parts = [p["numeric"][col] for p in profiles if not p["numeric"][col].get("suppressed")]
        count = sum(int(part["count"]) for part in parts)
        if count == 0:
            fills[col] = 0.0
            withheld.append(col)
        elif medians is not None and medians.get(col) is not None:
            fills[col] = float(medians[col])
        else:
            fills[col] = float(sum(part["sum"] for part in parts) / count)
        if any((part.get("missing") or 0) > 0 for part in parts):
            indicators.append(col)
    return PrepPlan(features=list(features), fills=fills, categories=categories, indicators=indicators,
                    imputation="median" if medians is not None else "mean", withheld=withheld)


def federated_medians(summaries: Sequence[dict[str, Any]], edges: dict[str, list[float]]) -> dict[str, float | None]:
    """Each column's median from the hosts' histograms on common `edges` (`tasks.stats`'
    two-pass quantiles, good to about one bin); None where every host's column was suppressed."""
    from tasks.stats import combine_summaries

    columns = combine_summaries(list(summaries), edges)["columns"]
    return {col: (columns.get(col) or {}).get("quantiles", {}).get("0.5") for col in edges}


def transform(frame: pd.DataFrame, plan: PrepPlan, *, missing_indicators: bool = False,
              impute: bool = True) -> np.ndarray:
    """The host's float matrix under `plan`: imputed numbers, one-hot categories, indicators.

    Column order is `plan.columns(missing_indicators=...)`. `impute=False` leaves NaN in
    numeric columns, for models that take missing values natively (forests, XGBoost). The
    registered model applies the same function to raw rows (tasks/export/matrix.py).
    """
    return prepared_matrix(frame, plan.features, plan.fills, plan.categories, plan.indicators,
                           missing_indicators=missing_indicators, impute=impute)
