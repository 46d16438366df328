"""Federated preparation: exact means, category unions under min_count, the host transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.features import parse_features, select_features
from tasks.prep import PrepPlan, combine_profiles, host_profile, transform


def _hosts() -> list[pd.DataFrame]:
    a = pd.DataFrame({"age": [50.0, np.nan, 70.0, 40.0], "site": ["x", "x", "y", None],
                      "flag": [True, False, True, True], "target": [0, 1, 0, 1]})
    b = pd.DataFrame({"age": [30.0, 60.0, np.nan], "site": ["z", "z", "x"],
                      "flag": [False, False, True], "target": [1, 1, 0]})
    return [a, b]


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("age  site,flag", ["age", "site", "flag"]),
    (["age", "site", "age"], ["age", "site"]), ([], None),
])
def test_parse_features_takes_fem_strings_and_lists(value, expected) -> None:
    # Execute / Assert
    assert parse_features(value) == expected


def test_parse_features_refuses_blank_items() -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match=r"features\[1\]"):
        parse_features(["age", " "])


def test_select_features_defaults_to_all_but_target_and_names_fields() -> None:
    # Prepare
    columns = ["age", "site", "duration", "event"]
    # Execute / Assert
    assert select_features(columns, "event") == ["age", "site", "duration"]
    assert select_features(columns, ["duration", "event"]) == ["age", "site"]
    assert select_features(columns, "event", ["site"]) == ["site"]
    with pytest.raises(ValueError, match="features: column 'bmi'"):
        select_features(columns, "event", ["bmi"])
    with pytest.raises(ValueError, match="target: column 'label'"):
        select_features(columns, "label")
    with pytest.raises(ValueError, match="features: 'event' is the target"):
        select_features(columns, "event", ["event"])


def test_means_are_exact_and_categories_suppressed_under_min_count() -> None:
    # Prepare
    hosts = _hosts()
    features = ["age", "site", "flag"]
    # Execute
    profiles = [host_profile(h, features, min_count=2) for h in hosts]
    plan = combine_profiles(profiles, features)
    # Assert
    pooled = pd.concat(hosts)
    assert plan.fills["age"] == pytest.approx(pooled["age"].mean())  # pandas skips NaN: the exact mean
    assert plan.fills["flag"] == pytest.approx(pooled["flag"].mean())
    assert profiles[0]["categorical"]["site"]["values"] == ["x"]  # "y" counted once: not released
    assert profiles[1]["categorical"]["site"]["values"] == ["z"]  # "x" counted once on b
    assert plan.categories == {"site": ["x", "z"]}
    assert profiles[0]["numeric"]["age"]["missing"] is None  # one missing < min_count: withheld
    assert plan.indicators == []


def test_small_numeric_columns_are_suppressed_and_withheld() -> None:
    # Prepare
    frame = pd.DataFrame({"lab": [1.0, np.nan, np.nan], "target": [0, 1, 0]})
    # Execute
    profile = host_profile(frame, ["lab"], min_count=3)
    plan = combine_profiles([profile], ["lab"])
    # Assert
    assert profile["numeric"]["lab"] == {"suppressed": True}
    assert plan.fills == {"lab": 0.0} and plan.withheld == ["lab"]


def test_transform_imputes_encodes_and_flags() -> None:
    # Prepare
    hosts = _hosts()
    features = ["age", "site", "flag"]
    plan = combine_profiles([host_profile(h, features, min_count=1) for h in hosts], features)
    # Execute
    X = transform(hosts[0], plan, missing_indicators=True)
    raw = transform(hosts[0], plan, impute=False)
    # Assert
    assert plan.columns(missing_indicators=True) == ["age", "site=x", "site=y", "site=z", "flag", "age__missing"]
    mean = pd.concat(hosts)["age"].mean()
    np.testing.assert_allclose(X[:, 0], [50.0, mean, 70.0, 40.0])
    np.testing.assert_allclose(X[:, 1:4], [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_allclose(X[:, 4], [1, 0, 1, 1])
    np.testing.assert_allclose(X[:, 5], [0, 1, 0, 0])
    assert np.isnan(raw[1, 0]) and raw.shape == (4, 5)


def test_unknown_category_is_all_zeros_and_kind_mismatch_is_refused() -> None:
    # Prepare
    plan = PrepPlan(features=["site"], fills={}, categories={"site": ["x"]}, indicators=[])
    numeric_site = pd.DataFrame({"site": [1.0]})
    categorical_age = [host_profile(pd.DataFrame({"age": ["old"]}), ["age"], min_count=1),
                       host_profile(pd.DataFrame({"age": [3.0]}), ["age"], min_count=1)]
    # Execute
    X = transform(pd.DataFrame({"site": ["w", "x"]}), plan)
    # Assert
    np.testing.assert_allclose(X, [[0.0], [1.0]])
    with pytest.raises(ValueError, match="'age' is numeric on some hosts"):
        combine_profiles(categorical_age, ["age"])
    with pytest.raises(ValueError, match="min_count"):
        host_profile(numeric_site, ["site"], min_count=0)


def test_the_federated_median_is_the_pooled_median_to_within_a_bin_and_fills_the_gaps() -> None:
    from tasks.prep import combine_profiles, federated_medians, host_profile, transform
    from tasks.stats import global_edges, local_ranges, local_summary

    rng = np.random.default_rng(3)
    hosts = []
    for shift in (0.0, 1.0, 3.0):  # skewed and shifted per host: mean and median differ
        frame = pd.DataFrame({"lab": rng.lognormal(mean=shift / 3, sigma=0.6, size=400)})
        frame.loc[rng.choice(400, 40, replace=False), "lab"] = np.nan
        hosts.append(frame)
    pooled = pd.concat(hosts, ignore_index=True)

    profiles = [host_profile(h, ["lab"], min_count=5) for h in hosts]
    edges = global_edges([local_ranges(h, ["lab"], 5) for h in hosts], 20)
    medians = federated_medians([local_summary(h, edges, min_count=5, categorical=[]) for h in hosts], edges)
    plan = combine_profiles(profiles, ["lab"], medians)

    width = edges["lab"][1] - edges["lab"][0]
    assert abs(plan.fills["lab"] - pooled["lab"].median()) <= width
    assert abs(plan.fills["lab"] - pooled["lab"].median()) < abs(pooled["lab"].mean() - pooled["lab"].median())
    assert plan.imputation == "median" and combine_profiles(profiles, ["lab"]).imputation == "mean"
    filled = [transform(h, plan) for h in hosts]
    for frame, matrix in zip(hosts, filled):  # every host fills its gaps with the same federated value
        gaps = frame["lab"].isna().to_numpy()
        assert np.all(matrix[gaps, 0] == plan.fills["lab"])
        assert np.array_equal(matrix[~gaps, 0], frame["lab"].to_numpy()[~gaps])


def test_the_registered_preparation_gives_the_hosts_matrix() -> None:
    from tasks.export.preparation import RawColumnsPreparation
    from tasks.prep import PrepPlan, transform

    plan = PrepPlan(features=["age", "site"], fills={"age": 50.0}, categories={"site": ["x", "y"]},
                    indicators=["age"])
    frame = pd.DataFrame({"age": [40.0, np.nan, 70.0], "site": ["x", None, "z"]})
    exported = RawColumnsPreparation(features=plan.features, fills=plan.fills, categories=plan.categories,
                                     indicators=plan.indicators, missing_indicators=True)

    expected = np.array([[40.0, 1, 0, 0], [50.0, 0, 0, 1], [70.0, 0, 0, 0]])
    assert np.array_equal(transform(frame, plan, missing_indicators=True), expected)
    assert np.array_equal(exported.transform(frame), expected)


def test_numbers_of_every_kind_are_read_in_one_step_with_gaps_as_nan() -> None:
    # Prepare
    from tasks.export.matrix import numeric_values

    frame = pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64"), "b": [True, False, True],
                          "n": pd.array([True, None, False], dtype="boolean"), "f": [0.5, np.inf, np.nan],
                          "t": pd.to_datetime(["1970-01-01", "1970-01-02", "1970-01-03"]).as_unit("ns")})
    # Execute
    values = numeric_values(frame, ["f", "i", "t", "b", "n"])
    # Assert
    day = 86_400e9  # dates are nanoseconds, as pd.to_numeric gives them
    np.testing.assert_array_equal(values, [[0.5, 1, 0, 1, 1], [np.inf, np.nan, day, 0, np.nan],
                                           [np.nan, 3, 2 * day, 1, 0]])


def test_a_wide_table_is_profiled_and_transformed_column_by_column() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    cells = rng.normal(size=(30, 3000))
    cells[rng.random(cells.shape) < 0.1] = np.nan
    frame = pd.DataFrame(cells, columns=[f"g{j}" for j in range(3000)])
    features = list(frame.columns)
    # Execute
    profile = host_profile(frame, features, min_count=2)
    plan = combine_profiles([profile], features)
    X = transform(frame, plan, missing_indicators=True)
    # Assert
    column = frame["g1234"]
    assert profile["numeric"]["g1234"]["count"] == column.notna().sum()
    assert profile["numeric"]["g1234"]["sum"] == pytest.approx(column.sum())
    assert plan.fills["g1234"] == pytest.approx(column.mean())
    j = features.index("g1234")
    np.testing.assert_allclose(X[:, j], column.fillna(column.mean()))
    assert X.shape == (30, 3000 + len(plan.indicators))
    k = 3000 + plan.indicators.index("g1234")
    np.testing.assert_array_equal(X[:, k], column.isna())
