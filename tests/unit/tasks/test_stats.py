"""Federated statistics: suppression on the host, exact pooling on the coordinator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.stats import combine_summaries, global_edges, local_ranges, local_summary


def _hosts() -> list[pd.DataFrame]:
    return [
        pd.DataFrame({"age": [30.0, 35, 40, 45, 50, 55], "ward": ["a", "a", "a", "b", "b", "b"]}),
        pd.DataFrame({"age": [20.0, 25, 60, 65, 70, 75, 80], "ward": ["a"] * 7}),
        pd.DataFrame({"age": [33.0, 44, 55, 66, 77], "ward": ["b"] * 5}),
    ]


def _run(frames: list[pd.DataFrame], bins: int, min_count: int) -> tuple[dict, list[dict]]:
    edges = global_edges([local_ranges(f, ["age"], min_count) for f in frames], bins)
    summaries = [local_summary(f, edges, min_count=min_count, categorical=["ward"]) for f in frames]
    return combine_summaries(summaries, edges), summaries


def test_local_ranges_release_min_and_max_as_means_of_min_count_values() -> None:
    # Execute: ages 30..55; the 5 smallest average 40, the 5 largest 45
    ranges = local_ranges(_hosts()[0], None, min_count=5)

    # Assert
    assert ranges == {"age": {"count": 6, "min": 40.0, "max": 45.0, "suppressed": False}}


def test_no_released_extreme_is_one_records_value() -> None:
    # Prepare: distinct values, so a mean of several can never equal one of them by chance
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]})

    # Execute
    ranges = local_ranges(frame, None, min_count=3)
    summary = local_summary(frame, global_edges([ranges], 4), min_count=3)

    # Assert
    released = {ranges["x"]["min"], ranges["x"]["max"], summary["numeric"]["x"]["min"], summary["numeric"]["x"]["max"]}
    assert released == {7 / 3, 224 / 3}
    assert not released & set(frame["x"])


def test_global_edges_span_released_ranges_equally() -> None:
    # Prepare
    ranges = [
        {"age": {"count": 6, "min": 30.0, "max": 55.0}},
        {"age": {"count": None, "min": None, "max": None}},
        {"age": {"count": 7, "min": 20.0, "max": 80.0}},
    ]

    # Execute
    edges = global_edges(ranges, bins=4)

    # Assert
    assert edges == {"age": [20.0, 35.0, 50.0, 65.0, 80.0]}


def test_pooled_mean_std_count_equal_numpy_when_nothing_suppressed() -> None:
    # Prepare
    frames = _hosts()
    pooled = np.concatenate([f["age"].to_numpy() for f in frames])

    # Execute
    combined, _ = _run(frames, bins=1, min_count=1)

    # Assert
    age = combined["columns"]["age"]
    assert age["count"] == 18
    assert age["hosts_contributing"] == 3
    assert age["mean"] == pytest.approx(np.mean(pooled))
    assert age["std"] == pytest.approx(np.std(pooled))
    assert (age["min"], age["max"]) == (20.0, 80.0)
    assert age["hist"] == [18] and age["hist_suppressed_bins"] == []
    assert combined["rows"] == 18
    assert combined["columns"]["ward"]["counts"] == {"a": 10, "b": 8}


def test_host_with_three_records_releases_only_suppressed_flag() -> None:
    # Prepare
    small = pd.DataFrame({"age": [1.0, 2.0, 3.0], "ward": ["a", "a", "b"]})

    # Execute
    ranges = local_ranges(small, ["age"], min_count=5)
    summary = local_summary(small, {"age": [0.0, 5.0, 10.0]}, min_count=5, categorical=["ward"])

    # Assert
    assert ranges == {"age": {"count": None, "min": None, "max": None, "suppressed": True}}
    assert summary == {
        "rows": None,
        "numeric": {"age": {"suppressed": True}},
        "categorical": {"ward": {"suppressed": True}},
    }


def test_a_bin_one_host_suppressed_is_a_flagged_lower_bound() -> None:
    # Prepare: host 1 holds 8 and 2 records in [0,10) [10,20]; host 2 holds 1 and 6
    edges = {"age": [0.0, 10.0, 20.0]}
    one = local_summary(pd.DataFrame({"age": [1.0, 2, 3, 4, 5, 6, 7, 8, 15, 16]}), edges, min_count=5)
    two = local_summary(pd.DataFrame({"age": [9.0, 11, 12, 13, 14, 17, 18]}), edges, min_count=5)

    # Execute
    combined = combine_summaries([one, two], edges)["columns"]["age"]

    # Assert: bin 0 has only host 1's 8 (host 2's 1 is hidden), bin 1 only host 2's 6
    assert combined["hist"] == [8, 6]
    assert combined["hist_suppressed_bins"] == [0, 1]


def test_bin_with_two_records_is_suppressed_and_flagged_when_pooled() -> None:
    # Prepare: bins [0,10) [10,20] hold 8 and 2 records.
    frame = pd.DataFrame({"age": [1.0, 2, 3, 4, 5, 6, 7, 8, 15, 16]})
    edges = {"age": [0.0, 10.0, 20.0]}

    # Execute
    summary = local_summary(frame, edges, min_count=5)
    combined = combine_summaries([summary], edges)

    # Assert
    assert summary["numeric"]["age"]["hist"] == [8, None]
    assert summary["numeric"]["age"]["count"] == 10
    assert combined["columns"]["age"]["hist"] == [8, None]  # unknown, not empty
    assert combined["columns"]["age"]["hist_suppressed_bins"] == [1]
    assert combined["columns"]["age"]["quantiles_approximate"] is True


def test_small_missing_and_small_categories_are_suppressed() -> None:
    # Prepare: 2 missing ages; ward "c" seen twice.
    frame = pd.DataFrame(
        {"age": [1.0] * 8 + [np.nan, np.nan], "ward": ["a"] * 5 + ["b"] * 3 + ["c"] * 2}
    )

    # Execute
    summary = local_summary(frame, {"age": [0.0, 2.0]}, min_count=3)

    # Assert
    assert summary["rows"] == 10
    assert summary["numeric"]["age"]["missing"] is None
    assert summary["categorical"]["ward"] == {
        "suppressed": False, "count": 10, "missing": 0, "counts": {"a": 5, "b": 3}, "other": None,
    }


def test_host_suppressed_for_a_column_is_left_out_of_pooled_totals() -> None:
    # Prepare
    frames = _hosts() + [pd.DataFrame({"age": [99.0, 98.0], "ward": ["a", "a"]})]

    # Execute
    combined, summaries = _run(frames, bins=3, min_count=5)

    # Assert
    age = combined["columns"]["age"]
    assert summaries[3]["numeric"]["age"] == {"suppressed": True}
    assert (age["hosts_contributing"], age["hosts_suppressed"]) == (3, 1)
    assert age["count"] == 18 and age["max"] == 70.0  # host 1's 5 largest ages, 60..80, average 70
    assert combined["rows"] == 18 and combined["rows_lower_bound"] is True


def test_median_from_histogram_of_uniform_sample_is_within_one_bin() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"x": rng.uniform(0, 100, size=n)}) for n in (400, 700, 900)]
    pooled = np.concatenate([f["x"].to_numpy() for f in frames])

    # Execute
    edges = global_edges([local_ranges(f, None, 5) for f in frames], bins=20)
    combined = combine_summaries([local_summary(f, edges, min_count=5) for f in frames], edges)

    # Assert
    x = combined["columns"]["x"]
    width = edges["x"][1] - edges["x"][0]
    assert abs(x["quantiles"]["0.5"] - np.median(pooled)) <= width
    assert abs(x["quantiles"]["0.25"] - np.quantile(pooled, 0.25)) <= width
    assert sum(x["hist"]) == 2000
