"""Weight handling: strategies average and ship these lists, so shapes and copies matter."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.models import MLP, LogisticRegression, Model


@pytest.mark.parametrize("model", [LogisticRegression(3, 2), MLP(3, 2, hidden=4)])
def test_set_weights_wrong_shape_names_the_shapes(model: Model) -> None:
    # Prepare
    weights = model.get_weights()
    expected = weights[0].shape
    weights[0] = np.zeros((expected[0] + 1, expected[1]))
    # Execute / Assert
    with pytest.raises(ValueError, match=r"\(4, \d+\).*expected \(3, \d+\)"):
        model.set_weights(weights)


def test_set_weights_wrong_count_raises() -> None:
    # Prepare
    model = LogisticRegression(3, 2)
    # Execute / Assert
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        model.set_weights(model.get_weights()[:1])


def test_get_and_set_weights_copy() -> None:
    # Prepare
    model = LogisticRegression(2, 3)
    new = [np.ones((2, 3)), np.ones(3)]
    # Execute
    model.set_weights(new)
    new[0][0, 0] = 99.0
    got = model.get_weights()
    got[1][0] = -5.0
    # Assert
    assert model.get_weights()[0][0, 0] == 1.0
    assert model.get_weights()[1][0] == 1.0


def test_logreg_starts_at_zero_and_counts_parameters() -> None:
    # Prepare / Execute
    model = LogisticRegression(5, 3, seed=7)
    # Assert
    assert all(np.all(w == 0) for w in model.get_weights())
    assert model.num_parameters() == 5 * 3 + 3


def test_mlp_same_seed_gives_identical_init_and_other_seed_differs() -> None:
    # Prepare / Execute
    a, b, c = MLP(6, 4, hidden=8, seed=11), MLP(6, 4, hidden=8, seed=11), MLP(6, 4, hidden=8, seed=12)
    # Assert
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    assert [w.shape for w in a.get_weights()] == [(6, 8), (8,), (8, 4), (4,)]
    assert a.num_parameters() == 6 * 8 + 8 + 8 * 4 + 4


@pytest.mark.parametrize("model", [LogisticRegression(3, 4), MLP(3, 4, hidden=5)])
def test_predictions_have_the_documented_shapes(model: Model) -> None:
    # Prepare
    X = np.random.default_rng(0).normal(size=(10, 3)) * 50  # large inputs: softmax must not overflow
    # Execute
    proba = model.predict_proba(X)
    pred = model.predict(X)
    # Assert
    assert proba.shape == (10, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert pred.shape == (10,) and pred.min() >= 0 and pred.max() <= 3
    np.testing.assert_array_equal(pred, proba.argmax(axis=1))


def test_bad_inputs_are_rejected() -> None:
    # Prepare
    model = LogisticRegression(3, 2)
    X = np.zeros((4, 3))
    # Execute / Assert
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        model.predict(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="0..1"):
        model.loss(X, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="n_classes"):
        LogisticRegression(3, 1)
