"""Demo data written per host from bundled data sets (scikit-learn, scikit-survival)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tasks.data.catalogue import fingerprint_file, load_dataset, scan_catalogue
import numpy as np

from tasks.data.demo import (
    CATEGORY_COLUMN,
    DEMO_DATASETS,
    central_split,
    host_names,
    target_columns,
    write_demo_data,
)


def _sorted_records(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """The category column as objects with None for gaps (parquet reads it back as str with NaN)."""
    band = frame[CATEGORY_COLUMN].astype(object)
    return frame.assign(**{CATEGORY_COLUMN: band.where(band.notna(), None)})


def test_host_names_three() -> None:
    # Execute / Assert
    assert host_names(3) == ["hospital-a", "hospital-b", "hospital-c"]


def test_host_names_twenty_eight_switches_to_numbers_after_z() -> None:
    # Execute
    names = host_names(28)

    # Assert
    assert names[0] == "hospital-a"
    assert names[25] == "hospital-z"
    assert names[26:] == ["hospital-27", "hospital-28"]
    assert len(set(names)) == 28


def test_central_split_sizes_and_clean_columns() -> None:
    # Execute
    train, test = central_split("breast-cancer", seed=0, test_fraction=0.2)

    # Assert
    assert (len(train), len(test)) == (455, 114)
    assert "mean_radius" in train.columns
    assert not any(" " in c for c in train.columns)
    assert train["target"].dtype == "int64"
    assert test["target"].value_counts().to_dict() == {1: 72, 0: 42}  # stratified


def test_write_demo_data_shards_exactly_the_central_split(tmp_path: Path) -> None:
    # Prepare
    hosts = host_names(3)

    # Execute
    dirs = write_demo_data(tmp_path, hosts, seed=4)

    # Assert
    assert dirs == {h: tmp_path / h for h in hosts}
    for dataset in DEMO_DATASETS:
        train, test = central_split(dataset, seed=4, test_fraction=0.2)
        host_train = [load_dataset(dirs[h], dataset) for h in hosts]
        host_test = [load_dataset(dirs[h], dataset, split="test") for h in hosts]
        assert max(len(f) for f in host_train) - min(len(f) for f in host_train) <= 1
        assert all(len(f) > 0 for f in host_test)
        pd.testing.assert_frame_equal(_sorted_records(pd.concat(host_train)), _sorted_records(train))
        pd.testing.assert_frame_equal(_sorted_records(pd.concat(host_test)), _sorted_records(test))
    assert [d.name for d in scan_catalogue(dirs["hospital-a"])] == ["breast-cancer", "digits", "gbsg2"]


def test_write_demo_data_is_idempotent(tmp_path: Path) -> None:
    # Prepare
    write_demo_data(tmp_path, host_names(2), partition="dirichlet", alpha=0.5, seed=1)
    files = sorted(tmp_path.rglob("*.parquet"))
    before = {f: fingerprint_file(f) for f in files}

    # Execute
    write_demo_data(tmp_path, host_names(2), partition="dirichlet", alpha=0.5, seed=1)

    # Assert
    assert len(files) == 2 * len(DEMO_DATASETS) * 2
    assert {f: fingerprint_file(f) for f in sorted(tmp_path.rglob("*.parquet"))} == before


def test_write_demo_data_dirichlet_csv_covers_pool(tmp_path: Path) -> None:
    # Execute
    dirs = write_demo_data(tmp_path, host_names(4), partition="dirichlet", alpha=0.1, fmt="csv", seed=2)

    # Assert
    train, _ = central_split("digits", seed=2, test_fraction=0.2)
    infos = [next(i for i in scan_catalogue(d) if i.name == "digits") for d in dirs.values()]
    assert all(i.format == "csv" and i.rows >= 10 for i in infos)
    assert sum(i.rows for i in infos) == len(train) == 1437


def test_write_demo_data_rejects_duplicate_hosts(tmp_path: Path) -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="unique"):
        write_demo_data(tmp_path, ["hospital-a", "hospital-a"])


def test_gbsg2_is_numeric_survival_data_stratified_on_event() -> None:
    # Execute
    train, test = central_split("gbsg2", seed=0)
    # Assert
    assert (len(train), len(test)) == (548, 138)
    assert target_columns("gbsg2") == ["duration", "event"]
    assert list(train.columns) == ["age", "estrec", "horth", "menostat", "pnodes", "progrec", "tgrade", "tsize",
                                   "duration", "event"]
    assert all(np.issubdtype(dtype, np.number) for dtype in train.dtypes)
    assert set(train["event"]) == {0, 1} and set(train["tgrade"]) == {1, 2, 3}
    assert abs(train["event"].mean() - test["event"].mean()) < 0.01  # stratified on the event


def test_missing_blanks_feature_cells_and_adds_a_category_everywhere_alike(tmp_path: Path) -> None:
    # Prepare
    hosts = host_names(3)
    # Execute
    dirs = write_demo_data(tmp_path, hosts, seed=3, missing=0.1, datasets=("breast-cancer", "gbsg2"))
    # Assert
    assert [d.name for d in scan_catalogue(dirs["hospital-b"])] == ["breast-cancer", "gbsg2"]
    for dataset in ("breast-cancer", "gbsg2"):
        train, _ = central_split(dataset, seed=3, missing=0.1)
        pooled = pd.concat([load_dataset(dirs[h], dataset) for h in hosts])
        pd.testing.assert_frame_equal(_as_objects(_sorted_records(pooled)), _as_objects(_sorted_records(train)),
                                      check_dtype=False)
        features = train.drop(columns=target_columns(dataset))
        assert 0.08 < features.isna().to_numpy().mean() < 0.12
        assert not train[target_columns(dataset)].isna().to_numpy().any()
        assert set(train[CATEGORY_COLUMN].dropna()) == {"low", "mid", "high"}
    complete, _ = central_split("breast-cancer", seed=3)
    assert CATEGORY_COLUMN not in complete.columns and not complete.isna().to_numpy().any()


def test_missing_and_datasets_are_checked(tmp_path: Path) -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="missing"):
        write_demo_data(tmp_path, ["h"], missing=1.0)
    with pytest.raises(ValueError, match="unknown demo dataset 'iris'"):
        write_demo_data(tmp_path, ["h"], datasets=("iris",))
