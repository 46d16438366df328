"""The central baseline: the same kind of model trained on the pooled training splits and scored
on the same held-out records, which federated results are compared with.

scikit-learn's estimators for the linear models, the net and the forest, XGBoost's own
classifier with the federated run's tree budget, scikit-survival's Cox model (Breslow ties)
for survival data. Features are standardised on the pooled training split, as the federation
does with its pooled sums; trees get the raw values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tasks.data.demo import central_split, target_columns


def central_accuracy(dataset: str, model: str, *, seed: int = 0, hidden: int = 64) -> float:
    """Test accuracy of a centrally trained logreg or mlp on a demo dataset's global split."""
    return central_score(dataset, {"name": model, **({"hidden": hidden} if model == "mlp" else {})}, seed=seed)


def central_score(dataset: str, model: Any, *, seed: int = 0, rounds: int = 20) -> float:
    """Test accuracy (concordance for Cox) of `model` trained centrally on a demo dataset's global split.

    `model` is a model config or name as flcore takes it; `rounds` sizes the tree budget of the
    ensembles like a federated run of that many rounds.
    """
    from sklearn.preprocessing import StandardScaler

    from tasks.models.config import model_config_of

    config = model_config_of(model)
    train, test = central_split(dataset, seed=seed)
    labels = target_columns(dataset)
    features = [c for c in train.columns if c not in labels]
    scaler = StandardScaler().fit(train[features].to_numpy(dtype=np.float64))
    X_train = scaler.transform(train[features].to_numpy(dtype=np.float64))
    X_test = scaler.transform(test[features].to_numpy(dtype=np.float64))
    if config.name == "cox":
        from sksurv.linear_model import CoxPHSurvivalAnalysis
        from sksurv.metrics import concordance_index_censored

        from tasks.models.cox import survival_target

        y = survival_target(train[config.duration].to_numpy(), train[config.event].to_numpy())
        estimator = CoxPHSurvivalAnalysis(ties="breslow", alpha=config.l2 * len(train)).fit(X_train, y)
        return float(concordance_index_censored(test[config.event].astype(bool).to_numpy(),
                                                test[config.duration].to_numpy(), estimator.predict(X_test))[0])
    y_train, y_test = train["target"].to_numpy(), test["target"].to_numpy()
    if config.name == "xgboost":
        import xgboost as xgb

        estimator = xgb.XGBClassifier(n_estimators=rounds * config.local_rounds, max_depth=config.max_depth,
                                      learning_rate=config.learning_rate, random_state=seed, n_jobs=1)
        return float(estimator.fit(train[features], y_train).score(test[features], y_test))
    if config.name in ("random_forest", "weighted_random_forest"):  # the weighting is federated only
        from sklearn.ensemble import RandomForestClassifier

        estimator = RandomForestClassifier(n_estimators=config.n_estimators, max_depth=config.max_depth,
                                           class_weight=None if config.class_weight == "none" else "balanced",
                                           random_state=seed, n_jobs=1)
        return float(estimator.fit(train[features], y_train).score(test[features], y_test))
    return float(_linear_or_net(config, seed).fit(X_train, y_train).score(X_test, y_test))


def _linear_or_net(config, seed: int):
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC

    if config.name == "logreg":
        return LogisticRegression(max_iter=5000)
    if config.name in ("mlp", "torch_mlp"):
        return MLPClassifier(hidden_layer_sizes=(config.hidden,), max_iter=500, random_state=seed)
    if config.name == "linear_svm":
        return LinearSVC(max_iter=20000)
    if config.name == "elastic_net":
        return SGDClassifier(loss="log_loss", penalty="elasticnet", alpha=config.alpha, l1_ratio=config.l1_ratio,
                             random_state=seed)
    raise ValueError(f"model: no central baseline for {config.name!r}")
