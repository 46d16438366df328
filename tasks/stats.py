"""Federated descriptive statistics: what a host may release, and how releases are pooled.

Privacy rule: any cell built from fewer than `min_count` records is suppressed ON THE HOST,
before anything leaves it. No single record's value leaves either: a column's min and max are
released as the mean of its `extremes_k` smallest and largest values (`_extremes`), only for
a column with count >= min_count. `extremes_k` is the host's floor alone, never the
requester's choice: two requests averaging k and k+1 extremes would give the (k+1)-th value
exactly by differencing. Suppressed cells are OMITTED from pooled totals, never guessed:
pooled figures that touch a suppressed cell are lower bounds and are flagged so. The host's
policy sets the floor of `min_count` (tasks/policy.py); a requester may raise it.

Two passes make quantiles agree across hosts:
  1. `local_ranges` on every host -> `global_edges` on the coordinator (common bin edges);
  2. `local_summary` on every host with those edges -> `combine_summaries`.
The pooled histogram is then the exact bin-wise sum, and quantiles are interpolated in it.

Local summary shape (JSON-serialisable; category values become strings)::

    {"rows": int | None,
     "numeric": {col: {"suppressed": False, "count", "missing", "sum", "sumsq", "min", "max",
                       "hist": [int | None, ...]}  or  {"suppressed": True}},
     (pooled: a bin no host released is None; one some hosts suppressed is a lower bound)
     "categorical": {col: {"suppressed": False, "count", "missing",
                           "counts": {value: n}, "other": int | None}  or  {"suppressed": True}}}

Known limitation (differencing): released totals can reveal a suppressed cell, e.g.
missing = rows - count, or a lone suppressed bin = count - sum(released bins). Complementary
suppression is not done here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    # Imported at run time only by the host's side, which holds a DataFrame already: the
    # coordinator's side runs in the fed-stats flow, whose module the runner and the API import
    # (pandas and pyarrow are 67 MiB of a process).
    import pandas as pd

QUANTILES: tuple[float, ...] = (0.25, 0.5, 0.75)


# --------------------------------------------------------------------------- helpers


def _check_min_count(min_count: int) -> None:
    if not isinstance(min_count, (int, np.integer)) or isinstance(min_count, bool) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _is_auto_categorical(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return (
        pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _finite_values(series: pd.Series) -> np.ndarray:
    """Non-missing values as float64; +-inf counts as missing (it has no place in a histogram).
    `series` is a numeric column (`_numeric_column`), read as it is: `pd.to_numeric` on it changed
    nothing and cost 13 us a column, twice per column of a fed-stats run."""
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[np.isfinite(values)]


def _small(n: int, min_count: int) -> bool:
    """A cell with 0 < n < min_count identifies too few records to release."""
    return 0 < n < min_count


def _released(n: int, min_count: int) -> int | None:
    return None if _small(n, min_count) else int(n)


def _numeric_column(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        raise ValueError(f"column {col!r} is not in the data (columns: {list(df.columns)})")
    series = df[col]
    if not _is_numeric(series):
        raise ValueError(f"column {col!r} has dtype {series.dtype}, not numeric")
    return series


def _check_edges(col: str, col_edges: Sequence[float]) -> np.ndarray:
    arr = np.asarray(col_edges, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2 or not np.all(np.isfinite(arr)) or not np.all(np.diff(arr) > 0):
        raise ValueError(f"edges of {col!r} must be >= 2 finite, strictly increasing numbers")
    return arr


# --------------------------------------------------------------------------- pass 1


def _extremes(values: np.ndarray, min_count: int) -> tuple[float, float]:
    """(low, high): the means of the `min_count` smallest and largest values, never one record's own."""
    k = max(1, min(int(min_count), values.size))
    if k == values.size:
        mean = float(values.mean())
        return mean, mean
    low = np.partition(values, k - 1)[:k]
    high = np.partition(values, values.size - k)[values.size - k:]
    return float(low.mean()), float(high.mean())


def local_ranges(df: pd.DataFrame, columns: list[str] | None, min_count: int,
                 extremes_k: int | None = None) -> dict[str, dict[str, Any]]:
    """Per numeric column, the host's count/min/max, so the coordinator can fix common edges.

    `columns=None` means every numeric (non-bool) column. A column with fewer than
    `min_count` non-missing values releases {"count": None, "min": None, "max": None}.
    """
    _check_min_count(min_count)
    names = [str(c) for c in df.columns if _is_numeric(df[c])] if columns is None else list(columns)
    out: dict[str, dict[str, Any]] = {}
    for col in names:
        values = _finite_values(_numeric_column(df, col))
        if values.size < min_count:
            out[col] = {"count": None, "min": None, "max": None, "suppressed": True}
        else:
            low, high = _extremes(values, extremes_k or min_count)
            out[col] = {"count": int(values.size), "min": low, "max": high, "suppressed": False}
    return out


def global_edges(ranges_per_host: list[dict[str, dict[str, Any]]], bins: int) -> dict[str, list[float]]:
    """Equal-width bin edges per column, from the smallest released min to the largest released max.

    Columns no host released a range for get no edges (and hence no histogram). If all
    released values are equal, the edges span value +- 0.5 so the bins keep a width.
    """
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for ranges in ranges_per_host:
        for col, entry in ranges.items():
            lo, hi = entry.get("min"), entry.get("max")
            if lo is None or hi is None:
                continue
            lows[col] = min(lows.get(col, math.inf), float(lo))
            highs[col] = max(highs.get(col, -math.inf), float(hi))
    edges: dict[str, list[float]] = {}
    for col in sorted(lows):
        lo, hi = lows[col], highs[col]
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        col_edges = np.linspace(lo, hi, bins + 1)
        col_edges[0], col_edges[-1] = lo, hi
        edges[col] = [float(e) for e in col_edges]
    return edges


# --------------------------------------------------------------------------- pass 2, on the host


def _numeric_summary(series: pd.Series, col_edges: np.ndarray, min_count: int, extremes_k: int) -> dict[str, Any]:
    values = _finite_values(series)
    count = int(values.size)
    if count < min_count:
        return {"suppressed": True}
    # Values outside the common edges (only possible if edges came from other hosts'
    # ranges) are clipped into the end bins rather than dropped, so hist sums to count.
    clipped = np.clip(values, col_edges[0], col_edges[-1])
    hist, _ = np.histogram(clipped, bins=col_edges)
    low, high = _extremes(values, extremes_k)
    return {
        "suppressed": False,
        "count": count,
        "missing": _released(int(series.size) - count, min_count),
        "sum": float(values.sum()),
        "sumsq": float(np.square(values).sum()),
        "min": low,
        "max": high,
        "hist": [_released(int(h), min_count) for h in hist],
    }


def _categorical_summary(series: pd.Series, min_count: int, max_categories: int) -> dict[str, Any]:
    present = series.dropna()
    count = int(present.size)
    if count < min_count:
        return {"suppressed": True}
    tallies = present.astype(str).value_counts(sort=False)
    # Most frequent first, ties by value, so output is deterministic.
    ordered = sorted(((str(k), int(v)) for k, v in tallies.items()), key=lambda kv: (-kv[1], kv[0]))
    counts: dict[str, int] = {}
    other = 0
    for value, n in ordered:
        # A rare value is itself a fact about few records: omit its name, not just its count.
        if n >= min_count and len(counts) < max_categories:
            counts[value] = n
        else:
            other += n
    return {
        "suppressed": False,
        "count": count,
        "missing": _released(int(series.size) - count, min_count),
        "counts": counts,
        "other": _released(other, min_count),
    }


def local_summary(
    df: pd.DataFrame,
    edges: dict[str, list[float]],
    *,
    min_count: int,
    categorical: list[str] | None = None,
    max_categories: int = 50,
    extremes_k: int | None = None,
) -> dict[str, Any]:
    """What one host releases: suppressed moments/histograms/category counts over common edges.

    Numeric columns are those in `edges` (a column absent from this host is left out).
    Categorical columns are `categorical` if given (integer columns are categorical only if
    listed), else every bool/category/object/string column. Category values seen fewer than
    `min_count` times, or beyond the `max_categories` most frequent, are not named: their
    records are pooled into "other" (itself suppressed if small).
    """
    _check_min_count(min_count)
    if max_categories < 0:
        raise ValueError(f"max_categories must be >= 0, got {max_categories}")
    if categorical is None:
        cat_cols = [str(c) for c in df.columns if c not in edges and _is_auto_categorical(df[c])]
    else:
        cat_cols = list(categorical)
        both = sorted(set(cat_cols) & set(edges))
        if both:
            raise ValueError(f"columns {both} are listed as categorical and also have numeric edges")
    numeric: dict[str, dict[str, Any]] = {}
    for col in edges:
        if col not in df.columns:
            continue
        numeric[col] = _numeric_summary(_numeric_column(df, col), _check_edges(col, edges[col]), min_count,
                                        extremes_k or min_count)
    cats: dict[str, dict[str, Any]] = {}
    for col in cat_cols:
        if col not in df.columns:
            raise ValueError(f"categorical column {col!r} is not in the data")
        cats[col] = _categorical_summary(df[col], min_count, max_categories)
    rows = int(len(df))
    return {
        "rows": None if rows < min_count else rows,
        "numeric": numeric,
        "categorical": cats,
    }


# --------------------------------------------------------------------------- pooling, on the coordinator


def _hist_quantiles(hist: np.ndarray, col_edges: np.ndarray, lo: float, hi: float) -> dict[str, float | None]:
    """Quantiles by linear interpolation inside the pooled bin where the cumulative count crosses."""
    total = float(hist.sum())
    if total <= 0:
        return {str(q): None for q in QUANTILES}
    cum = np.cumsum(hist, dtype=np.float64)
    out: dict[str, float | None] = {}
    for q in QUANTILES:
        target = q * total
        i = int(np.searchsorted(cum, target, side="left"))
        i = min(i, hist.size - 1)
        while hist[i] == 0 and i < hist.size - 1:  # a crossing never sits in an empty bin
            i += 1
        before = cum[i] - hist[i]
        frac = (target - before) / hist[i] if hist[i] > 0 else 0.0
        value = col_edges[i] + frac * (col_edges[i + 1] - col_edges[i])
        out[str(q)] = float(min(max(value, lo), hi))
    return out


def _contributing(kind: str, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The hosts' entries of one column that were not suppressed, and the combined entry's head,
    which counts both (and is itself suppressed when no host released the column)."""
    released = [e for e in entries if not e.get("suppressed", False)]
    head: dict[str, Any] = {
        "kind": kind,
        "hosts_contributing": len(released),
        "hosts_suppressed": len(entries) - len(released),
    }
    if not released:
        head["suppressed"] = True
    return released, head


def _combine_numeric(col: str, entries: list[dict[str, Any]], col_edges: list[float] | None) -> dict[str, Any]:
    released, result = _contributing("numeric", entries)
    if not released:
        return result
    count = sum(int(e["count"]) for e in released)
    total = sum(float(e["sum"]) for e in released)
    total_sq = sum(float(e["sumsq"]) for e in released)
    mean = total / count
    variance = max(total_sq / count - mean * mean, 0.0)
    missing_known = [e["missing"] for e in released if e.get("missing") is not None]
    lo = min(float(e["min"]) for e in released)
    hi = max(float(e["max"]) for e in released)
    result.update(
        suppressed=False,
        count=count,
        missing=int(sum(missing_known)),
        missing_lower_bound=len(missing_known) < len(released),
        mean=mean,
        std=math.sqrt(variance),
        min=lo,
        max=hi,
    )
    if col_edges is not None:
        edge_arr = _check_edges(col, col_edges)
        nbins = edge_arr.size - 1
        hist = np.zeros(nbins, dtype=np.int64)
        suppressed_bins: set[int] = set()
        known_bins: set[int] = set()
        for e in released:
            host_hist = e["hist"]
            if len(host_hist) != nbins:
                raise ValueError(f"histogram of {col!r} has {len(host_hist)} bins, edges give {nbins}")
            for i, h in enumerate(host_hist):
                if h is None:
                    suppressed_bins.add(i)
                else:
                    hist[i] += int(h)
                    known_bins.add(i)
        result.update(
            edges=[float(x) for x in edge_arr],
            # A bin every host suppressed is unknown (None), not empty; one some hosts
            # suppressed is a lower bound, listed in hist_suppressed_bins.
            hist=[int(h) if i in known_bins else None for i, h in enumerate(hist)],
            hist_suppressed_bins=sorted(suppressed_bins),
            quantiles=_hist_quantiles(hist, edge_arr, lo, hi),
            quantiles_approximate=bool(suppressed_bins),
        )
    return result


def _combine_categorical(entries: list[dict[str, Any]]) -> dict[str, Any]:
    released, result = _contributing("categorical", entries)
    if not released:
        return result
    counts: dict[str, int] = {}
    for e in released:
        for value, n in e["counts"].items():
            counts[value] = counts.get(value, 0) + int(n)
    missing_known = [e["missing"] for e in released if e.get("missing") is not None]
    other_known = [e["other"] for e in released if e.get("other") is not None]
    result.update(
        suppressed=False,
        count=sum(int(e["count"]) for e in released),
        missing=int(sum(missing_known)),
        missing_lower_bound=len(missing_known) < len(released),
        counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        other=int(sum(other_known)),
        other_lower_bound=len(other_known) < len(released),
        # A value folded into "other" on some host is under-counted in "counts".
        counts_lower_bound=any(e.get("other") != 0 for e in released),
    )
    return result


def combine_summaries(summaries: list[dict[str, Any]], edges: dict[str, list[float]]) -> dict[str, Any]:
    """Pool hosts' local summaries into one set of statistics.

    Counts, sums and histograms add exactly; mean = sum/count and std is the population
    std from sum/sumsq. Suppressed cells are omitted, not guessed, so any pooled figure that
    touched one is a lower bound and flagged ("missing_lower_bound", "hist_suppressed_bins",
    "other_lower_bound", "counts_lower_bound"); a host whose whole column was suppressed is
    left out of that column and counted in "hosts_suppressed". Quantiles come from the pooled
    histogram, so they are exact up to bin resolution when no bin was suppressed.
    """
    rows_known = [s["rows"] for s in summaries if s.get("rows") is not None]
    numeric_entries: dict[str, list[dict[str, Any]]] = {}
    categorical_entries: dict[str, list[dict[str, Any]]] = {}
    for s in summaries:
        for col, entry in s.get("numeric", {}).items():
            numeric_entries.setdefault(col, []).append(entry)
        for col, entry in s.get("categorical", {}).items():
            categorical_entries.setdefault(col, []).append(entry)
    columns: dict[str, dict[str, Any]] = {}
    for col, entries in numeric_entries.items():
        columns[col] = _combine_numeric(col, entries, edges.get(col))
    for col, entries in categorical_entries.items():
        if col in columns:
            raise ValueError(f"column {col!r} is numeric on some hosts and categorical on others")
        columns[col] = _combine_categorical(entries)
    return {
        "hosts": len(summaries),
        "rows": int(sum(rows_known)),
        "rows_lower_bound": len(rows_known) < len(summaries),
        "columns": columns,
    }
