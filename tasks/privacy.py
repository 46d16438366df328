"""User-level differential privacy: client-side clipping, server-side noise.

Follows Flower's `DifferentialPrivacyClientSideFixedClipping` and
`...ClientSideAdaptiveClipping`:

* Fixed clipping + Gaussian noise on the average — DP-FedAvg of McMahan,
  Ramage, Talwar, Zhang (2018), "Learning Differentially Private Recurrent
  Language Models", ICLR 2018, arXiv:1710.06963.
* Adaptive clipping to a target quantile of update norms — Andrew, Thakkar,
  McMahan, Ramaswamy (2021), "Differentially Private Learning with Adaptive
  Clipping", NeurIPS 2021, arXiv:1905.03871.

Flow: each client clips its update `w_local - w_global` with
`clip_update` and reports whether it clipped; the server averages the
clipped updates *unweighted* over the expected number of clients, adds
`add_gaussian_noise`, and (adaptive) moves the clipping norm with
`adaptive_clip_norm`. `PrivacyAccountant` turns the noise
multiplier, the client sampling rate and the round count into epsilon.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Weights = list[np.ndarray]


class DPConfig(BaseModel):
    """DP settings; the flow holds `dp: DPConfig | None = None` (None = off).

    `noise_multiplier` is the *overall* z the accountant charges for. With
    adaptive clipping part of the budget goes to the clipped-count query, so the
    update itself gets `effective_noise_multiplier` (slightly more noise).
    """

    model_config = ConfigDict(extra="forbid")

    noise_multiplier: Annotated[
        float,
        Field(ge=0, le=100, description="z: noise stddev divided by the clipping norm."),
    ] = 1.0
    clipping_norm: Annotated[
        float,
        Field(gt=0, description="L2 bound C on each client's update (initial C if adaptive)."),
    ] = 1.0
    adaptive: Annotated[
        bool, Field(description="Adapt C towards a quantile of the update norms.")
    ] = False
    target_quantile: Annotated[
        float,
        Field(ge=0, le=1, description="Target fraction gamma of updates left unclipped."),
    ] = 0.5
    clip_learning_rate: Annotated[
        float, Field(gt=0, le=10, description="eta_C of the geometric clip update.")
    ] = 0.2
    clipped_count_stddev: Annotated[
        float | None,
        Field(
            gt=0,
            description="sigma_b: noise stddev on the unclipped count; "
            "default = max(expected clients per round / 20 (Andrew et al.), noise_multiplier).",
        ),
    ] = None
    target_epsilon: Annotated[
        float | None,
        Field(gt=0, description="Stop training before epsilon would exceed this."),
    ] = None
    delta: Annotated[
        float, Field(gt=0, lt=1, description="delta of (epsilon, delta)-DP.")
    ] = 1e-5

    def count_stddev(self, expected_clients: float) -> float:
        """sigma_b: `expected_clients / 20` as the paper recommends, but at least z.

        Andrew et al. (Sec. 3) and Flower scale sigma_b with the number of
        clients per round: the count's noise only needs to be small relative to
        the count. The update's noise multiplier is then
        (z^-2 - (2 sigma_b)^-2)^-1/2, defined only for sigma_b > z/2, so with
        the few clients of a hospital federation (m/20 < z/2 below 10 z
        clients) the default takes sigma_b = z: the update's noise grows by
        2/sqrt(3) (15 %) instead of the run being refused.
        """
        if self.clipped_count_stddev is not None:
            return self.clipped_count_stddev
        return max(expected_clients / 20.0, self.noise_multiplier)

    def update_noise_multiplier(self, expected_clients: float) -> float:
        """Noise multiplier to put on the averaged update this configuration needs."""
        if not self.adaptive:
            return self.noise_multiplier
        return effective_noise_multiplier(
            self.noise_multiplier, self.count_stddev(expected_clients)
        )


def _global_norm(arrays: Weights) -> float:
    return math.sqrt(sum(float(np.sum(np.square(np.asarray(a, dtype=np.float64)))) for a in arrays))


def clip_update(update: Weights, clipping_norm: float) -> tuple[Weights, bool]:
    """Scale `update` to L2 norm `<= clipping_norm` over all arrays jointly.

    Joint ("flat") clipping bounds one client's whole contribution, which is
    the sensitivity the Gaussian mechanism needs. Returns new arrays and
    whether scaling happened (`False` is the paper's b_i = 1 for adaptive
    clipping); a norm exactly at the bound is not clipped.
    """
    if clipping_norm <= 0:
        raise ValueError(f"clipping_norm must be > 0, got {clipping_norm}")
    norm = _global_norm(update)
    if norm <= clipping_norm:
        return [np.array(a, copy=True) for a in update], False
    scale = clipping_norm / norm
    out: Weights = []
    for a in update:
        arr = np.asarray(a)
        scaled = arr * scale
        # Keep float32 as float32; never truncate a scaled integer array.
        out.append(scaled.astype(arr.dtype) if np.issubdtype(arr.dtype, np.floating) else scaled)
    return out, True


def add_gaussian_noise(
    aggregate: Weights,
    noise_multiplier: float,
    clipping_norm: float,
    num_clients: int,
    rng: np.random.Generator,
) -> Weights:
    """Add N(0, (z*C/m)^2) to every coordinate of the *average* of m clipped updates.

    One client changes the sum by at most C, hence the mean by C/m; the
    Gaussian mechanism with multiplier z then needs stddev z*C/m. `m` must be
    the expected clients per round fixed in advance, not the number that
    happened to answer, or the denominator itself would leak.
    """
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    if clipping_norm <= 0:
        raise ValueError(f"clipping_norm must be > 0, got {clipping_norm}")
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1, got {num_clients}")
    stddev = noise_multiplier * clipping_norm / num_clients
    out: Weights = []
    for a in aggregate:
        arr = np.asarray(a)
        noisy = arr + rng.normal(0.0, stddev, size=arr.shape)
        out.append(noisy.astype(arr.dtype) if np.issubdtype(arr.dtype, np.floating) else noisy)
    return out


def adaptive_clip_norm(
    clipping_norm: float,
    clipped_flags: list[bool],
    target_quantile: float,
    clip_learning_rate: float,
    clipped_count_stddev: float,
    num_clients: int,
    rng: np.random.Generator,
) -> float:
    """Next round's clipping norm: `C * exp(-eta * (b_bar - gamma))`.

    `b_bar` is the noisy fraction of clients whose update was *not* clipped
    (the paper's b_i = 1[||Delta_i|| <= C]). If more than gamma went unclipped,
    C is larger than the gamma-quantile and shrinks; the geometric form moves
    C by a constant factor so it finds the right scale in few rounds whatever
    the initial guess.
    """
    if clipping_norm <= 0:
        raise ValueError(f"clipping_norm must be > 0, got {clipping_norm}")
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1, got {num_clients}")
    if clipped_count_stddev < 0:
        raise ValueError(f"clipped_count_stddev must be >= 0, got {clipped_count_stddev}")
    unclipped = sum(1 for clipped in clipped_flags if not clipped)
    noisy = unclipped + float(rng.normal(0.0, clipped_count_stddev))
    b_bar = noisy / num_clients
    return float(clipping_norm * math.exp(-clip_learning_rate * (b_bar - target_quantile)))


def effective_noise_multiplier(noise_multiplier: float, clipped_count_stddev: float) -> float:
    """Noise multiplier for the update when adaptive clipping also spends budget.

    Andrew et al. (Theorem 1): the pair (update noise z_Delta, count noise
    sigma_b) is as private as one Gaussian mechanism with
    z = (z_Delta^-2 + (2 sigma_b)^-2)^-1/2, hence
    z_Delta = (z^-2 - (2 sigma_b)^-2)^-1/2. It exists only if 2*sigma_b > z;
    in small federations the default sigma_b = m/20 is too small for that, so
    we refuse instead of silently under-noising.
    """
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    if noise_multiplier == 0:
        return 0.0
    if 2 * clipped_count_stddev <= noise_multiplier:
        raise ValueError(
            f"clipped_count_stddev={clipped_count_stddev} is too small for "
            f"noise_multiplier={noise_multiplier}: adaptive clipping needs "
            f"2*clipped_count_stddev > noise_multiplier"
        )
    return (noise_multiplier**-2 - (2 * clipped_count_stddev) ** -2) ** -0.5


class _DropConvergenceWarnings(logging.Filter):
    """Drops dp_accounting's "failed to converge ... Excluding this order" lines.

    At small sampling rates dp_accounting logs one per skipped fractional RDP
    order on every call; the skip is by design (the order is just not used),
    and a binary search over rounds would otherwise flood the flow's logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to converge" not in str(record.msg)


_CONVERGENCE_FILTER = _DropConvergenceWarnings()


def _quiet_absl_convergence_warnings() -> None:
    logger = logging.getLogger("absl")
    if _CONVERGENCE_FILTER not in logger.filters:
        logger.addFilter(_CONVERGENCE_FILTER)


class PrivacyAccountant:
    """Epsilon spent after some rounds, by Renyi-DP accounting (dp_accounting).

    Each round is a Poisson-subsampled Gaussian mechanism with rate
    `sampling_rate` = clients per round / total clients. With fixed-size
    sampling (our usual case below rate 1) Poisson accounting is the customary
    approximation; at rate 1 (every client every round) it is exact.
    """

    def __init__(self, noise_multiplier: float, sampling_rate: float, delta: float) -> None:
        if noise_multiplier < 0:
            raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
        if not 0 < sampling_rate <= 1:
            raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")
        if not 0 < delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {delta}")
        self.noise_multiplier = float(noise_multiplier)
        self.sampling_rate = float(sampling_rate)
        self.delta = float(delta)
        self._cache: dict[int, float] = {0: 0.0}

    def epsilon(self, rounds: int) -> float:
        """Epsilon after `rounds` rounds (0 rounds cost nothing; z = 0 is inf)."""
        if rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {rounds}")
        if rounds not in self._cache:
            if self.noise_multiplier == 0:
                self._cache[rounds] = math.inf
            else:
                self._cache[rounds] = self._compute(rounds)
        return self._cache[rounds]

    def _compute(self, rounds: int) -> float:
        from dp_accounting import dp_event
        from dp_accounting.rdp import rdp_privacy_accountant

        event = dp_event.SelfComposedDpEvent(
            dp_event.PoissonSampledDpEvent(
                self.sampling_rate, dp_event.GaussianDpEvent(self.noise_multiplier)
            ),
            rounds,
        )
        _quiet_absl_convergence_warnings()
        accountant = rdp_privacy_accountant.RdpAccountant()
        accountant.compose(event)
        return float(accountant.get_epsilon(self.delta))

    def rounds_within(self, target_epsilon: float, max_rounds: int = 1_000_000) -> int:
        """Largest round count whose epsilon is `<= target_epsilon` (0 if none).

        Lets the flow stop cleanly before the budget is exceeded. Epsilon grows
        monotonically with rounds, so an exponential then binary search needs
        only O(log rounds) accountant calls.
        """
        if target_epsilon <= 0:
            raise ValueError(f"target_epsilon must be > 0, got {target_epsilon}")
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
        if self.epsilon(1) > target_epsilon:
            return 0
        low, high = 1, 2
        while high <= max_rounds and self.epsilon(high) <= target_epsilon:
            low, high = high, high * 2
        if high > max_rounds:
            if self.epsilon(max_rounds) <= target_epsilon:
                return max_rounds
            high = max_rounds
        # Invariant: epsilon(low) <= target < epsilon(high).
        while high - low > 1:
            mid = (low + high) // 2
            if self.epsilon(mid) <= target_epsilon:
                low = mid
            else:
                high = mid
        return low
