"""The on-disk layout of a host's data folder, in one place so every reader agrees.

Layout::

    {data_dir}/{dataset}/train.{parquet|csv}   # the pool the host trains/validates on
    {data_dir}/{dataset}/test.{parquet|csv}    # held-out test file, never read by training

The label column is called `target`. If both formats exist for a split, parquet wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

LABEL_COLUMN = "target"
"""Name of the label column in every dataset file."""

Split = Literal["train", "test"]
FileFormat = Literal["csv", "parquet"]

SPLITS: tuple[Split, ...] = ("train", "test")
FORMATS: tuple[FileFormat, ...] = ("parquet", "csv")
"""Supported formats, in order of preference when a split exists in both."""


def is_safe_name(name: str) -> bool:
    """True if `name` is a plain folder name, so a request cannot escape the data dir."""
    return (
        bool(name)
        and name not in {".", ".."}
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def dataset_dir(data_dir: str | Path, name: str) -> Path:
    """Folder of dataset `name` inside `data_dir` (no existence check)."""
    return Path(data_dir) / name


def split_filename(split: Split, fmt: FileFormat) -> str:
    """File name of one split in one format, e.g. `train.parquet`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    return f"{split}.{fmt}"


def find_split_file(data_dir: str | Path, name: str, split: Split) -> Path | None:
    """Path of the existing file for `split` of dataset `name`, or None if absent."""
    if not is_safe_name(name):
        return None
    folder = dataset_dir(data_dir, name)
    for fmt in FORMATS:
        candidate = folder / split_filename(split, fmt)
        if candidate.is_file():
            return candidate
    return None


def file_format(path: str | Path) -> FileFormat:
    """Format of a dataset file, from its suffix."""
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix == "parquet":
        return "parquet"
    if suffix == "csv":
        return "csv"
    raise ValueError(f"unsupported dataset file {path}; expected .parquet or .csv")


def host_names(n: int) -> list[str]:
    """Names of `n` demo hosts: "hospital-a" ... "hospital-z", then "hospital-27", "hospital-28", ...

    Letters for the first 26 keep demos readable; beyond that the 1-based position is used,
    so names stay unique and sort-stable for any `n`.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [f"hospital-{chr(ord('a') + i)}" if i < 26 else f"hospital-{i + 1}" for i in range(n)]
