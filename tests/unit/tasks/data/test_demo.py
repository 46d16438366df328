"""Demo data written per host from scikit-learn's bundled data sets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tasks.data.catalogue import fingerprint_file, load_dataset, scan_catalogue
from tasks.data.demo import DEMO_DATASETS, central_split, host_names, write_demo_data


def _sorted_records(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


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
    assert [d.name for d in scan_catalogue(dirs["hospital-a"])] == ["breast-cancer", "digits"]


def test_write_demo_data_is_idempotent(tmp_path: Path) -> None:
    # Prepare
    write_demo_data(tmp_path, host_names(2), partition="dirichlet", alpha=0.5, seed=1)
    files = sorted(tmp_path.rglob("*.parquet"))
    before = {f: fingerprint_file(f) for f in files}

    # Execute
    write_demo_data(tmp_path, host_names(2), partition="dirichlet", alpha=0.5, seed=1)

    # Assert
    assert len(files) == 2 * 2 * 2
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
