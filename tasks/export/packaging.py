"""Which flavour each model kind is registered as, and building it from the federated result.

| model | registered as |
|---|---|
| logreg, elastic_net | `mlflow.sklearn`: Pipeline(preparation, LogisticRegression) |
| linear_svm | `mlflow.sklearn`: Pipeline(preparation, LinearSVC) |
| random_forest, weighted_random_forest | `mlflow.sklearn`: Pipeline(preparation, RandomForestClassifier) |
| xgboost | `mlflow.pyfunc`: PreparedBooster (no fedpe needed), and the bare booster in `mlflow.xgboost` beside it |
| mlp, torch_mlp, cox | `mlflow.pyfunc`: fedpe's `FederatedModel` (needs fedpe) |
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tasks.export.estimators import FOREST_MODELS, LINEAR_MODELS, check_same_predictions, forest_estimator, \
    linear_estimator, probes
from tasks.export.preparation import RawColumnsPreparation
from tasks.models.kinds import imputes

SKLEARN_MODELS = LINEAR_MODELS + FOREST_MODELS


def flavor_of(name: str) -> str:
    """"sklearn", "xgboost" or "pyfunc": the flavour the model kind `name` is registered in."""
    return "sklearn" if name in SKLEARN_MODELS else "xgboost" if name == "xgboost" else "pyfunc"


def preparation(model: dict[str, Any]) -> RawColumnsPreparation:
    """The federated preparation (and scaling, for weight models) from the result's plain parameters."""
    from tasks.prep import PrepPlan

    plan = PrepPlan.model_validate(model["plan"])
    listed = (lambda v: None if v is None else np.asarray(v, dtype=np.float64).tolist())
    return RawColumnsPreparation(
        features=list(plan.features), fills=dict(plan.fills), categories={k: list(v) for k, v in plan.categories.items()},
        indicators=list(plan.indicators), missing_indicators=bool(model["missing_indicators"]),
        impute=imputes(model["kind"]), mean=listed(model.get("mean")), std=listed(model.get("std")))


def sklearn_pipeline(model: dict[str, Any], state: Any, predictor: Any) -> Any:
    """Pipeline(preparation, estimator) rebuilt from the federated state; raises ValueError when
    the estimator does not score synthetic probes exactly as fedpe's `predictor` does."""
    from sklearn.pipeline import Pipeline

    name, n_features = model["name"], int(model["n_features"])
    if name in LINEAR_MODELS:
        estimator = linear_estimator(name, [np.asarray(w) for w in state], model["labels"], model["options"])
        X = probes(n_features)
    elif name in FOREST_MODELS:
        tables = list(state or [])
        estimator = forest_estimator(tables, n_features, model["labels"], model["options"])
        X = probes(n_features, tables)
    else:
        raise ValueError(f"{name!r} has no scikit-learn form")
    check_same_predictions(estimator, predictor, X)
    return Pipeline([("prepare", preparation(model)), ("model", estimator)])


def prepared_booster(model: dict[str, Any], state: bytes) -> Any:
    """The registered pyfunc of an xgboost model: preparation + the booster's JSON text."""
    from tasks.export.boosted import PreparedBooster

    if not state:
        raise ValueError("the booster has no trees yet")
    return PreparedBooster(preparation(model), bytes(state), model["labels"])
