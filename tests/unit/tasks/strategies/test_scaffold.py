"""SCAFFOLD server step and client helpers, by hand."""

import numpy as np
import pytest

from tasks.strategies import FitResult, Scaffold, ScaffoldConfig
from tasks.strategies.scaffold import scaffold_correction, scaffold_update_control


def test_scaffold_server_round_unweighted_with_partial_participation():
    # Prepare: N=4 clients in total, 2 take part; sample counts differ on purpose
    strategy = Scaffold(ScaffoldConfig(server_lr=1.0), num_clients=4)
    strategy.initialize([np.array([1.0])])
    results = [
        FitResult("a", [np.array([3.0])], 1, {}, control_delta=[np.array([0.5])]),
        FitResult("b", [np.array([0.0])], 100, {}, control_delta=[np.array([-1.5])]),
    ]
    # Execute
    first_c = strategy.client_config(1)["scaffold_control"]
    new_w = strategy.aggregate_fit(1, [np.array([1.0])], results)
    next_c = strategy.client_config(2)["scaffold_control"]
    # Assert
    np.testing.assert_allclose(first_c[0], [0.0])  # c starts at zeros
    # x = 1 + 1*mean(3-1, 0-1) = 1 + mean(2, -1) = 1.5 (unweighted: counts 1 vs 100 ignored)
    np.testing.assert_allclose(new_w[0], [1.5])
    # c = 0 + (2/4)*mean(0.5, -1.5) = 0.5*(-0.5) = -0.25
    np.testing.assert_allclose(next_c[0], [-0.25])


def test_scaffold_server_lr_and_default_num_clients():
    # server_lr=0.5, N defaults to |S|=1: x = 2 + 0.5*(4-2) = 3 ; c = 0 + 1*0.2 = 0.2
    strategy = Scaffold(ScaffoldConfig(server_lr=0.5))
    new_w = strategy.aggregate_fit(
        1, [np.array([2.0])], [FitResult("a", [np.array([4.0])], 1, {}, [np.array([0.2])])]
    )
    np.testing.assert_allclose(new_w[0], [3.0])
    np.testing.assert_allclose(strategy.client_config(2)["scaffold_control"][0], [0.2])


def test_scaffold_requires_control_delta_naming_host():
    strategy = Scaffold(ScaffoldConfig())
    with pytest.raises(ValueError, match="'a'"):
        strategy.aggregate_fit(1, [np.zeros(1)], [FitResult("a", [np.zeros(1)], 1, {})])


def test_scaffold_client_config_before_initialize_fails():
    with pytest.raises(RuntimeError, match="initialize"):
        Scaffold(ScaffoldConfig()).client_config(1)


def test_scaffold_correction_is_c_minus_ci():
    # c=0.2, c_i=0.5 -> -0.3 ; second array: 1 - 0 = 1
    out = scaffold_correction([np.array([0.2]), np.array([1.0])], [np.array([0.5]), np.array([0.0])])
    np.testing.assert_allclose(out[0], [-0.3])
    np.testing.assert_allclose(out[1], [1.0])


def test_scaffold_update_control_option_two():
    # Prepare: c_i=0.5, c=0.2, x=1.0, y_i=0.6, K=4, lr=0.1
    # (x - y_i)/(K*lr) = 0.4/0.4 = 1.0 ; c_i+ = 0.5 - 0.2 + 1.0 = 1.3 ; delta = 1.3 - 0.5 = 0.8
    # Execute
    new, delta = scaffold_update_control(
        c_local=[np.array([0.5])],
        c_global=[np.array([0.2])],
        w_global=[np.array([1.0])],
        w_local=[np.array([0.6])],
        local_steps=4,
        learning_rate=0.1,
    )
    # Assert
    np.testing.assert_allclose(new[0], [1.3])
    np.testing.assert_allclose(delta[0], [0.8])
