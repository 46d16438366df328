"""What the execution page's round curves offer: which of a round's numbers are metrics to choose
from, and which the chooser starts on.

The page's script applies the same rule to rounds that arrive live; it gets `NOT_PLOTTED` and
`PREFERRED` from the page (the `<select>`'s data attributes), so the rule is written here only.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from tasks.rounds import RoundRecord, flat_metrics, metric_key

#: Numbers a round carries that count or time something rather than measure the model.
NOT_PLOTTED = frozenset({"n", "num_examples", "train_examples", "steps", "round_ms"})
#: The metric the chooser starts on, the first of these the rounds carry: accuracy, or concordance
#: for a survival model; otherwise the first in the list.
PREFERRED = ("accuracy", "concordance")


def choices(rows: Iterable[dict]) -> list[str]:
    """The metrics a chart can show for these rounds (rows as /metrics gives them): what the
    round's metric names measure (`metric_key` of `flat_metrics`), pooled or a client's, where
    some round has a finite number for it, less `NOT_PLOTTED`."""
    names: set[str] = set()
    for row in rows:
        names.update(metric_key(name) for name, value in flat_metrics(RoundRecord.from_row(row)).items()
                     if math.isfinite(value))
    return sorted(names - NOT_PLOTTED)


def first_choice(names: list[str]) -> str:
    """The metric the chooser starts on (see `PREFERRED`); before any round, the first preferred."""
    return next((p for p in PREFERRED if p in names), names[0] if names else PREFERRED[0])


def chooser(rows: list[dict]) -> dict[str, Any]:
    """What the page's `<select>` is rendered from: the choices, the one chosen, and the rule its
    script applies to the rounds that arrive later."""
    names = choices(rows)
    return {"choices": names, "chosen": first_choice(names), "not_plotted": sorted(NOT_PLOTTED),
            "preferred": list(PREFERRED)}
