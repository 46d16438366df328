"""local_train, evaluate and federated standardisation, checked by hand where possible."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from tasks.models import LogisticRegression, Weights
from tasks.training import (
    TrainResult,
    combine_feature_sums,
    evaluate,
    feature_sums,
    local_train,
    standardize,
)


class ZeroGradModel:
    """A protocol-only test double whose data gradient is exactly zero everywhere."""

    name: ClassVar[str] = "zero"

    def __init__(self, weights: Weights) -> None:
        self.n_features, self.n_classes = 1, 2
        self._w = [w.astype(np.float64) for w in weights]
        self.grad_calls: list[int] = []

    def get_weights(self) -> Weights:
        return [w.copy() for w in self._w]

    def set_weights(self, weights: Weights) -> None:
        self._w = [np.array(w, dtype=np.float64) for w in weights]

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return 1.0

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        self.grad_calls.append(len(X))
        return [np.zeros_like(w) for w in self._w]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full((len(X), 2), 0.5)

    def num_parameters(self) -> int:
        return sum(w.size for w in self._w)


def _toy(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


# ---- plain SGD -------------------------------------------------------------------


def test_steps_and_batches_follow_batch_size() -> None:
    # Prepare
    model = ZeroGradModel([np.zeros(1)])
    X, y = np.zeros((10, 1)), np.zeros(10, dtype=int)
    # Execute
    result = local_train(model, X, y, epochs=2, batch_size=4, learning_rate=0.1, rng=np.random.default_rng(0))
    # Assert
    assert result == TrainResult(num_examples=10, steps=6, loss_before=1.0, loss_after=1.0)
    assert model.grad_calls == [4, 4, 2, 4, 4, 2]


def test_full_batch_uses_all_examples_per_step() -> None:
    # Prepare
    model = ZeroGradModel([np.zeros(1)])
    X, y = np.zeros((10, 1)), np.zeros(10, dtype=int)
    # Execute
    result = local_train(model, X, y, epochs=3, batch_size=None, learning_rate=0.1, rng=np.random.default_rng(0))
    # Assert
    assert result.steps == 3 and model.grad_calls == [10, 10, 10]


def test_loss_before_is_loss_at_the_starting_weights_and_training_lowers_it() -> None:
    # Prepare
    X, y = _toy()
    model = LogisticRegression(1, 2)
    expected_before = model.loss(X, y)
    # Execute
    result = local_train(model, X, y, epochs=5, batch_size=8, learning_rate=0.5, rng=np.random.default_rng(1))
    # Assert
    assert result.loss_before == pytest.approx(expected_before) == pytest.approx(np.log(2))
    assert result.loss_after == pytest.approx(model.loss(X, y))
    assert result.loss_after < result.loss_before


def test_same_rng_seed_gives_identical_training() -> None:
    # Prepare
    X, y = _toy()
    a, b = LogisticRegression(1, 2), LogisticRegression(1, 2)
    # Execute
    local_train(a, X, y, epochs=3, batch_size=7, learning_rate=0.3, rng=np.random.default_rng(9))
    local_train(b, X, y, epochs=3, batch_size=7, learning_rate=0.3, rng=np.random.default_rng(9))
    # Assert
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_one_full_batch_step_is_w_minus_lr_grad() -> None:
    # Prepare
    X, y = _toy()
    model = LogisticRegression(1, 2, l2=0.1)
    start = model.get_weights()
    g = model.grad(X, y)
    # Execute
    local_train(model, X, y, epochs=1, batch_size=None, learning_rate=0.7, rng=np.random.default_rng(0))
    # Assert
    for w, w0, gi in zip(model.get_weights(), start, g):
        np.testing.assert_allclose(w, w0 - 0.7 * gi, rtol=1e-12, atol=1e-15)


# ---- FedProx -------------------------------------------------------------------


def test_fedprox_shrinks_distance_to_global_geometrically_when_data_gradient_is_zero() -> None:
    # Prepare: w_{t+1} - wg = (1 - lr*mu) (w_t - wg) = 0.5 (w_t - wg), exact in binary
    w0, wg = np.array([3.0, -1.0]), np.array([1.0, 1.0])
    model = ZeroGradModel([w0])
    X, y = np.zeros((4, 1)), np.zeros(4, dtype=int)
    # Execute
    result = local_train(
        model, X, y, epochs=3, batch_size=None, learning_rate=0.25, rng=np.random.default_rng(0),
        proximal_mu=2.0, global_weights=[wg],
    )
    # Assert
    assert result.steps == 3
    np.testing.assert_array_equal(model.get_weights()[0], wg + 0.5**3 * (w0 - wg))


def test_fedprox_with_huge_mu_stays_near_global_weights() -> None:
    # Prepare: 1-D logreg. With lr*mu = 1 each step lands at wg - lr*g_data, and
    # |g_data| <= mean|x| for W and <= 1 for b, so the drift is bounded by lr * that.
    X, y = _toy()
    global_weights = [np.array([[0.2, -0.2]]), np.array([0.1, -0.1])]
    lr, mu = 0.01, 100.0
    prox = LogisticRegression(1, 2)
    prox.set_weights(global_weights)
    free = LogisticRegression(1, 2)
    free.set_weights(global_weights)
    # Execute
    local_train(prox, X, y, epochs=50, batch_size=None, learning_rate=lr, rng=np.random.default_rng(0),
                proximal_mu=mu, global_weights=global_weights)
    local_train(free, X, y, epochs=50, batch_size=None, learning_rate=lr, rng=np.random.default_rng(0))
    # Assert
    drift_prox = np.abs(prox.get_weights()[0] - global_weights[0]).max()
    drift_free = np.abs(free.get_weights()[0] - global_weights[0]).max()
    assert drift_prox <= lr * np.abs(X).mean() + 1e-12
    assert np.abs(prox.get_weights()[1] - global_weights[1]).max() <= lr + 1e-12
    assert drift_free > 10 * drift_prox


def test_fedprox_without_global_weights_is_rejected() -> None:
    # Prepare
    X, y = _toy()
    # Execute / Assert
    with pytest.raises(ValueError, match="global_weights"):
        local_train(LogisticRegression(1, 2), X, y, epochs=1, batch_size=None, learning_rate=0.1,
                    rng=np.random.default_rng(0), proximal_mu=0.1)


def test_global_weights_of_wrong_shape_are_rejected() -> None:
    # Prepare
    X, y = _toy()
    # Execute / Assert
    with pytest.raises(ValueError, match=r"global_weights\[0\] has shape \(2, 2\)"):
        local_train(LogisticRegression(1, 2), X, y, epochs=1, batch_size=None, learning_rate=0.1,
                    rng=np.random.default_rng(0), proximal_mu=0.1,
                    global_weights=[np.zeros((2, 2)), np.zeros(2)])


# ---- SCAFFOLD ------------------------------------------------------------------


def test_correction_shifts_update_by_lr_steps_correction() -> None:
    # Prepare: ZeroGradModel has zero data gradient, so w_end = w0 - lr*steps*c exactly
    w0 = [np.array([1.0, 2.0]), np.array([[0.5]])]
    correction = [np.array([0.25, -0.5]), np.array([[1.0]])]
    model = ZeroGradModel(w0)
    X, y = np.zeros((10, 1)), np.zeros(10, dtype=int)
    lr = 0.5
    # Execute
    result = local_train(model, X, y, epochs=2, batch_size=4, learning_rate=lr, rng=np.random.default_rng(0),
                         correction=correction)
    # Assert
    assert result.steps == 6
    for w, a, c in zip(model.get_weights(), w0, correction):
        np.testing.assert_array_equal(w, a - lr * result.steps * c)


def test_correction_on_logreg_with_zero_inputs_is_exact() -> None:
    # Prepare: X = 0 makes dW = X^T(...) = 0 whatever the weights; balanced labels keep
    # db = 0 at b = 0 and the b-correction is 0, so only W moves, by -lr*steps*c_W.
    X = np.zeros((6, 3))
    y = np.array([0, 1, 0, 1, 0, 1])
    model = LogisticRegression(3, 2)
    c_w = np.array([[0.25, -0.25], [0.5, 0.0], [-1.0, 0.125]])
    lr = 0.5
    # Execute
    result = local_train(model, X, y, epochs=4, batch_size=None, learning_rate=lr, rng=np.random.default_rng(0),
                         correction=[c_w, np.zeros(2)])
    # Assert
    W, b = model.get_weights()
    np.testing.assert_array_equal(W, -lr * result.steps * c_w)
    np.testing.assert_array_equal(b, np.zeros(2))


def test_correction_of_wrong_length_is_rejected() -> None:
    # Prepare
    X, y = _toy()
    # Execute / Assert
    with pytest.raises(ValueError, match="correction has 1 arrays"):
        local_train(LogisticRegression(1, 2), X, y, epochs=1, batch_size=None, learning_rate=0.1,
                    rng=np.random.default_rng(0), correction=[np.zeros((1, 2))])


# ---- evaluate -------------------------------------------------------------------


def test_evaluate_reports_loss_accuracy_and_count() -> None:
    # Prepare: W pushes class 1 for x > 0
    model = LogisticRegression(1, 2)
    model.set_weights([np.array([[-1.0, 1.0]]), np.zeros(2)])
    X = np.array([[1.0], [2.0], [-1.0], [-3.0]])
    y = np.array([1, 1, 0, 1])
    # Execute
    metrics = evaluate(model, X, y)
    # Assert
    assert metrics["accuracy"] == 0.75
    assert metrics["num_examples"] == 4
    assert metrics["loss"] == pytest.approx(model.loss(X, y))


# ---- federated standardisation --------------------------------------------------------


def test_combine_feature_sums_over_three_shards_equals_pooled_mean_and_std() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    shards = [rng.normal(loc=5.0, scale=s, size=(n, 4)) for n, s in [(13, 1.0), (40, 3.0), (7, 0.5)]]
    pooled = np.vstack(shards)
    # Execute
    mean, std = combine_feature_sums([feature_sums(s) for s in shards])
    # Assert
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, pooled.std(axis=0), rtol=1e-10)


def test_feature_sums_shape() -> None:
    # Prepare
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    # Execute
    sums = feature_sums(X)
    # Assert
    assert sums["n"] == 2
    np.testing.assert_array_equal(sums["sum"], [4.0, 6.0])
    np.testing.assert_array_equal(sums["sumsq"], [10.0, 20.0])


def test_constant_feature_gets_zero_std_and_standardizes_to_zero() -> None:
    # Prepare: 0.1 is not exact in binary, so sumsq/n - mean^2 leaves cancellation noise
    shards = [np.column_stack([np.full(n, 0.1), np.arange(n, dtype=float)]) for n in (3, 5, 9)]
    # Execute
    mean, std = combine_feature_sums([feature_sums(s) for s in shards])
    Z = standardize(np.vstack(shards), mean, std)
    # Assert
    assert std[0] == 0.0
    np.testing.assert_allclose(Z[:, 0], 0.0, atol=1e-15)
    assert np.all(np.isfinite(Z))


def test_standardize_treats_zero_std_as_one() -> None:
    # Prepare
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    # Execute
    Z = standardize(X, np.array([2.0, 4.0]), np.array([1.0, 0.0]))
    # Assert
    np.testing.assert_array_equal(Z, [[-1.0, 1.0], [1.0, 1.0]])


def test_combine_feature_sums_rejects_mismatched_or_empty_input() -> None:
    # Prepare
    a = feature_sums(np.ones((2, 3)))
    b = feature_sums(np.ones((2, 4)))
    # Execute / Assert
    with pytest.raises(ValueError, match="features"):
        combine_feature_sums([a, b])
    with pytest.raises(ValueError, match="at least one"):
        combine_feature_sums([])
