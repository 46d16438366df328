"""Strategy classes: server state across rounds and client settings, by hand."""

import math

import numpy as np
import pytest

from tasks.strategies import (
    Bulyan,
    BulyanConfig,
    FedAdagrad,
    FedAdagradConfig,
    FedAdam,
    FedAdamConfig,
    FedAvg,
    FedAvgM,
    FedAvgMConfig,
    FedMedian,
    FedProx,
    FedProxConfig,
    FedYogi,
    FedYogiConfig,
    FitResult,
    Krum,
    KrumConfig,
    MultiKrum,
    MultiKrumConfig,
    QFedAvg,
    QFedAvgConfig,
    TrimmedMean,
    TrimmedMeanConfig,
)


def _result(host: str, *values: float, n: int = 1, **metrics: float) -> FitResult:
    return FitResult(host=host, weights=[np.array(values)], num_examples=n, metrics=dict(metrics))


def test_fedavg_weighted_mean_and_keeps_dtype():
    # Prepare: float32 model; a has 1 example at [1,2], b has 3 at [3,6]
    global_w = [np.zeros(2, dtype=np.float32)]
    results = [_result("a", 1.0, 2.0, n=1), _result("b", 3.0, 6.0, n=3)]
    # Execute
    out = FedAvg().aggregate_fit(1, global_w, results)
    # Assert: (1*[1,2] + 3*[3,6]) / 4 = [2.5, 5.0]
    np.testing.assert_allclose(out[0], [2.5, 5.0])
    assert out[0].dtype == np.float32


def test_fedavg_rejects_wrong_shape_naming_host():
    with pytest.raises(ValueError, match="'bad'"):
        FedAvg().aggregate_fit(1, [np.zeros(2)], [_result("bad", 1.0, 2.0, 3.0)])


def test_default_client_config_has_zero_proximal_mu():
    assert FedAvg().client_config(1) == {"proximal_mu": 0.0}


def test_fedprox_sends_mu_and_aggregates_like_fedavg():
    # Prepare
    strategy = FedProx(FedProxConfig(mu=0.1))
    results = [_result("a", 1.0, n=1), _result("b", 3.0, n=3)]
    # Execute
    settings = strategy.client_config(1)
    out = strategy.aggregate_fit(1, [np.zeros(1)], results)
    # Assert: (1*1 + 3*3)/4 = 2.5
    assert settings == {"proximal_mu": 0.1}
    np.testing.assert_allclose(out[0], [2.5])


def test_fedavgm_momentum_over_two_rounds():
    # Prepare: server_lr=1, momentum=0.5, v starts at 0
    strategy = FedAvgM(FedAvgMConfig(server_lr=1.0, server_momentum=0.5))
    strategy.initialize([np.array([1.0])])
    # Execute / Assert round 1: d = 1 - 0 = 1 ; v = 0.5*0 + 1 = 1 ; w = 1 - 1*1 = 0
    w1 = strategy.aggregate_fit(1, [np.array([1.0])], [_result("a", 0.0)])
    np.testing.assert_allclose(w1[0], [0.0])
    # round 2: d = 0 - (-1) = 1 ; v = 0.5*1 + 1 = 1.5 ; w = 0 - 1.5 = -1.5
    w2 = strategy.aggregate_fit(2, w1, [_result("a", -1.0)])
    np.testing.assert_allclose(w2[0], [-1.5])


def test_fedavgm_server_lr_without_momentum():
    # server_lr=0.5, momentum 0: w = 1 - 0.5*(1 - 0) = 0.5
    strategy = FedAvgM(FedAvgMConfig(server_lr=0.5, server_momentum=0.0))
    out = strategy.aggregate_fit(1, [np.array([1.0])], [_result("a", 0.0)])
    np.testing.assert_allclose(out[0], [0.5])


def test_fedadam_one_round():
    # Prepare: lr=1, beta_1=0.5, beta_2=0, tau=1 ; global 0, client 2 -> delta=2
    strategy = FedAdam(FedAdamConfig(server_lr=1.0, beta_1=0.5, beta_2=0.0, tau=1.0))
    # Execute
    out = strategy.aggregate_fit(1, [np.array([0.0])], [_result("a", 2.0)])
    # Assert: m = 0.5*0 + 0.5*2 = 1 ; v = 0*tau^2 + 1*4 = 4 ; w = 0 + 1/(2+1) = 1/3
    np.testing.assert_allclose(out[0], [1.0 / 3.0])


def test_fedadagrad_starts_v_at_tau_squared():
    # Prepare: lr=1, beta_1=0, tau=1 ; delta = 0.75
    strategy = FedAdagrad(FedAdagradConfig(server_lr=1.0, beta_1=0.0, tau=1.0))
    # Execute
    out = strategy.aggregate_fit(1, [np.array([0.0])], [_result("a", 0.75)])
    # Assert: v = tau^2 + 0.75^2 = 1.5625 = 1.25^2 ; m = 0.75 ; w = 0.75/(1.25+1) = 1/3
    np.testing.assert_allclose(out[0], [1.0 / 3.0])


def test_fedyogi_two_rounds_sign_rule():
    # Prepare: lr=1, beta_1=0, beta_2=0.25, tau=1 (v starts at 1)
    strategy = FedYogi(FedYogiConfig(server_lr=1.0, beta_1=0.0, beta_2=0.25, tau=1.0))
    # Execute / Assert round 1: delta=2, d^2=4, sign(1-4)=-1 -> v = 1 + 0.75*4 = 4
    #   m = 2 ; w = 0 + 2/(sqrt(4)+1) = 2/3
    w1 = strategy.aggregate_fit(1, [np.array([0.0])], [_result("a", 2.0)])
    np.testing.assert_allclose(w1[0], [2.0 / 3.0])
    # round 2: delta=1, d^2=1, sign(4-1)=+1 -> v = 4 - 0.75*1 = 3.25 (Adam would give 1.75)
    #   m = 1 ; w = 2/3 + 1/(sqrt(3.25)+1) = 0.666667 + 1/2.802776 = 1.023456
    w2 = strategy.aggregate_fit(2, w1, [_result("a", 2.0 / 3.0 + 1.0)])
    np.testing.assert_allclose(w2[0], [2.0 / 3.0 + 1.0 / (math.sqrt(3.25) + 1.0)])
    np.testing.assert_allclose(w2[0], [1.023456], atol=1e-6)


def test_qfedavg_uses_loss_before_and_client_lr():
    # q=1, lr=0.5 (L=2): same numbers as test_qffl_by_hand -> 5/7
    strategy = QFedAvg(QFedAvgConfig(q=1.0), learning_rate=0.5)
    results = [_result("a", 0.5, loss_before=2.0), _result("b", 1.0, loss_before=1.0)]
    out = strategy.aggregate_fit(1, [np.array([1.0])], results)
    np.testing.assert_allclose(out[0], [5.0 / 7.0], rtol=1e-9)


def test_qfedavg_names_clients_missing_loss_before():
    strategy = QFedAvg(QFedAvgConfig(q=1.0))
    with pytest.raises(ValueError, match=r"loss_before.*'b'"):
        strategy.aggregate_fit(1, [np.array([1.0])], [_result("a", 0.5, loss_before=1.0), _result("b", 1.0)])


def test_fedmedian_ignores_sample_counts():
    # median of [1, 2, 100] = 2 even though the attacker claims 1000 examples
    results = [_result("a", 1.0), _result("b", 2.0), _result("evil", 100.0, n=1000)]
    out = FedMedian().aggregate_fit(1, [np.zeros(1)], results)
    np.testing.assert_allclose(out[0], [2.0])


def test_trimmed_mean_strategy():
    # beta=0.25, n=4 -> cut 1 per end: [1,2,3,100] -> (2+3)/2 = 2.5
    results = [_result(h, v) for h, v in zip("abcd", (100.0, 1.0, 3.0, 2.0))]
    out = TrimmedMean(TrimmedMeanConfig(beta=0.25)).aggregate_fit(1, [np.zeros(1)], results)
    np.testing.assert_allclose(out[0], [2.5])


def test_krum_and_multikrum_strategies():
    # Same points as test_aggregate's Krum example: scores 13, 5, 10, 25, 18245
    results = [_result(f"h{i}", v) for i, v in enumerate((0.0, 2.0, 3.0, 6.0, 100.0))]
    krum = Krum(KrumConfig(f=1)).aggregate_fit(1, [np.zeros(1)], results)
    multi = MultiKrum(MultiKrumConfig(f=1, m=3)).aggregate_fit(1, [np.zeros(1)], results)
    np.testing.assert_allclose(krum[0], [2.0])
    np.testing.assert_allclose(multi[0], [5.0 / 3.0])


def test_bulyan_strategy_refuses_small_federation_naming_f():
    results = [_result(f"h{i}", float(i)) for i in range(6)]
    with pytest.raises(ValueError, match=r"f=1"):
        Bulyan(BulyanConfig(f=1)).aggregate_fit(1, [np.zeros(1)], results)


def test_strategy_rejects_foreign_config():
    with pytest.raises(TypeError, match="FedAdamConfig"):
        FedAdam(FedYogiConfig())
