"""Cox proportional hazards in NumPy: Breslow partial likelihood, its gradient and Hessian.

Cox (1972, "Regression models and life-tables", JRSS-B 34:187-220) with Breslow's handling
of tied event times (Breslow 1974, Biometrics 30:89-99): every event at time t shares the
full risk set {j : t_j >= t}. The loss is the negative log partial likelihood divided by the
number of records (so hosts of different sizes give comparable numbers and an `l2` means
the same on all of them) plus `l2/2 * ||beta||^2`. There is no intercept: the baseline
hazard absorbs it.

Clients train with Newton steps (`newton_steps`), not SGD: the partial likelihood is
smooth and convex, and a few Newton steps reach the local optimum where SGD would need
hundreds; the server then averages the coefficients by sample count (FedAvg). The target
`y` is a structured array with fields `event` (bool) and `duration` (float), built by
`survival_target`; scikit-survival's `Surv` arrays (one bool and one float field) work too.

`concordance_index` is Harrell's C (Harrell et al. 1982, JAMA 247:2543-2546) with
scikit-survival's conventions: a pair is comparable when the earlier time is an event (or
both times are equal and only the first is an event); higher risk should mean earlier
events; risks within 1e-8 count one half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tasks.models.base import Weights, check_X, check_dimensions

SURVIVAL_DTYPE = np.dtype([("event", "?"), ("duration", "<f8")])
"""The structured dtype of a survival target: did the event happen, and when (or censoring)."""

RISK_TIE_TOLERANCE = 1e-8


def survival_target(duration: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Pack durations and event flags into one structured array, the `y` of a Cox model."""
    duration = np.asarray(duration, dtype=np.float64)
    event = np.asarray(event)
    if duration.ndim != 1 or event.shape != duration.shape:
        raise ValueError(f"duration and event must be 1-D of equal length, got {duration.shape} and {event.shape}")
    if not np.all(np.isfinite(duration)) or np.any(duration < 0):
        raise ValueError("duration must hold finite numbers >= 0")
    if event.dtype.kind not in "biu" and not np.all(np.isin(event, (0, 1))):
        raise ValueError("event must hold 0/1 or booleans")
    y = np.empty(duration.shape[0], dtype=SURVIVAL_DTYPE)
    y["event"] = event.astype(bool)
    y["duration"] = duration
    return y


def split_survival(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(duration float64, event bool) from a survival target; sksurv's field names work too."""
    y = np.asarray(y)
    names = y.dtype.names
    if not names:
        raise ValueError("a survival target must be a structured array of (event, duration); use survival_target()")
    if "duration" in names and "event" in names:
        return y["duration"].astype(np.float64), y["event"].astype(bool)
    flags = [n for n in names if y.dtype[n].kind == "b"]
    times = [n for n in names if y.dtype[n].kind in "fiu"]
    if len(names) == 2 and len(flags) == 1 and len(times) == 1:
        return y[times[0]].astype(np.float64), y[flags[0]].astype(bool)
    raise ValueError(f"cannot tell duration from event in a target with fields {names}")


def concordance_counts(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> tuple[float, int]:
    """(concordant pairs, ties counted 1/2; comparable pairs): what a host may pool for C."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(bool)
    risk = np.asarray(risk, dtype=np.float64)
    if time.ndim != 1 or event.shape != time.shape or risk.shape != time.shape:
        raise ValueError(f"time, event and risk must be 1-D of equal length, got {time.shape}, {event.shape}, {risk.shape}")
    events = np.flatnonzero(event)
    concordant = 0.0
    comparable = 0
    for start in range(0, events.size, 512):  # bounded memory: 512 x n booleans at a time
        idx = events[start : start + 512]
        t_i, r_i = time[idx, None], risk[idx, None]
        mask = (time[None, :] > t_i) | ((time[None, :] == t_i) & ~event[None, :])
        ties = np.abs(risk[None, :] - r_i) <= RISK_TIE_TOLERANCE
        concordant += float(np.sum(mask & ~ties & (risk[None, :] < r_i))) + 0.5 * float(np.sum(mask & ties))
        comparable += int(mask.sum())
    return concordant, comparable


def concordance_index(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: the share of comparable pairs whose higher risk had the earlier event."""
    concordant, comparable = concordance_counts(time, event, risk)
    if comparable == 0:
        raise ValueError("no comparable pairs (no events before another record's time): concordance is undefined")
    return concordant / comparable


@dataclass
class NewtonResult:
    """What a client reports after its local Newton steps (the fields of `TrainResult`)."""

    num_examples: int
    steps: int
    loss_before: float
    loss_after: float


class CoxPH:
    """Linear predictor `eta = X beta`; weights `[beta (d,)]`; risk = `exp(eta)`.

    `n_classes` and `seed` are accepted so the registry builds every model alike; the
    init is zeros and depends on neither.
    """

    name: ClassVar[str] = "cox"
    weight_names: ClassVar[tuple[str, ...]] = ("beta",)

    def __init__(self, n_features: int, n_classes: int = 1, *, l2: float = 1e-4, seed: int = 0) -> None:
        check_dimensions(n_features)
        if not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.l2 = float(l2)
        self.seed = seed
        self._beta = np.zeros(self.n_features, dtype=np.float64)

    # ---- weights ---------------------------------------------------------
    def get_weights(self) -> Weights:
        """A copy of the coefficients, as a one-array list."""
        return [self._beta.copy()]

    def set_weights(self, weights: Weights) -> None:
        """Replace the coefficients; raise ValueError naming a count or shape mismatch."""
        if len(weights) != 1:
            raise ValueError(f"CoxPH expects 1 weight array ['beta'], got {len(weights)}")
        beta = np.array(weights[0], dtype=np.float64, copy=True)
        if beta.shape != (self.n_features,):
            raise ValueError(f"CoxPH weight 0 ('beta') has shape {beta.shape}, expected ({self.n_features},)")
        self._beta = beta

    def num_parameters(self) -> int:
        """One coefficient per feature."""
        return self.n_features

    # ---- predictions ----------------------------------------------------
    def _check_X(self, X: np.ndarray) -> np.ndarray:
        return check_X(X, self.n_features)

    def predict_risk(self, X: np.ndarray) -> np.ndarray:
        """The linear predictor `X beta`: higher means an earlier event (log relative hazard)."""
        return self._check_X(X) @ self._beta

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Risk scores, as scikit-survival's `CoxPHSurvivalAnalysis.predict` returns them."""
        return self.predict_risk(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Not defined: a Cox model ranks risks, it does not assign classes."""
        raise NotImplementedError("cox predicts risk scores (predict_risk), not class probabilities")

    # ---- the partial likelihood -----------------------------------------
    def _risk_sets(self, X: np.ndarray, y: np.ndarray):
        """Per record: eta, event flag, log S0, S1/S0 at its time, and the Breslow weights c."""
        time, event = split_survival(y)
        n = X.shape[0]
        if time.shape != (n,):
            raise ValueError(f"y must have {n} records, got {time.shape[0]}")
        if n == 0:
            raise ValueError("the partial likelihood of an empty dataset is undefined")
        order = np.argsort(time, kind="stable")
        ts, Xs, ds = time[order], X[order], event[order]
        eta = Xs @ self._beta
        shift = float(eta.max())
        w = np.exp(eta - shift)
        s0_tail = np.cumsum(w[::-1])[::-1]  # sum of w over positions >= p
        s1_tail = np.cumsum((w[:, None] * Xs)[::-1], axis=0)[::-1]
        first = np.searchsorted(ts, ts, side="left")  # risk set of a tie group starts at its first member
        last = np.searchsorted(ts, ts, side="right") - 1
        s0 = s0_tail[first]
        mean_x = s1_tail[first] / s0[:, None]
        c = np.cumsum(np.where(ds, 1.0 / s0, 0.0))[last]  # sum of 1/S0 over events at or before t_j
        return Xs, eta, ds, np.log(s0) + shift, mean_x, w, c

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Negative Breslow log partial likelihood per record, plus l2/2 * ||beta||^2."""
        X = self._check_X(X)
        _, eta, ds, log_s0, _, _, _ = self._risk_sets(X, y)
        loglik = float(np.sum(eta[ds] - log_s0[ds]))
        return -loglik / X.shape[0] + 0.5 * self.l2 * float(self._beta @ self._beta)

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """Gradient of `loss`: -(1/n) sum over events of (x_i - risk-weighted mean of x), + l2 beta."""
        X = self._check_X(X)
        Xs, _, ds, _, mean_x, _, _ = self._risk_sets(X, y)
        g = -(Xs[ds] - mean_x[ds]).sum(axis=0) / X.shape[0] + self.l2 * self._beta
        return [g]

    def hessian(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Hessian of `loss`: (1/n) sum over events of the risk-set covariance of x, + l2 I.

        Computed as X^T diag(w c) X - M^T M over events (O(n d^2), no (n, d, d) tensor), where
        c_j sums 1/S0 over the events at or before t_j.
        """
        X = self._check_X(X)
        Xs, _, ds, _, mean_x, w, c = self._risk_sets(X, y)
        second = (Xs * (w * c)[:, None]).T @ Xs
        means = mean_x[ds]
        H = (second - means.T @ means) / X.shape[0]
        H[np.diag_indices_from(H)] += self.l2
        return H

    # ---- local training --------------------------------------------------
    def newton_steps(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        steps: int = 1,
        proximal_mu: float = 0.0,
        global_weights: Weights | None = None,
    ) -> NewtonResult:
        """Take `steps` damped Newton steps in place; what the client calls instead of SGD.

        With `proximal_mu > 0` the objective gains FedProx's `mu/2 * ||beta - beta_global||^2`
        (gradient and Hessian both). A step is halved (up to 30 times) until the objective does
        not rise, so a flat or badly conditioned likelihood cannot throw beta far away.
        """
        X = self._check_X(X)
        if int(steps) != steps or steps < 0:
            raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
        if not np.isfinite(proximal_mu) or proximal_mu < 0:
            raise ValueError(f"proximal_mu must be a finite number >= 0, got {proximal_mu!r}")
        anchor = None
        if proximal_mu > 0:
            if global_weights is None:
                raise ValueError("proximal_mu > 0 (FedProx) needs global_weights")
            anchor = np.asarray(global_weights[0], dtype=np.float64)
            if anchor.shape != self._beta.shape:
                raise ValueError(f"global_weights[0] has shape {anchor.shape}, beta has {self._beta.shape}")

        def objective() -> float:
            value = self.loss(X, y)
            if anchor is not None:
                value += 0.5 * proximal_mu * float(np.sum((self._beta - anchor) ** 2))
            return value

        loss_before = self.loss(X, y)
        current = objective()
        taken = 0
        for _ in range(int(steps)):
            g = self.grad(X, y)[0]
            H = self.hessian(X, y)
            if anchor is not None:
                g = g + proximal_mu * (self._beta - anchor)
                H[np.diag_indices_from(H)] += proximal_mu
            try:
                delta = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                delta = np.linalg.lstsq(H, g, rcond=None)[0]
            start = self._beta
            scale = 1.0
            for _ in range(30):
                self._beta = start - scale * delta
                candidate = objective()
                if np.isfinite(candidate) and candidate <= current + 1e-12:
                    break
                scale *= 0.5
            else:
                self._beta = start  # no step lowers the objective: we are at its optimum
                candidate = current
            current = candidate
            taken += 1
        return NewtonResult(num_examples=int(X.shape[0]), steps=taken, loss_before=loss_before,
                            loss_after=self.loss(X, y))

    def concordance(self, X: np.ndarray, y: np.ndarray) -> float:
        """Harrell's C of this model's risk scores on (X, y)."""
        time, event = split_survival(y)
        return concordance_index(time, event, self.predict_risk(X))

    def __repr__(self) -> str:
        return f"CoxPH(n_features={self.n_features}, l2={self.l2})"
