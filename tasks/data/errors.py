"""Typed errors of the data layer, so callers can tell "no such data" from a bug."""

from __future__ import annotations

from pathlib import Path


class DatasetNotFound(LookupError):
    """Raised when a host is asked for a dataset (or split) that its data folder does not hold.

    It names both the dataset and the host's data directory, because the same name
    may exist on one hospital node and not on another.
    """

    def __init__(self, name: str, data_dir: str | Path, split: str | None = None) -> None:
        self.name = name
        self.data_dir = str(data_dir)
        self.split = split
        what = f"dataset {name!r}" if split is None else f"split {split!r} of dataset {name!r}"
        super().__init__(f"{what} not found in data dir {self.data_dir}")
