"""Demo federation data: bundled data sets written as one shard per host.

Classification: scikit-learn's breast-cancer and digits, label column `target`. Survival:
GBSG2, the German Breast Cancer Study Group 2 trial (Schumacher et al. 1994, J Clin Oncol
12:2086-2093; 686 patients, recurrence-free survival) as scikit-survival ships it, with
`duration` (days) and `event` (1 = recurrence or death) columns and its categorical
columns coded as numbers (horth: hormone therapy yes=1; menostat: post-menopausal=1; tgrade:
I/II/III = 1/2/3), so every demo dataset is numeric unless `missing` asks otherwise.

`missing > 0` makes the demo messy on purpose, as clinical tables are: a categorical
column `band` (the tertile, "low"/"mid"/"high", of the feature with the largest variance)
is added, then that share of the feature cells (never the target, duration or event) is
blanked at random, seeded, before the split, so hosts and `central_split` agree.

A global, stratified held-out test set is split off first; the remaining training pool is
partitioned over hosts (IID or Dirichlet label skew) and the held-out set is partitioned
IID, so every host has its own train and test file. `central_split` returns the same pooled
train pool and test set, so quality tests can compare federated training against a central
model scored on exactly the same held-out records.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from tasks.data.layout import FORMATS, LABEL_COLUMN, FileFormat, host_names, is_safe_name, split_filename  # noqa: F401 - host_names: its home was here
from tasks.data.partition import partition_dirichlet, partition_iid

DEMO_DATASETS: tuple[str, ...] = ("breast-cancer", "digits", "gbsg2")

SURVIVAL_DATASETS: tuple[str, ...] = ("gbsg2",)
"""Demo datasets whose target is (`duration`, `event`) instead of `target`."""

DURATION_COLUMN = "duration"
EVENT_COLUMN = "event"
CATEGORY_COLUMN = "band"
"""The categorical column `missing > 0` adds."""

#: scikit-learn's loaders by name, imported when a file is written (`fedpe up` on a home that
#: has its demo data, and every host, never import scikit-learn for them).
_LOADERS: dict[str, str] = {
    "breast-cancer": "load_breast_cancer",
    "digits": "load_digits",
}

# Stream tags mixed into the seed so each dataset/purpose gets its own independent RNG.
_PURPOSE_TRAIN, _PURPOSE_TEST, _PURPOSE_MISSING = 1, 2, 3


def _clean_column(name: object) -> str:
    """'mean radius' -> 'mean_radius': lower case, runs of non-alphanumerics become '_'."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return cleaned or "column"


def target_columns(dataset: str) -> list[str]:
    """The label column(s) of a demo dataset: `[target]`, or `[duration, event]` for survival."""
    return [DURATION_COLUMN, EVENT_COLUMN] if dataset in SURVIVAL_DATASETS else [LABEL_COLUMN]


def _strata_column(dataset: str) -> str:
    return EVENT_COLUMN if dataset in SURVIVAL_DATASETS else LABEL_COLUMN


def _load_gbsg2() -> pd.DataFrame:
    """GBSG2 from scikit-survival, categorical columns coded as numbers (see the module docstring)."""
    from sksurv.datasets import load_gbsg2  # imported here: only this dataset needs it

    X, y = load_gbsg2()
    frame = pd.DataFrame({
        "age": X["age"].astype(np.float64),
        "estrec": X["estrec"].astype(np.float64),
        "horth": (X["horTh"].astype(str) == "yes").astype(np.int64),
        "menostat": (X["menostat"].astype(str) == "Post").astype(np.int64),
        "pnodes": X["pnodes"].astype(np.float64),
        "progrec": X["progrec"].astype(np.float64),
        "tgrade": X["tgrade"].astype(str).map({"I": 1, "II": 2, "III": 3}).astype(np.int64),
        "tsize": X["tsize"].astype(np.float64),
    })
    frame[DURATION_COLUMN] = np.asarray(y["time"], dtype=np.float64)
    frame[EVENT_COLUMN] = np.asarray(y["cens"], dtype=np.int64)
    return frame.reset_index(drop=True)


def _make_messy(frame: pd.DataFrame, dataset: str, missing: float, rng: np.random.Generator) -> pd.DataFrame:
    """Add the `band` category column, then blank `missing` of the feature cells."""
    labels = target_columns(dataset)
    features = [c for c in frame.columns if c not in labels]
    widest = max(features, key=lambda c: (float(frame[c].astype(np.float64).var()), c))
    ranks = frame[widest].rank(method="first", pct=True).to_numpy()
    out = frame.copy()
    out.insert(len(features), CATEGORY_COLUMN, pd.Series(np.where(ranks <= 1 / 3, "low", np.where(ranks <= 2 / 3, "mid", "high")),
                                                      dtype=object))
    features.append(CATEGORY_COLUMN)
    blank = rng.random((len(out), len(features))) < missing
    for j, col in enumerate(features):
        if blank[:, j].any():
            if out[col].dtype.kind in "iub":
                out[col] = out[col].astype(np.float64)  # NaN needs a float column
            out.loc[blank[:, j], col] = None if out[col].dtype == object else np.nan
    return out


def _load_frame(dataset: str) -> pd.DataFrame:
    """The whole bundled data set as one frame: cleaned feature names plus its label column(s)."""
    if dataset == "gbsg2":
        return _load_gbsg2()
    if dataset not in _LOADERS:
        raise ValueError(f"unknown demo dataset {dataset!r}; expected one of {DEMO_DATASETS}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, _LOADERS[dataset])(as_frame=True)
    frame = bunch.data.copy()  # type: ignore[attr-defined]
    frame.columns = [_clean_column(c) for c in frame.columns]
    if LABEL_COLUMN in frame.columns or frame.columns.duplicated().any():
        raise ValueError(f"column names of {dataset!r} collide after cleaning")
    frame[LABEL_COLUMN] = np.asarray(bunch.target, dtype=np.int64)  # type: ignore[attr-defined]
    return frame.reset_index(drop=True)


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")


def _check_missing(missing: float) -> None:
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing must be in [0, 1), got {missing}")


def central_split(
    dataset: str, *, seed: int = 0, test_fraction: float = 0.2, missing: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pooled global (train pool, held-out test set) that write_demo_data shards over hosts.

    Stratified on `target` (`event` for survival) and seeded, so the same arguments always
    give the same records; `missing` blanks cells exactly as the hosts' files have them.
    Both frames have a fresh 0..n-1 index.
    """
    _check_fraction(test_fraction)
    _check_missing(missing)
    frame = _load_frame(dataset)
    if missing > 0:
        ds_index = DEMO_DATASETS.index(dataset)
        frame = _make_messy(frame, dataset, missing, np.random.default_rng([seed, ds_index, _PURPOSE_MISSING]))
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame,
        test_size=test_fraction,
        stratify=frame[_strata_column(dataset)],
        random_state=seed,
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _write_atomic(frame: pd.DataFrame, path: Path, fmt: FileFormat) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _stale_other_formats(folder: Path, split: Literal["train", "test"], fmt: FileFormat) -> None:
    """Remove a split left over in another format, which would otherwise shadow or confuse."""
    for other in FORMATS:
        if other != fmt:
            (folder / split_filename(split, other)).unlink(missing_ok=True)


def write_demo_data(
    root: str | Path,
    hosts: Sequence[str],
    *,
    partition: Literal["iid", "dirichlet"] = "iid",
    alpha: float = 0.5,
    seed: int = 0,
    fmt: Literal["csv", "parquet"] = "parquet",
    test_fraction: float = 0.2,
    missing: float = 0.0,
    datasets: Sequence[str] = DEMO_DATASETS,
) -> dict[str, Path]:
    """Write `{root}/{host}/{dataset}/train.{fmt}` and `test.{fmt}` for each of `datasets`.

    Deterministic in its arguments (rewriting gives byte-identical files). With
    `partition="dirichlet"` each host gets at least min(10, pool // (2 * hosts)) training
    records (label skew on `event` for survival data). `missing` adds the `band`
    column and blanks that share of feature cells. Returns {host: that host's data dir}.
    """
    host_list = list(hosts)
    if not host_list:
        raise ValueError("hosts must not be empty")
    if len(set(host_list)) != len(host_list):
        raise ValueError(f"host names must be unique, got {host_list}")
    for host in host_list:
        if not is_safe_name(host):
            raise ValueError(f"host name {host!r} is not a plain folder name")
    if partition not in ("iid", "dirichlet"):
        raise ValueError(f"partition must be 'iid' or 'dirichlet', got {partition!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    _check_fraction(test_fraction)
    _check_missing(missing)
    unknown = [d for d in datasets if d not in DEMO_DATASETS]
    if unknown:
        raise ValueError(f"unknown demo dataset {unknown[0]!r}; expected one of {DEMO_DATASETS}")

    root_path = Path(root)
    num_hosts = len(host_list)
    for dataset in datasets:
        ds_index = DEMO_DATASETS.index(dataset)  # the stream tag stays with the dataset, not its position
        train, test = central_split(dataset, seed=seed, test_fraction=test_fraction, missing=missing)
        train_rng = np.random.default_rng([seed, ds_index, _PURPOSE_TRAIN])
        test_rng = np.random.default_rng([seed, ds_index, _PURPOSE_TEST])
        if partition == "iid":
            train_parts = partition_iid(len(train), num_hosts, train_rng)
        else:
            min_size = max(1, min(10, len(train) // (2 * num_hosts)))
            train_parts = partition_dirichlet(
                train[_strata_column(dataset)].to_numpy(), num_hosts, alpha, train_rng, min_size=min_size
            )
        test_parts = partition_iid(len(test), num_hosts, test_rng)
        for host, train_idx, test_idx in zip(host_list, train_parts, test_parts):
            folder = root_path / host / dataset
            for split, frame in (("train", train.iloc[train_idx]), ("test", test.iloc[test_idx])):
                _stale_other_formats(folder, split, fmt)  # type: ignore[arg-type]
                _write_atomic(
                    frame.reset_index(drop=True),
                    folder / split_filename(split, fmt),  # type: ignore[arg-type]
                    fmt,
                )
    return {host: root_path / host for host in host_list}
