"""The central baseline: the same kind of model trained on the pooled training splits and scored
on the same held-out records, which federated results are compared with (scikit-learn)."""

from __future__ import annotations

import numpy as np

from tasks.data.demo import central_split


def central_accuracy(dataset: str, model: str, *, seed: int = 0, hidden: int = 64) -> float:
    """Test accuracy of a centrally trained logreg or mlp on a demo dataset's global split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    train, test = central_split(dataset, seed=seed)
    features = [c for c in train.columns if c != "target"]
    scaler = StandardScaler().fit(train[features].to_numpy(dtype=np.float64))
    X_train = scaler.transform(train[features].to_numpy(dtype=np.float64))
    X_test = scaler.transform(test[features].to_numpy(dtype=np.float64))
    if model == "logreg":
        estimator = LogisticRegression(max_iter=5000)
    elif model == "mlp":
        estimator = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=500, random_state=seed)
    else:
        raise ValueError(f"model: no central baseline for {model!r}")
    estimator.fit(X_train, train["target"].to_numpy())
    return float(estimator.score(X_test, test["target"].to_numpy()))
