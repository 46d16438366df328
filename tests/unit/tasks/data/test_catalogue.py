"""Catalogue and loading of a host's data folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from tasks.data import DatasetInfo, DatasetNotFound, fingerprint_file, load_dataset, scan_catalogue


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [30, 41, 52, 63],
            "weight": [70.5, 80.0, 65.25, 90.0],
            "ward": pd.Categorical(["a", "b", "a", "c"]),
            "smoker": [True, False, False, True],
            "note": ["x", "y", "z", "w"],
            "target": [0, 1, 0, 1],
        }
    )


def test_scan_catalogue_describes_parquet_and_csv_and_skips_folders_without_train(tmp_path: Path) -> None:
    # Prepare
    (tmp_path / "zeta").mkdir()
    _frame().to_parquet(tmp_path / "zeta" / "train.parquet", index=False)
    _frame().iloc[:2].to_parquet(tmp_path / "zeta" / "test.parquet", index=False)
    (tmp_path / "alpha").mkdir()
    _frame().to_csv(tmp_path / "alpha" / "train.csv", index=False)
    (tmp_path / "only-test").mkdir()
    _frame().to_csv(tmp_path / "only-test" / "test.csv", index=False)

    # Execute
    catalogue = scan_catalogue(tmp_path)

    # Assert
    assert [d.name for d in catalogue] == ["alpha", "zeta"]
    alpha, zeta = catalogue
    assert (alpha.format, alpha.rows, alpha.test_rows, alpha.files) == ("csv", 4, 0, ["train.csv"])
    assert [(c.name, c.dtype) for c in alpha.columns] == [
        ("age", "int"), ("weight", "float"), ("ward", "string"),
        ("smoker", "bool"), ("note", "string"), ("target", "int"),
    ]
    assert (zeta.format, zeta.rows, zeta.test_rows) == ("parquet", 4, 2)
    assert zeta.files == ["test.parquet", "train.parquet"]
    assert [(c.name, c.dtype) for c in zeta.columns] == [
        ("age", "int"), ("weight", "float"), ("ward", "category"),
        ("smoker", "bool"), ("note", "string"), ("target", "int"),
    ]
    train_bytes = (tmp_path / "zeta" / "train.parquet").read_bytes()
    assert zeta.fingerprint == hashlib.sha256(train_bytes).hexdigest()
    assert zeta.size_bytes == len(train_bytes) + (tmp_path / "zeta" / "test.parquet").stat().st_size


def test_dataset_info_round_trips_through_json(tmp_path: Path) -> None:
    # Prepare
    (tmp_path / "d").mkdir()
    _frame().to_parquet(tmp_path / "d" / "train.parquet", index=False)
    [info] = scan_catalogue(tmp_path)

    # Execute
    restored = DatasetInfo.model_validate(json.loads(info.model_dump_json()))

    # Assert
    assert restored == info


def test_fingerprint_file_matches_sha256_of_bytes_larger_than_one_chunk(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 9000  # ~2.3 MB, several 1 MiB chunks
    path.write_bytes(payload)

    # Execute
    digest = fingerprint_file(path)

    # Assert
    assert digest == hashlib.sha256(payload).hexdigest()


def test_load_dataset_reads_each_split(tmp_path: Path) -> None:
    # Prepare
    (tmp_path / "d").mkdir()
    _frame().to_parquet(tmp_path / "d" / "train.parquet", index=False)
    _frame().iloc[:2].to_csv(tmp_path / "d" / "test.csv", index=False)

    # Execute
    train = load_dataset(tmp_path, "d")
    test = load_dataset(tmp_path, "d", split="test")

    # Assert
    assert train["age"].tolist() == [30, 41, 52, 63]
    assert test["target"].tolist() == [0, 1]


def test_load_dataset_missing_raises_dataset_not_found_naming_dataset_and_dir(tmp_path: Path) -> None:
    # Prepare
    (tmp_path / "d").mkdir()
    _frame().to_parquet(tmp_path / "d" / "train.parquet", index=False)

    # Execute / Assert
    with pytest.raises(DatasetNotFound) as absent:
        load_dataset(tmp_path, "nope")
    with pytest.raises(DatasetNotFound) as no_test:
        load_dataset(tmp_path, "d", split="test")
    with pytest.raises(LookupError):
        load_dataset(tmp_path, "../d")

    assert "'nope'" in str(absent.value) and str(tmp_path) in str(absent.value)
    assert (no_test.value.name, no_test.value.split) == ("d", "test")


def test_scan_catalogue_of_missing_dir_raises(tmp_path: Path) -> None:
    # Execute / Assert
    with pytest.raises(FileNotFoundError, match="missing"):
        scan_catalogue(tmp_path / "missing")


def test_a_wide_csv_loads_with_every_value_and_type_as_written(tmp_path: Path) -> None:
    # Prepare: wider than WIDE_COLUMNS, so it takes the copy into one block per type
    from tasks.data.catalogue import WIDE_COLUMNS

    wide = pd.DataFrame({f"f{j}": [j + 0.5, j - 0.25, float("nan")] for j in range(WIDE_COLUMNS + 5)})
    wide["site"] = ["a", None, "c"]
    wide["target"] = [0, 1, 0]
    folder = tmp_path / "wide"
    folder.mkdir()
    wide.to_csv(folder / "train.csv", index=False)
    # Execute
    loaded = load_dataset(tmp_path, "wide", "train")
    # Assert
    pd.testing.assert_frame_equal(loaded, pd.read_csv(folder / "train.csv"))
    assert loaded.shape == (3, WIDE_COLUMNS + 7)
