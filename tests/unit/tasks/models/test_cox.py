"""Cox PH maths against scikit-survival (Breslow) and recorded lifelines values, on GBSG2."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.datasets import load_gbsg2
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from tasks.models.cox import CoxPH, concordance_counts, concordance_index, split_survival, survival_target

# lifelines 0.30.3 CoxPHFitter(penalizer=0) on the jittered (tie-free) GBSG2 matrix below, and
# lifelines.utils.concordance_index(time, -X @ beta, event). Recorded from a separate venv:
# lifelines holds pandas below 3.0, so it is not a dependency of fedpe.
LIFELINES_BETA = [-0.0950722385, 0.0256647998, -0.16154788, 0.1319734299, 0.2729315968,
                  -0.4526870843, 0.1631254262, 0.1103855614]
LIFELINES_CINDEX = 0.6879315915631599
LIFELINES_LOGLIK = -1736.9693938745108


def _gbsg2() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_gbsg2()
    X = X.assign(horTh=(X.horTh == "yes").astype(float), menostat=(X.menostat == "Post").astype(float),
                 tgrade=X.tgrade.map({"I": 1.0, "II": 2.0, "III": 3.0}).astype(float))
    M = X[sorted(X.columns)].to_numpy(dtype=float)
    return (M - M.mean(0)) / M.std(0), y["time"].astype(float), y["cens"].astype(bool)


def test_newton_matches_sksurv_breslow_coefficients_with_ties() -> None:
    # Prepare
    X, t, e = _gbsg2()
    y = survival_target(t, e)
    reference = CoxPHSurvivalAnalysis(ties="breslow", alpha=0).fit(X, y)
    model = CoxPH(X.shape[1], l2=0.0)
    # Execute
    result = model.newton_steps(X, y, steps=10)
    # Assert
    assert len(np.unique(t)) < len(t)  # the data do have tied times
    np.testing.assert_allclose(model.get_weights()[0], reference.coef_, atol=1e-8)
    assert result.steps == 10 and result.loss_after < result.loss_before


def test_newton_matches_lifelines_on_tie_free_times() -> None:
    # Prepare: without ties Efron (lifelines) and Breslow (here) are the same likelihood
    X, t, e = _gbsg2()
    t = t + np.arange(len(t)) * 1e-4
    y = survival_target(t, e)
    model = CoxPH(X.shape[1], l2=0.0)
    # Execute
    model.newton_steps(X, y, steps=10)
    beta = model.get_weights()[0]
    # Assert
    np.testing.assert_allclose(beta, LIFELINES_BETA, atol=1e-5)  # lifelines stops at its own tolerance
    assert -model.loss(X, y) * len(t) == pytest.approx(LIFELINES_LOGLIK, abs=1e-6)
    assert concordance_index(t, e, X @ beta) == pytest.approx(LIFELINES_CINDEX, abs=1e-12)


def test_concordance_matches_sksurv_with_tied_times_and_risks() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    t = rng.integers(1, 20, size=200).astype(float)
    e = rng.random(200) < 0.6
    risk = np.round(rng.normal(size=200), 1)  # many tied risks
    # Execute
    ours = concordance_index(t, e, risk)
    # Assert
    assert ours == pytest.approx(concordance_index_censored(e, t, risk)[0], abs=1e-12)


def test_concordance_by_hand() -> None:
    # Prepare: pairs (0,1),(0,2),(1,2) comparable via events at t=1 and t=2; record 2 censored
    t = np.array([1.0, 2.0, 3.0])
    e = np.array([True, True, False])
    risk = np.array([3.0, 1.0, 2.0])
    # Execute
    concordant, comparable = concordance_counts(t, e, risk)
    # Assert: (0,1) and (0,2) concordant, (1,2) discordant
    assert (concordant, comparable) == (2.0, 3)
    with pytest.raises(ValueError, match="no comparable pairs"):
        concordance_index(t, np.zeros(3, dtype=bool), risk)


def _numeric(f, beta: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = []
    for j in range(beta.size):
        step = np.zeros_like(beta)
        step[j] = eps
        out.append((f(beta + step) - f(beta - step)) / (2 * eps))
    return np.array(out)


def test_gradient_and_hessian_match_finite_differences_with_ties_and_l2() -> None:
    # Prepare
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = survival_target(rng.integers(1, 8, size=40).astype(float), rng.random(40) < 0.7)
    model = CoxPH(3, l2=0.3)
    beta = rng.normal(scale=0.5, size=3)

    def loss_at(b: np.ndarray) -> float:
        model.set_weights([b])
        return model.loss(X, y)

    def grad_at(b: np.ndarray) -> np.ndarray:
        model.set_weights([b])
        return model.grad(X, y)[0]

    # Execute
    num_grad = _numeric(loss_at, beta)
    num_hess = np.array([_numeric(lambda b, j=j: grad_at(b)[j], beta) for j in range(3)])
    model.set_weights([beta])
    # Assert
    np.testing.assert_allclose(model.grad(X, y)[0], num_grad, atol=1e-7)
    np.testing.assert_allclose(model.hessian(X, y), num_hess, atol=1e-6)


def test_proximal_newton_stays_between_local_optimum_and_anchor() -> None:
    # Prepare
    X, t, e = _gbsg2()
    y = survival_target(t, e)
    free = CoxPH(X.shape[1], l2=0.0)
    free.newton_steps(X, y, steps=10)
    pulled = CoxPH(X.shape[1], l2=0.0)
    anchor = [np.zeros(X.shape[1])]
    # Execute
    pulled.newton_steps(X, y, steps=10, proximal_mu=1.0, global_weights=anchor)
    # Assert
    assert 0 < np.linalg.norm(pulled.get_weights()[0]) < np.linalg.norm(free.get_weights()[0])
    with pytest.raises(ValueError, match="global_weights"):
        pulled.newton_steps(X, y, proximal_mu=1.0)


def test_targets_and_weights_are_checked() -> None:
    # Prepare
    model = CoxPH(2)
    sk_style = np.array([(True, 3.0), (False, 1.0)], dtype=[("cens", "?"), ("time", "<f8")])
    # Execute
    time, event = split_survival(sk_style)
    # Assert
    assert time.tolist() == [3.0, 1.0] and event.tolist() == [True, False]
    assert model.num_parameters() == 2 and model.predict(np.ones((1, 2))).tolist() == [0.0]
    with pytest.raises(ValueError, match="structured"):
        split_survival(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros(3)])
    with pytest.raises(NotImplementedError, match="risk"):
        model.predict_proba(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="duration"):
        survival_target(np.array([-1.0]), np.array([1]))
