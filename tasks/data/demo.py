"""Demo federation data: scikit-learn's bundled data sets written as one shard per host.

A global, stratified held-out test set is split off first; the remaining training pool is
partitioned over hosts (IID or Dirichlet label skew) and the held-out set is partitioned
IID, so every host has its own train and test file. ``central_split`` returns the same pooled
train pool and test set, so quality tests can compare federated training against a central
model scored on exactly the same held-out records.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from tasks.data.layout import FORMATS, LABEL_COLUMN, FileFormat, is_safe_name, split_filename
from tasks.data.partition import partition_dirichlet, partition_iid

DEMO_DATASETS: tuple[str, ...] = ("breast-cancer", "digits")

_LOADERS: dict[str, Callable[..., object]] = {
    "breast-cancer": load_breast_cancer,
    "digits": load_digits,
}

# Stream tags mixed into the seed so each dataset/purpose gets its own independent RNG.
_PURPOSE_TRAIN, _PURPOSE_TEST = 1, 2


def host_names(n: int) -> list[str]:
    """Names of ``n`` demo hosts: "hospital-a" ... "hospital-z", then "hospital-27", "hospital-28", ...

    Letters for the first 26 keep demos readable; beyond that the 1-based position is used,
    so names stay unique and sort-stable for any ``n``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [f"hospital-{chr(ord('a') + i)}" if i < 26 else f"hospital-{i + 1}" for i in range(n)]


def _clean_column(name: object) -> str:
    """'mean radius' -> 'mean_radius': lower case, runs of non-alphanumerics become '_'."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return cleaned or "column"


def _load_frame(dataset: str) -> pd.DataFrame:
    """The whole bundled data set as one frame: cleaned feature names plus int ``target``."""
    if dataset not in _LOADERS:
        raise ValueError(f"unknown demo dataset {dataset!r}; expected one of {DEMO_DATASETS}")
    bunch = _LOADERS[dataset](as_frame=True)
    frame = bunch.data.copy()  # type: ignore[attr-defined]
    frame.columns = [_clean_column(c) for c in frame.columns]
    if LABEL_COLUMN in frame.columns or frame.columns.duplicated().any():
        raise ValueError(f"column names of {dataset!r} collide after cleaning")
    frame[LABEL_COLUMN] = np.asarray(bunch.target, dtype=np.int64)  # type: ignore[attr-defined]
    return frame.reset_index(drop=True)


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")


def central_split(dataset: str, *, seed: int = 0, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pooled global (train pool, held-out test set) that write_demo_data shards over hosts.

    Stratified on ``target`` and seeded, so the same arguments always give the same records.
    Both frames have a fresh 0..n-1 index.
    """
    _check_fraction(test_fraction)
    frame = _load_frame(dataset)
    train, test = train_test_split(
        frame,
        test_size=test_fraction,
        stratify=frame[LABEL_COLUMN],
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
) -> dict[str, Path]:
    """Write ``{root}/{host}/{dataset}/train.{fmt}`` and ``test.{fmt}`` for every demo dataset.

    Deterministic in its arguments (rewriting gives byte-identical files). With
    ``partition="dirichlet"`` each host gets at least min(10, pool // (2 * hosts)) training
    records. Returns {host: that host's data dir}.
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

    root_path = Path(root)
    num_hosts = len(host_list)
    for ds_index, dataset in enumerate(DEMO_DATASETS):
        train, test = central_split(dataset, seed=seed, test_fraction=test_fraction)
        train_rng = np.random.default_rng([seed, ds_index, _PURPOSE_TRAIN])
        test_rng = np.random.default_rng([seed, ds_index, _PURPOSE_TEST])
        if partition == "iid":
            train_parts = partition_iid(len(train), num_hosts, train_rng)
        else:
            min_size = max(1, min(10, len(train) // (2 * num_hosts)))
            train_parts = partition_dirichlet(
                train[LABEL_COLUMN].to_numpy(), num_hosts, alpha, train_rng, min_size=min_size
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
