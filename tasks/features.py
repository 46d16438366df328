"""Which columns a training uses: FEM's `train_labels` read, and checked against a host's columns.

Pure Python, kept out of `tasks.prep`: the API checks a job's `train_labels` with it, and
importing `tasks.prep` loads pandas and pyarrow, which stayed in the API after its first job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def parse_features(value: str | Sequence[str] | None) -> list[str] | None:
    """FEM's `train_labels`: None/empty -> None (all but the target); "a b c" or ["a", "b"] -> a list.

    A string is split on whitespace and commas; duplicates are dropped, first one kept.
    """
    if value is None:
        return None
    if isinstance(value, str):
        items = [part for part in re.split(r"[\s,]+", value.strip()) if part]
    else:
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ValueError(f"features[{i}]: a column name must be a non-empty string, got {item!r}")
            items.append(item.strip())
    unique = list(dict.fromkeys(items))
    return unique or None


def select_features(columns: Sequence[str], target: str | Sequence[str], features: Sequence[str] | None = None) -> list[str]:
    """The columns to train on: `features` as given, or every column but the target(s).

    `target` may name several columns (a survival target is `duration` and `event`).
    Raises ValueError naming `features` or `target` when a column is absent.
    """
    present = list(columns)
    targets = [target] if isinstance(target, str) else list(target)
    for t in targets:
        if t not in present:
            raise ValueError(f"target: column {t!r} is not in the data (columns: {present})")
    if features is None:
        chosen = [c for c in present if c not in targets]
    else:
        chosen = list(features)
        missing = [c for c in chosen if c not in present]
        if missing:
            raise ValueError(f"features: column {missing[0]!r} is not in the data (columns: {present})")
        clash = [c for c in chosen if c in targets]
        if clash:
            raise ValueError(f"features: {clash[0]!r} is the target and cannot be a feature")
    if not chosen:
        raise ValueError("features: no columns left to train on")
    return chosen
