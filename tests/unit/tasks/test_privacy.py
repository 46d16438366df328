"""Differential-privacy helpers checked against hand-computed values."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from tasks.privacy import (
    DPConfig,
    PrivacyAccountant,
    adaptive_clip_norm,
    add_gaussian_noise,
    clip_update,
    effective_noise_multiplier,
)


def test_clip_scales_to_norm():
    # ||[3,4]|| = 5 > 1 -> scale 1/5 -> [0.6, 0.8]
    out, clipped = clip_update([np.array([3.0, 4.0])], 1.0)
    np.testing.assert_allclose(out[0], [0.6, 0.8])
    assert clipped is True


def test_clip_norm_is_joint_over_arrays():
    # [3] and [[4]] -> joint norm 5 ; C=2.5 -> scale 0.5 -> [1.5], [[2.0]]
    out, clipped = clip_update([np.array([3.0]), np.array([[4.0]])], 2.5)
    np.testing.assert_allclose(out[0], [1.5])
    np.testing.assert_allclose(out[1], [[2.0]])
    assert clipped


def test_clip_leaves_small_and_boundary_updates_alone():
    # Prepare
    update = [np.array([3.0, 4.0])]
    # Execute: norm 5 at C=10 and at C=5 (the boundary counts as unclipped)
    below, clipped_below = clip_update(update, 10.0)
    at, clipped_at = clip_update(update, 5.0)
    # Assert
    np.testing.assert_allclose(below[0], [3.0, 4.0])
    np.testing.assert_allclose(at[0], [3.0, 4.0])
    assert not clipped_below and not clipped_at
    assert below[0] is not update[0]  # a copy: the caller's arrays are untouched


def test_noise_stddev_is_z_c_over_m():
    # Prepare: z=2, C=1, m=4 -> stddev 2*1/4 = 0.5
    rng = np.random.default_rng(0)
    # Execute
    out = add_gaussian_noise([np.zeros(200_000)], 2.0, 1.0, 4, rng)
    # Assert: sample std of 200k draws is within ~0.3% of 0.5
    assert abs(float(out[0].std()) - 0.5) < 0.005
    assert abs(float(out[0].mean())) < 0.005


def test_zero_noise_multiplier_adds_nothing():
    out = add_gaussian_noise([np.array([1.0, 2.0])], 0.0, 1.0, 3, np.random.default_rng(1))
    np.testing.assert_allclose(out[0], [1.0, 2.0])


def test_adaptive_clip_shrinks_when_too_few_are_clipped():
    # 1 of 4 clipped -> b_bar = 3/4 unclipped (no count noise) ; gamma=0.5, eta=0.2
    # C = 1 * exp(-0.2*(0.75-0.5)) = exp(-0.05) = 0.951229
    new = adaptive_clip_norm(1.0, [True, False, False, False], 0.5, 0.2, 0.0, 4, np.random.default_rng(0))
    assert new == pytest.approx(math.exp(-0.05))
    assert new == pytest.approx(0.951229, abs=1e-6)


def test_adaptive_clip_grows_when_all_are_clipped():
    # b_bar = 0 -> C = 2 * exp(-0.2*(0-0.5)) = 2*exp(0.1) = 2.210342
    new = adaptive_clip_norm(2.0, [True, True], 0.5, 0.2, 0.0, 2, np.random.default_rng(0))
    assert new == pytest.approx(2.210342, abs=1e-6)


def test_effective_noise_multiplier_by_hand():
    # z=1, sigma_b=1 -> (1 - (2)^-2)^-1/2 = (3/4)^-1/2 = 2/sqrt(3) = 1.154701
    assert effective_noise_multiplier(1.0, 1.0) == pytest.approx(2 / math.sqrt(3))
    assert effective_noise_multiplier(0.0, 0.25) == 0.0


def test_effective_noise_multiplier_refuses_small_count_noise():
    # 5 clients -> default sigma_b = 5/20 = 0.25 ; 2*0.25 = 0.5 <= z=1 -> impossible
    with pytest.raises(ValueError, match="clipped_count_stddev"):
        effective_noise_multiplier(1.0, 0.25)


def test_dpconfig_defaults_and_count_stddev():
    # Prepare
    config = DPConfig(adaptive=True)
    # Execute / Assert: default sigma_b = 40/20 = 2 ; z_delta = (1 - 1/16)^-1/2 = 1.032796
    assert config.delta == 1e-5 and config.target_quantile == 0.5
    assert config.count_stddev(40) == 2.0
    assert config.update_noise_multiplier(40) == pytest.approx(1.032796, abs=1e-6)
    assert DPConfig(clipped_count_stddev=3.0).count_stddev(40) == 3.0
    assert DPConfig(noise_multiplier=0.7).update_noise_multiplier(40) == 0.7  # fixed clipping


def test_few_clients_default_to_count_noise_of_z_rather_than_an_impossible_configuration():
    # Prepare: 3 clients, z=1: 3/20 = 0.15 < z/2 would leave no valid update noise
    config = DPConfig(adaptive=True, noise_multiplier=1.0)
    # Execute / Assert: sigma_b = z = 1 -> z_delta = 2/sqrt(3)
    assert config.count_stddev(3) == 1.0
    assert config.update_noise_multiplier(3) == pytest.approx(2 / math.sqrt(3))


def test_dpconfig_validation_names_the_field():
    with pytest.raises(ValidationError, match="noise_multiplier"):
        DPConfig(noise_multiplier=-1)
    with pytest.raises(ValidationError, match="target_epsilon"):
        DPConfig(target_epsilon=0)
    with pytest.raises(ValidationError, match="delta"):
        DPConfig(delta=1.0)
    with pytest.raises(ValidationError, match="extra"):
        DPConfig(epsilon=3)


def test_accountant_known_value():
    # Published RDP value: q=1, sigma=1, 50 rounds, delta=1e-5 -> epsilon ~= 57.30
    accountant = PrivacyAccountant(noise_multiplier=1.0, sampling_rate=1.0, delta=1e-5)
    assert accountant.epsilon(50) == pytest.approx(57.30, abs=0.01)
    assert accountant.epsilon(0) == 0.0


def test_accountant_subsampling_spends_less():
    full = PrivacyAccountant(1.0, 1.0, 1e-5).epsilon(10)
    sampled = PrivacyAccountant(1.0, 0.1, 1e-5).epsilon(10)
    assert sampled < full


def test_rounds_within():
    # eps(50) = 57.302, eps(51) = 58.152 (same accountant) -> largest within 57.5 is 50;
    # eps(1) = 4.73 > 4 -> 0 rounds fit
    accountant = PrivacyAccountant(1.0, 1.0, 1e-5)
    assert accountant.rounds_within(57.5) == 50
    assert accountant.rounds_within(4.0) == 0
    assert accountant.rounds_within(1e9, max_rounds=30) == 30


def test_no_noise_means_no_privacy():
    accountant = PrivacyAccountant(0.0, 1.0, 1e-5)
    assert accountant.epsilon(1) == math.inf
    assert accountant.rounds_within(10.0) == 0
