"""Classification and survival metrics pooled exactly across hosts from per-host statistics.

A host releases sufficient statistics, never records: its confusion counts and, per class,
histograms of that class's predicted probability among its positives and its negatives on
fixed edges (`bins` equal bins on [0, 1]). Summing them over hosts gives the pooled
confusion matrix exactly, so accuracy, balanced accuracy, precision, recall, specificity and
F1 are exactly what scikit-learn computes on the pooled records; and the pooled histograms
give ROC AUC as the Mann-Whitney probability that a positive outscores a negative (Hanley &
McNeil 1982, Radiology 143:29-36), with pairs in one bin counted one half. That is within
`auc_resolution` (half the share of positive-negative pairs sharing a bin) of the exact
AUC. An average of per-host AUCs would not be the pooled AUC; this is.

Conventions follow scikit-learn: binary scores are for class 1 (precision, recall, F1 with
`pos_label=1`; specificity is class 0's recall; AUC on class 1's probability); multiclass
scores are macro means over the labels present in the true or predicted classes, and AUC is
the one-vs-rest macro mean over classes with both positives and negatives (`roc_auc_score(
multi_class="ovr")`). A ratio with a zero denominator is 0, as `zero_division=0`.

Cox models report Harrell's concordance per host and, pooled, its sample-weighted mean (and
the pair-weighted ratio of summed counts, which pairs only records within a host).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tasks.models.cox import concordance_counts

DEFAULT_BINS = 1000
"""Histogram bins on [0, 1] per class: AUC is exact to about half a bin's share of pairs."""

Stats = dict[str, Any]


def host_statistics(y_true: np.ndarray, proba: np.ndarray, n_classes: int, *, bins: int = DEFAULT_BINS) -> Stats:
    """What a host releases for pooled metrics: n, confusion counts, per-class score histograms.

    `confusion[i, j]` counts records of true class i predicted as j (argmax of `proba`);
    `positive[c]` and `negative[c]` are histograms of `proba[:, c]` over records with
    and without true class c.
    """
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    k = int(n_classes)
    if p.ndim != 2 or p.shape != (y.shape[0], k) or y.ndim != 1:
        raise ValueError(f"proba must have shape ({y.shape[0]}, {k}) and y_true one dimension, got {p.shape}, {y.shape}")
    if y.size and (not np.all(np.isfinite(p)) or p.min() < -1e-9 or p.max() > 1 + 1e-9):
        raise ValueError("proba must hold probabilities in [0, 1]")
    if y.size and (y.min() < 0 or y.max() >= k or not np.all(y == np.round(y))):
        raise ValueError(f"y_true must hold class indices in 0..{k - 1}")
    y = y.astype(np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, p.argmax(axis=1)), 1)
    index = np.clip((p * bins).astype(np.int64), 0, bins - 1)  # a score of exactly 1.0 joins the top bin
    positive = np.zeros((k, int(bins)), dtype=np.int64)
    negative = np.zeros((k, int(bins)), dtype=np.int64)
    for c in range(k):
        positive[c] = np.bincount(index[y == c, c], minlength=bins)
        negative[c] = np.bincount(index[y != c, c], minlength=bins)
    return {"n": int(y.size), "confusion": confusion, "positive": positive, "negative": negative}


def combine_statistics(stats: Sequence[Stats]) -> Stats:
    """Sum hosts' statistics: the pooled statistics, exactly (all parts are counts)."""
    if not stats:
        raise ValueError("combine_statistics needs at least one host's statistics")
    first = stats[0]
    out = {"n": 0, **{key: np.zeros_like(np.asarray(first[key])) for key in ("confusion", "positive", "negative")}}
    for i, s in enumerate(stats):
        for key in ("confusion", "positive", "negative"):
            part = np.asarray(s[key])
            if part.shape != out[key].shape:
                raise ValueError(f"host statistics {i}: {key} has shape {part.shape}, the first has {out[key].shape}")
            out[key] = out[key] + part
        out["n"] += int(s["n"])
    return out


def histogram_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(positive's score > negative's) + 1/2 P(same bin), from two histograms on shared edges."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    total = pos.sum() * neg.sum()
    if total == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float((pos @ below + 0.5 * (pos @ neg)) / total)


def auc_resolution(positive: np.ndarray, negative: np.ndarray) -> float:
    """Largest possible error of `histogram_auc`: half the share of pairs that share a bin."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    total = pos.sum() * neg.sum()
    return float("nan") if total == 0 else float(0.5 * (pos @ neg) / total)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def scores(stats: Stats) -> dict[str, Any]:
    """Accuracy, balanced accuracy, precision, recall, specificity, F1, ROC AUC and the confusion matrix.

    Binary: for class 1 (specificity: class 0's recall). Multiclass: macro means; AUC is
    one-vs-rest macro. `roc_auc` is NaN when no class has both positives and negatives.
    """
    confusion = np.asarray(stats["confusion"], dtype=np.int64)
    k = confusion.shape[0]
    n = int(confusion.sum())
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    fp = predicted - tp
    tn = n - support - fp
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    specificity = _ratio(tn, tn + fp)
    f1 = _ratio(2 * precision * recall, precision + recall)
    aucs = np.array([histogram_auc(stats["positive"][c], stats["negative"][c]) for c in range(k)])
    if k == 2:
        chosen = {"precision": precision[1], "recall": recall[1], "specificity": recall[0], "f1": f1[1],
                  "roc_auc": aucs[1]}
    else:
        labels = (support > 0) | (predicted > 0)
        defined = ~np.isnan(aucs)
        chosen = {"precision": precision[labels].mean(), "recall": recall[labels].mean(),
                  "specificity": specificity[labels].mean(), "f1": f1[labels].mean(),
                  "roc_auc": aucs[defined].mean() if defined.any() else float("nan")}
    present = support > 0
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        **{key: float(value) for key, value in chosen.items()},
        "confusion_matrix": confusion.tolist(),
    }


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, n_classes: int,
                           *, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """`scores` of one host's predictions (what a per-client row shows)."""
    return scores(host_statistics(y_true, proba, n_classes, bins=bins))


def pooled_and_per_client(stats_by_host: Mapping[str, Stats]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(pooled scores, {host: that host's scores}) from every host's released statistics."""
    per_client = {host: scores(s) for host, s in stats_by_host.items()}
    return scores(combine_statistics(list(stats_by_host.values()))), per_client


# --------------------------------------------------------------------------- survival


def concordance_statistics(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> Stats:
    """A host's concordance and the counts behind it: n, concordant (ties 1/2), comparable pairs."""
    concordant, comparable = concordance_counts(time, event, risk)
    return {"n": int(np.asarray(time).shape[0]), "concordant": concordant, "comparable": comparable,
            "concordance": concordant / comparable if comparable else float("nan")}


def combine_concordance(stats: Sequence[Stats]) -> dict[str, float]:
    """Pooled concordance: the sample-weighted mean of the hosts' C (hosts with comparable pairs).

    `concordance_pairs` is the ratio of summed counts, weighting hosts by their pairs
    instead; neither compares records across hosts, which would need their times and risks.
    """
    if not stats:
        raise ValueError("combine_concordance needs at least one host's statistics")
    usable = [s for s in stats if s["comparable"] > 0]
    n = sum(int(s["n"]) for s in usable)
    weighted = sum(s["n"] * s["concordant"] / s["comparable"] for s in usable) / n if n else float("nan")
    pairs = sum(s["comparable"] for s in usable)
    return {"n": sum(int(s["n"]) for s in stats), "concordance": float(weighted),
            "concordance_pairs": float(sum(s["concordant"] for s in usable) / pairs) if pairs else float("nan")}
