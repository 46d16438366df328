"""A finished round of a federated training: how it is stored, read back, and named as metrics.

The server role (tasks/host/server.py) sends each round home as an *entry*: its number, who took
part and who dropped out, timings, the pooled validation metrics at the top level and each
client's under `per_client`. The coordinator stores every entry once, as an object of its own,
`{execution_id}/_rounds/{round:05d}.json` (`write_round`): an object store cannot append, and a
round never changes once written. Every reader lists and reads them with `read_rounds`.

`RoundRecord` is an entry read for what it measures, and `flat_metrics` its one projection to
metric names, the pooled ones by their own names and each client's as `client.HOST.KEY`:
the metrics CSV has them as columns (`rounds_csv`), the dashboard's curves offer them, and
MLflow logs them (step = round), of each client its loss and headline quality
(`tracked_metrics`). `/metrics` rows and the stream's `round` events are
`RoundRecord.row()`, the same numbers grouped by client.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.conventions import ROUNDS_DIR, round_file

if TYPE_CHECKING:  # the API and the dashboard import this module; the store's module imports Prefect
    from blocks.store import StoreSpec

logger = logging.getLogger("fedpe.rounds")

#: Numbers of an entry that are bookkeeping, not metrics of the model (MLflow's step is the round).
NOT_METRICS = frozenset({"round", "ended_at"})
#: How a client's metric is named beside the pooled ones: `client.HOST.KEY`.
CLIENT_PREFIX = "client."
#: A CSV cell a spreadsheet would run as a formula starts with one of these (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ROUND_FILE = re.compile(r"^(\d{1,9})\.json$")  # `round_file`'s names


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(values: Any, skip: frozenset[str] = frozenset()) -> dict[str, float]:
    """The numbers of a mapping (bools, text, lists and nulls are not metrics)."""
    if not isinstance(values, Mapping):
        return {}
    return {str(k): v for k, v in values.items() if _is_number(v) and k not in skip}


def _nulls_as_nan(values: Any) -> dict[str, float]:
    """The numbers of a `row()`'s mapping, where null stands for a number that was not finite."""
    if not isinstance(values, Mapping):
        return {}
    return {str(k): math.nan if v is None else v for k, v in values.items() if v is None or _is_number(v)}


def _names(values: Any) -> list[str]:
    return [v for v in values if isinstance(v, str)] if isinstance(values, (list, tuple)) else []


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity (a diverged loss): they read as null."""
    return value if not isinstance(value, float) or math.isfinite(value) else None


@dataclass(frozen=True)
class RoundRecord:
    """What a finished round measured: pooled metrics, each client's, who took part, who dropped."""

    round: int
    metrics: dict[str, float] = field(default_factory=dict)
    per_client: dict[str, dict[str, float]] = field(default_factory=dict)
    clients: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> "RoundRecord":
        """The record of an entry as the server role sent it (pooled metrics at its top level)."""
        return cls._of(entry, _numbers(entry, NOT_METRICS), _numbers)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "RoundRecord":
        """The record back from its `row()`: a null metric reads as NaN, the number it stood for."""
        return cls._of(row, _nulls_as_nan(row.get("metrics")), _nulls_as_nan)

    @classmethod
    def _of(cls, values: Mapping[str, Any], metrics: dict[str, float],
            read: Callable[[Any], dict[str, float]]) -> "RoundRecord":
        number = values.get("round")
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValueError(f"not a round: its `round` is {number!r}")
        per_client = values.get("per_client") if isinstance(values.get("per_client"), Mapping) else {}
        return cls(round=number, metrics=metrics,
                   per_client={str(h): read(m) for h, m in per_client.items() if isinstance(m, Mapping)},
                   clients=_names(values.get("clients")), dropped=_names(values.get("dropped")))

    def row(self) -> dict[str, Any]:
        """The record as JSON (`/metrics` rows, the stream's `round` events): non-finite numbers as null."""
        return {"round": self.round, "metrics": {k: finite(v) for k, v in self.metrics.items()},
                "per_client": {h: {k: finite(v) for k, v in m.items()} for h, m in self.per_client.items()},
                "clients": list(self.clients), "dropped": list(self.dropped)}


def flat_metrics(record: RoundRecord) -> dict[str, float]:
    """The round's metrics by name: the pooled ones as they are, each client's as `client.HOST.KEY`.

    The one projection of a round to names: what MLflow logs at step = round, the metrics CSV's
    columns, the metrics the dashboard's curves offer (by `metric_key`)."""
    flat = dict(record.metrics)
    for host, values in record.per_client.items():
        flat.update({f"{CLIENT_PREFIX}{host}.{key}": value for key, value in values.items()})
    return flat


#: What MLflow gets of each client every round, beside every pooled metric: the loss and the
#: headline quality. Every client metric is a row MLflow's server writes: with all of them (nine
#: for a classifier) a 25-host training's result waited 3 s for MLflow to catch up. The full set
#: is in the metrics CSV (also an artifact of the run), `/metrics` and the dashboard.
CLIENT_TRACKED = frozenset({"loss", "accuracy", "concordance"})


def tracked_metrics(record: RoundRecord) -> dict[str, float]:
    """What MLflow logs at step = round: `flat_metrics`, of each client only `CLIENT_TRACKED`."""
    return {name: value for name, value in flat_metrics(record).items()
            if not name.startswith(CLIENT_PREFIX) or metric_key(name) in CLIENT_TRACKED}


def metric_key(name: str) -> str:
    """What a name from `flat_metrics` measures, whoever measured it: `client.h.loss` -> `loss`."""
    return name.rsplit(".", 1)[-1] if name.startswith(CLIENT_PREFIX) else name


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, quoted with a leading `'`; numbers as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def rounds_csv(records: Iterable[RoundRecord]) -> str:
    """The rounds as CSV, one line per round: `round`, the `flat_metrics` names (`accuracy`,
    `client.HOST.loss`, ...), then `clients` and `dropped` (`;`-separated). A missing or
    non-finite number is an empty cell.

    Metric and host names come from hosts: a text cell that starts like a formula is escaped."""
    columns: dict[str, None] = {}
    flat = []
    for record in records:
        values = flat_metrics(record)
        columns.update(dict.fromkeys(values))
        flat.append((record, values))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in ("round", *columns, "clients", "dropped")])
    for record, values in flat:
        cells = ("" if finite(values.get(c)) is None else values[c] for c in columns)
        writer.writerow([csv_cell(c) for c in (record.round, *cells, ";".join(record.clients),
                                               ";".join(record.dropped))])
    return out.getvalue()


def write_round(store: "StoreSpec", execution_id: str, entry: Mapping[str, Any]) -> None:
    """Store one finished round, once, as its own object (an object store has no append)."""
    data = json.dumps(entry, default=float).encode()
    store.write_bytes(data, execution_id, ROUNDS_DIR, round_file(int(entry["round"])))


def _stored_rounds(store: "StoreSpec", execution_id: str) -> list[tuple[int, str]]:
    """(round, file name) of the rounds stored so far, in order, from a fresh listing."""
    fs, _ = store.filesystem()
    base = store.path(execution_id, ROUNDS_DIR)
    fs.invalidate_cache(base)  # s3fs keeps listings: a poller must see the rounds written since
    try:
        paths = fs.ls(base, detail=False)
    except FileNotFoundError:
        return []
    names = (posixpath.basename(str(path).rstrip("/")) for path in paths)
    return sorted((int(match[1]), match[0]) for match in map(_ROUND_FILE.match, names) if match)


def read_rounds(store: "StoreSpec", execution_id: str, *, after: int = 0,
                cache: MutableMapping[int, dict] | None = None) -> list[dict]:
    """The execution's finished rounds after round `after`, in order, each as the server role sent it.

    Every reader of the rounds comes here. `cache` (round -> entry) holds what was read before:
    a stored round never changes, so only the rounds not in it are read. A stored object that is
    not the round its name says (not JSON, another `round`) is skipped and logged."""
    cache = {} if cache is None else cache
    entries = []
    for number, name in _stored_rounds(store, execution_id):
        if number <= after:
            continue
        if number not in cache:
            try:
                entry = json.loads(store.read_bytes(execution_id, ROUNDS_DIR, name))
            except FileNotFoundError:  # removed meanwhile: the execution was deleted
                continue
            except ValueError:
                entry = None
            if not isinstance(entry, dict) or type(entry.get("round")) is not int or entry["round"] != number:
                logger.warning("execution %s: skipped %s/%s, not a round", execution_id, ROUNDS_DIR, name)
                continue
            cache[number] = entry
        entries.append(cache[number])
    return entries
