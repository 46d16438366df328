"""A host's catalogue: what datasets its data folder holds, described without leaking records.

The catalogue carries only metadata (names, column types, row counts, sizes, a fingerprint),
so it can travel in messages and be shown by the API while the data stays on the host.
"""

from __future__ import annotations

import functools
import hashlib
import os
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from tasks.data.errors import DatasetNotFound
from tasks.data.layout import (
    SPLITS,
    FileFormat,
    Split,
    file_format,
    find_split_file,
    is_safe_name,
)

log = logging.getLogger(__name__)

ColumnType = Literal["int", "float", "category", "bool", "string"]

CSV_SAMPLE_ROWS = 1000
"""Rows of a CSV read to infer column types (a sample, not the whole file)."""
WIDE_COLUMNS = 100
"""Columns beyond which a CSV's frame is copied into one block per type (`load_dataset`)."""

_CHUNK_BYTES = 1 << 20


class ColumnInfo(BaseModel):
    """One column of a dataset: its name and a coarse, format-independent type."""

    name: str
    dtype: ColumnType


class DatasetInfo(BaseModel):
    """Metadata of one dataset on a host; JSON-serialisable so it can leave the host."""

    name: str
    format: FileFormat
    rows: int
    """Rows of the train file."""
    test_rows: int
    """Rows of the test file (0 if there is none)."""
    columns: list[ColumnInfo]
    size_bytes: int
    """Bytes of the train and test files together."""
    fingerprint: str
    """sha256 hex digest of the train file bytes: tells whether two runs saw the same data."""
    files: list[str]
    """File names relative to the dataset folder, e.g. ["test.parquet", "train.parquet"]."""


def fingerprint_file(path: str | Path) -> str:
    """sha256 hex digest of a file, streamed in chunks so large files need no memory.

    Remembered per (path, modification time, size): the host agent rescans its catalogue every
    few seconds and each training role fingerprints its data, so unchanged files are hashed once.
    """
    stat = os.stat(path)
    return _fingerprint(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _fingerprint(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _arrow_kind(arrow_type: pa.DataType) -> ColumnType:
    import pyarrow as pa  # imported late: flow processes import this module
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_dictionary(arrow_type):
        return "category"
    return "string"


def _pandas_kind(dtype: object) -> ColumnType:
    import pandas as pd  # imported late: flow processes import this module
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "string"


def _parquet_columns(path: Path) -> list[ColumnInfo]:
    """Column types from the parquet schema alone (no data pages are read)."""
    import pyarrow.parquet as pq  # imported late: flow processes import this module
    schema = pq.read_schema(path)
    index_columns: set[str] = set()
    meta = schema.pandas_metadata or {}
    for entry in meta.get("index_columns", []):
        if isinstance(entry, str):
            index_columns.add(entry)
    return [
        ColumnInfo(name=field.name, dtype=_arrow_kind(field.type))
        for field in schema
        if field.name not in index_columns
    ]


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq  # imported late: flow processes import this module
    return int(pq.ParquetFile(path).metadata.num_rows)


def _csv_columns(path: Path) -> list[ColumnInfo]:
    """Column types from the header and a small sample; types of later rows are not checked."""
    import pandas as pd  # imported late: flow processes import this module
    sample = pd.read_csv(path, nrows=CSV_SAMPLE_ROWS)
    return [ColumnInfo(name=str(col), dtype=_pandas_kind(dtype)) for col, dtype in zip(sample.columns, sample.dtypes)]


def _csv_rows(path: Path) -> int:
    """Record count of a CSV, read one column in chunks (quoted newlines are handled)."""
    import pandas as pd  # imported late: flow processes import this module
    try:
        return sum(len(chunk) for chunk in pd.read_csv(path, usecols=[0], chunksize=100_000))
    except pd.errors.EmptyDataError:
        return 0


def _rows(path: Path) -> int:
    return _parquet_rows(path) if file_format(path) == "parquet" else _csv_rows(path)


def _describe(data_dir: Path, name: str) -> DatasetInfo | None:
    train = find_split_file(data_dir, name, "train")
    if train is None:
        return None
    test = find_split_file(data_dir, name, "test")
    fmt = file_format(train)
    columns = _parquet_columns(train) if fmt == "parquet" else _csv_columns(train)
    files = [train] + ([test] if test is not None else [])
    return DatasetInfo(
        name=name,
        format=fmt,
        rows=_rows(train),
        test_rows=_rows(test) if test is not None else 0,
        columns=columns,
        size_bytes=sum(f.stat().st_size for f in files),
        fingerprint=fingerprint_file(train),
        files=sorted(f.name for f in files),
    )


def scan_catalogue(data_dir: str | Path) -> list[DatasetInfo]:
    """List the datasets in a host's data folder, sorted by name.

    Folders without a train file (and hidden folders) are skipped. A dataset whose files
    cannot be read is logged and skipped, so one broken file does not hide the others.
    Raises FileNotFoundError if `data_dir` itself is missing: an empty catalogue would
    hide a misconfigured host.
    """
    import pyarrow as pa  # imported late: flow processes import this module (pandas only for CSV files)
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"host data dir {root} does not exist or is not a directory")
    found: list[DatasetInfo] = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if not folder.is_dir() or not is_safe_name(folder.name):
            continue
        try:
            info = _describe(root, folder.name)
        except (OSError, ValueError, pa.ArrowException) as exc:  # pandas' ParserError is a ValueError
            log.warning("skipping unreadable dataset %r in %s: %s", folder.name, root, exc)
            continue
        if info is not None:
            found.append(info)
    return found


def catalogue_signature(data_dir: str | Path) -> tuple:
    """What the catalogue depends on: each dataset file's name, size and modification time.

    Stat calls only, so a host can check every few seconds whether its catalogue changed and
    rescan (which reads file headers) only when it did."""
    root = Path(data_dir)
    found = []
    with os.scandir(root) as folders:
        for folder in folders:
            if not folder.is_dir() or not is_safe_name(folder.name):
                continue
            with os.scandir(folder.path) as files:
                for entry in files:
                    if entry.is_file():
                        stat = entry.stat()
                        found.append((folder.name, entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def load_dataset(data_dir: str | Path, name: str, split: Split = "train") -> pd.DataFrame:
    """Read one split of a dataset into memory, on the host that holds it.

    Raises DatasetNotFound (naming the dataset and the data dir) if it is absent, and
    ValueError for an unknown split.
    """
    import pandas as pd  # imported late: flow processes import this module
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    path = find_split_file(data_dir, name, split)
    if path is None:
        raise DatasetNotFound(name, data_dir, split)
    if file_format(path) == "parquet":
        return pd.read_parquet(path)
    frame = pd.read_csv(path)
    # read_csv leaves each column in a block of its own, and each selection or row split of such a
    # frame then costs a step per column: 80-110 ms for 10,000 features, 3 ms once a copy has put
    # the columns of one type together (65 ms, once). A narrow table is left as it is: its steps
    # are few, and a copy of a tall one would double its memory for nothing. Parquet comes in one
    # block per type.
    return frame.copy() if frame.shape[1] > WIDE_COLUMNS else frame

