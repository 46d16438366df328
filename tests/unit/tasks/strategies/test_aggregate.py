"""Aggregation maths checked against values worked out by hand."""

import numpy as np
import pytest

from tasks.strategies.aggregate import (
    aggregate_bulyan,
    aggregate_krum,
    aggregate_median,
    aggregate_qffl,
    aggregate_trimmed_mean,
    krum_scores,
    pairwise_squared_distances,
    weighted_average,
)


def _scalars(*values: float) -> list[list[np.ndarray]]:
    return [[np.array([v])] for v in values]


def test_weighted_average_weights_by_sample_count():
    # Prepare
    a = [np.array([1.0, 2.0]), np.array([[0.0]])]
    b = [np.array([3.0, 6.0]), np.array([[4.0]])]
    # Execute
    out = weighted_average([a, b], [1, 3])
    # Assert: (1*[1,2] + 3*[3,6]) / 4 = [10/4, 20/4] = [2.5, 5.0]; (1*0 + 3*4)/4 = 3
    np.testing.assert_allclose(out[0], [2.5, 5.0])
    np.testing.assert_allclose(out[1], [[3.0]])


def test_weighted_average_rejects_zero_total():
    with pytest.raises(ValueError, match="sum to 0"):
        weighted_average(_scalars(1.0, 2.0), [0, 0])


def test_median_odd_and_even_counts():
    # Prepare: per coordinate, 3 clients
    clients = [[np.array([1.0, 10.0])], [np.array([2.0, -5.0])], [np.array([100.0, 0.0])]]
    # Execute
    odd = aggregate_median(clients)
    even = aggregate_median(_scalars(1.0, 2.0, 3.0, 100.0))
    # Assert: sorted [1,2,100] -> 2 ; sorted [-5,0,10] -> 0 ; even: (2+3)/2 = 2.5
    np.testing.assert_allclose(odd[0], [2.0, 0.0])
    np.testing.assert_allclose(even[0], [2.5])


def test_trimmed_mean_cuts_floor_beta_n_each_end():
    # Prepare: 5 clients, beta=0.2 -> cut floor(1.0)=1 per end; unsorted input
    clients = _scalars(100.0, 2.0, 1.0, 4.0, 3.0)
    # Execute
    out = aggregate_trimmed_mean(clients, 0.2)
    # Assert: sorted [1,2,3,4,100] -> keep [2,3,4] -> 9/3 = 3 (plain mean would be 22)
    np.testing.assert_allclose(out[0], [3.0])


def test_trimmed_mean_beta_below_one_client_keeps_all():
    # beta=0.1, n=5 -> floor(0.5)=0 cut -> mean(1,2,3,4,100) = 110/5 = 22
    out = aggregate_trimmed_mean(_scalars(1.0, 2.0, 3.0, 4.0, 100.0), 0.1)
    np.testing.assert_allclose(out[0], [22.0])


def test_pairwise_distances_span_all_layers():
    # Prepare: client b differs by 3 in layer 0 and 4 in layer 1
    a = [np.array([0.0]), np.array([[0.0]])]
    b = [np.array([3.0]), np.array([[4.0]])]
    # Execute
    d = pairwise_squared_distances([a, b])
    # Assert: 3^2 + 4^2 = 25
    np.testing.assert_allclose(d, [[0.0, 25.0], [25.0, 0.0]])


# Krum example, f=1, n=5 -> each score sums the n-f-2 = 2 smallest squared distances
#   x=0  : to 2:4, 3:9, 6:36      -> 4+9  = 13
#   x=2  : to 3:1, 0:4, 6:16      -> 1+4  = 5
#   x=3  : to 2:1, 0:9, 6:9       -> 1+9  = 10
#   x=6  : to 3:9, 2:16, 0:36     -> 9+16 = 25
#   x=100: to 6:94^2=8836, 3:97^2=9409 -> 18245
KRUM_POINTS = (0.0, 2.0, 3.0, 6.0, 100.0)


def test_krum_scores_by_hand():
    scores = krum_scores(_scalars(*KRUM_POINTS), f=1)
    np.testing.assert_allclose(scores, [13.0, 5.0, 10.0, 25.0, 18245.0])


def test_krum_picks_lowest_score():
    # lowest score 5 belongs to x=2
    out = aggregate_krum(_scalars(*KRUM_POINTS), f=1)
    np.testing.assert_allclose(out[0], [2.0])


def test_multikrum_averages_m_best_unweighted():
    # 3 best scores: x=2 (5), x=3 (10), x=0 (13) -> (2+3+0)/3 = 5/3
    out = aggregate_krum(_scalars(*KRUM_POINTS), f=1, m=3)
    np.testing.assert_allclose(out[0], [5.0 / 3.0])


def test_krum_refuses_too_few_clients_naming_f():
    # f=1 needs 2*1+3 = 5 clients; 4 given
    with pytest.raises(ValueError, match=r"2\*f\+3 = 5 .*f=1"):
        aggregate_krum(_scalars(0.0, 1.0, 2.0, 3.0), f=1)


def test_multikrum_refuses_m_above_n():
    with pytest.raises(ValueError, match="^m must"):
        aggregate_krum(_scalars(*KRUM_POINTS), f=1, m=6)


def test_bulyan_by_hand():
    # Prepare: f=1, n=7 (= 4f+3): six honest values and one attacker at 100.
    # Layer 1 is 2x layer 0, so every squared distance scales by 5 and the
    # selection is the same as on layer 0 alone.
    values = (0.0, 1.0, 3.0, 4.0, 8.0, 10.0, 100.0)
    clients = [[np.array([v]), np.array([2 * v])] for v in values]
    # Hand trace on layer 0 (theta = n-2f = 5 picks, beta = theta-2f = 3):
    #  set of 7, k=4: 0->1+9+16+64=90, 1->1+4+9+49=63, 3->1+4+9+25=39,
    #                 4->1+9+16+16=42, 8->4+16+25+49=94, 10->170, 100->huge  => pick 3
    #  set of 6, k=3: 0->81, 1->59, 4->9+16+16=41, 8->69, 10->121        => pick 4
    #  set of 5, k=2: 0->65, 1->50, 8->4+49=53, 10->85, 100->16564       => pick 1
    #  set of 4, k=1: 0->64, 8->4, 10->4 (tie, earlier wins), 100->8100  => pick 8
    #  set of 3, k=1: 0->100, 10->100 (tie, earlier wins), 100->8100     => pick 0
    #  selected {0,1,3,4,8}: median 3, |x-3| = 3,2,0,1,5 -> 3 closest {3,4,1}
    #  -> (3+4+1)/3 = 8/3 ; layer 1 -> 16/3. (Either tie branch gives 8/3.)
    # Execute
    out = aggregate_bulyan(clients, f=1)
    # Assert
    np.testing.assert_allclose(out[0], [8.0 / 3.0])
    np.testing.assert_allclose(out[1], [16.0 / 3.0])


def test_bulyan_refuses_too_few_clients_naming_f():
    # f=1 needs 4*1+3 = 7 clients; 6 given
    with pytest.raises(ValueError, match=r"4\*f\+3 = 7 .*f=1"):
        aggregate_bulyan(_scalars(0, 1, 2, 3, 4, 5), f=1)


def test_qffl_by_hand():
    # Prepare: q=1, lr=0.5 -> L=2, global w=1
    #  client 1: w1=0.5, F1=2 : dw1 = 2*(1-0.5) = 1 ; F1^q*dw1 = 2 ;
    #            h1 = q*F1^0*|dw1|^2 + L*F1 = 1 + 4 = 5
    #  client 2: w2=1.0, F2=1 : dw2 = 0 ; F2^q*dw2 = 0 ; h2 = 0 + 2*1 = 2
    #  w_new = 1 - (2+0)/(5+2) = 5/7
    # Execute
    out = aggregate_qffl([np.array([1.0])], _scalars(0.5, 1.0), [2.0, 1.0], q=1.0, learning_rate=0.5)
    # Assert
    np.testing.assert_allclose(out[0], [5.0 / 7.0], rtol=1e-9)


def test_qffl_norm_spans_all_layers():
    # q=1, lr=1 -> L=1; global [1],[2]; one client at [0],[0] with F=2
    #  dw = [1, 2], |dw|^2 = 5 ; F*dw = [2, 4] ; h = 1*1*5 + 1*2 = 7
    #  w_new = [1 - 2/7, 2 - 4/7] = [5/7, 10/7]
    out = aggregate_qffl(
        [np.array([1.0]), np.array([2.0])],
        [[np.array([0.0]), np.array([0.0])]],
        [2.0],
        q=1.0,
        learning_rate=1.0,
    )
    np.testing.assert_allclose(out[0], [5.0 / 7.0], rtol=1e-9)
    np.testing.assert_allclose(out[1], [10.0 / 7.0], rtol=1e-9)


def test_qffl_with_q_zero_is_plain_mean():
    # q=0: h_k = L for all k, numerator = L*sum(w - w_k) -> w - mean(w - w_k) = mean(w_k)
    # clients 0 and 3 -> 1.5 regardless of losses or the global value 9
    out = aggregate_qffl([np.array([9.0])], _scalars(0.0, 3.0), [5.0, 0.1], q=0.0, learning_rate=0.1)
    np.testing.assert_allclose(out[0], [1.5], rtol=1e-9)
