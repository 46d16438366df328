"""Federated preparation: exact means, category unions under min_count, the host transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.prep import (
    PrepPlan,
    combine_profiles,
    host_profile,
    parse_features,
    select_features,
    transform,
)


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
    assert plan.means["age"] == pytest.approx(pooled["age"].mean())  # pandas skips NaN: the exact mean
    assert plan.means["flag"] == pytest.approx(pooled["flag"].mean())
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
    assert plan.means == {"lab": 0.0} and plan.withheld == ["lab"]


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
    plan = PrepPlan(features=["site"], means={}, categories={"site": ["x"]}, indicators=[])
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
