"""The registered model's parts: the portable preparation, the prepared booster, and a real
MLflow round trip (a local SQLite tracking store) loaded in a process where fedpe cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from tasks.ensembles.forest import grow_trees
from tasks.ensembles.xgb import XGBoost
from tasks.export.packaging import flavor_of, prepared_booster, preparation
from tasks.prep import combine_profiles, host_profile, transform
from tasks.tracking import FederatedModel
from tasks.training import standardize


def _frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.normal(60, 10, n), "dose": rng.integers(0, 5, n),
                          "site": rng.choice(["north", "south", "east"], n)})
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.1, "site"] = None
    frame["target"] = np.where((frame["age"].fillna(60) > 60) ^ (frame["site"] == "east"), "sick", "well")
    return frame


def _model(name: str, kind: str, frame: pd.DataFrame, **extra) -> dict:
    features = ["age", "dose", "site"]
    plan = combine_profiles([host_profile(frame, features, min_count=3)], features)
    return {"name": name, "kind": kind, "options": {}, "n_features": len(plan.columns(missing_indicators=True)), "n_classes": 2,
            "mean": None, "std": None, "features": plan.columns(missing_indicators=True), "labels": ["sick", "well"],
            "plan": plan.model_dump(), "missing_indicators": True,
            "dtypes": {c: str(frame[c].dtype) for c in features}, **extra}


def _targets(frame: pd.DataFrame) -> np.ndarray:
    return (frame["target"] == "well").to_numpy().astype(int)


def test_the_portable_preparation_equals_fedpes_transform_and_scaling():
    frame = _frame()
    model = _model("logreg", "weights", frame)
    X = transform(frame, combine_profiles([host_profile(frame, ["age", "dose", "site"], min_count=3)],
                                          ["age", "dose", "site"]), missing_indicators=True)
    model["mean"], model["std"] = X.mean(axis=0).tolist(), X.std(axis=0).tolist()

    prepared = preparation(model).transform(frame)

    assert np.allclose(prepared, standardize(X, np.asarray(model["mean"]), np.asarray(model["std"])))


def test_a_prepared_booster_predicts_fedpes_labels_on_raw_rows():
    frame = _frame()
    model = _model("xgboost", "ensemble", frame)
    X = transform(frame, combine_profiles([host_profile(frame, ["age", "dose", "site"], min_count=3)],
                                          ["age", "dose", "site"]), missing_indicators=True, impute=False)
    booster = XGBoost(X.shape[1], 2, local_rounds=4)
    booster.set_payload(booster.fit_round(None, X, _targets(frame), server_round=1))

    wrapped = prepared_booster(model, booster.get_payload())

    expected = np.asarray(model["labels"])[booster.predict(X)]
    assert np.array_equal(wrapped.predict(None, frame), expected)


@pytest.mark.parametrize(("name", "flavor"), [("logreg", "sklearn"), ("linear_svm", "sklearn"),
                                              ("elastic_net", "sklearn"), ("random_forest", "sklearn"),
                                              ("weighted_random_forest", "sklearn"), ("xgboost", "xgboost"),
                                              ("mlp", "pyfunc"), ("torch_mlp", "pyfunc"), ("cox", "pyfunc")])
def test_each_model_kind_has_its_flavor(name, flavor):
    assert flavor_of(name) == flavor


LOADER = textwrap.dedent('''
    import importlib.abc, io, json, sys
    import pandas as pd

    class NoFedpe(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"tasks", "fedpe", "flows", "blocks", "deployments"}:
                raise ImportError(f"fedpe is not installed here ({name})")

    sys.meta_path.insert(0, NoFedpe())
    import mlflow, mlflow.pyfunc, mlflow.sklearn, mlflow.xgboost
    uri, rows, uris = sys.argv[1], pd.read_json(io.StringIO(sys.argv[2]), orient="split"), json.loads(sys.argv[3])
    mlflow.set_tracking_uri(uri)
    out = {"forest": mlflow.sklearn.load_model(uris["forest"]).predict(rows).tolist(),
           "forest_pyfunc": list(mlflow.pyfunc.load_model(uris["forest"]).predict(rows)),
           "xgboost": list(mlflow.pyfunc.load_model(uris["xgboost"]).predict(rows)),
           "booster": type(mlflow.xgboost.load_model(uris["booster"])).__name__,
           "signature": mlflow.models.get_model_info(uris["forest"]).signature.inputs.input_names()}
    print(json.dumps(out))
''')


def test_the_registered_models_load_and_predict_where_fedpe_cannot_be_imported(tmp_path, monkeypatch):
    from tasks.tracking import Tracker

    monkeypatch.chdir(tmp_path)
    frame = _frame()
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    forest_model = _model("random_forest", "ensemble", frame)
    X = preparation(forest_model).transform(frame)
    tables = grow_trees(X, _targets(frame), n_classes=2, n_trees=5, rng=np.random.default_rng(0), max_depth=4)
    booster = XGBoost(X.shape[1], 2, local_rounds=4)
    booster_json = booster.fit_round(None, X, _targets(frame), server_round=1)
    forest = FederatedModel(forest_model, tables)
    boosted = FederatedModel(_model("xgboost", "ensemble", frame), booster_json)
    tracker = Tracker(uri, "export-test", "run", {})

    uris = {"forest": tracker.log_model(forest, "export-forest"),
            "xgboost": tracker.log_model(boosted, "export-xgboost")}
    uris["booster"] = f"runs:/{tracker.run_id}/booster"
    rows = frame.drop(columns="target").head(15)
    done = subprocess.run([sys.executable, "-c", LOADER, uri, rows.to_json(orient="split"), json.dumps(uris)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=240)

    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["forest"] == loaded["forest_pyfunc"] == list(forest.predict(None, rows))
    assert loaded["xgboost"] == list(boosted.predict(None, rows))
    assert loaded["booster"] == "Booster"
    assert loaded["signature"] == ["age", "dose", "site"]
    assert tracker.client.get_run(tracker.run_id).data.tags["fedpe.model_flavor"] == "xgboost"


def test_the_signature_comes_from_column_dtypes_never_from_rows():
    from tasks.export.signature import model_signature

    frame = _frame()
    model = _model("logreg", "weights", frame)

    signature = model_signature(model["plan"], model["labels"], dtypes=model["dtypes"])

    assert [(c.name, c.type.name) for c in signature.inputs.inputs] == [
        ("age", "double"), ("dose", "long"), ("site", "string")]
    assert signature.outputs.inputs[0].type.name == "string"


def test_a_model_whose_native_form_fails_is_registered_as_fedpes_pyfunc(tmp_path, monkeypatch):
    from tasks.tracking import Tracker

    monkeypatch.chdir(tmp_path)
    frame = _frame()
    model = _model("random_forest", "ensemble", frame)
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "export-test", "run", {})

    uri = tracker.log_model(FederatedModel(model, []), "export-empty-forest")  # no trees: no sklearn form

    assert uri.startswith("models:/")
    assert tracker.client.get_run(tracker.run_id).data.tags["fedpe.model_flavor"] == "pyfunc"
