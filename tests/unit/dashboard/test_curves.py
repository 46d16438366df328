"""The metrics the execution page's chooser offers, and the one it starts on (dashboard.curves)."""

from __future__ import annotations

from fedpe.dashboard.curves import NOT_PLOTTED, chooser, choices, first_choice


def _row(metrics: dict, per_client: dict | None = None) -> dict:
    return {"round": 1, "metrics": metrics, "per_client": per_client or {}, "clients": [], "dropped": []}


def test_every_number_of_a_round_pooled_or_a_clients_is_offered_by_name_less_counts_and_timings():
    rows = [
        _row({"accuracy": 0.8, "f1": 0.7, "loss": 0.4, "round_ms": 12.5, "num_examples": 300, "n": 300,
              "train_loss": 0.5, "epsilon": 1.2},
             {"hospital-a": {"accuracy": 0.75, "loss": 0.45, "num_examples": 100, "n": 100}}),
        _row({"accuracy": 0.82, "roc_auc": None, "loss": 0.39}, {"hospital-b": {"specificity": 0.9}}),
    ]

    names = choices(rows)

    assert names == ["accuracy", "epsilon", "f1", "loss", "specificity", "train_loss"]
    assert not NOT_PLOTTED & set(names)


def test_only_numbers_are_offered_not_flags_text_or_nulls():
    rows = [_row({"accuracy": 0.5, "stopped": True, "note": "x", "roc_auc": None, "steps": 3}, {"a": "not a dict"})]

    assert choices(rows) == ["accuracy"]


def test_the_chooser_starts_on_accuracy_or_concordance_else_the_first_metric():
    assert first_choice(["accuracy", "f1", "loss"]) == "accuracy"
    assert first_choice(["concordance", "concordance_pairs", "loss"]) == "concordance"
    assert first_choice(["loss", "train_loss"]) == "loss"
    assert first_choice([]) == "accuracy"  # before the first round: what most models report


def test_the_chooser_hands_the_page_its_rule_for_the_rounds_to_come():
    rendered = chooser([_row({"loss": 0.4, "concordance": 0.7, "num_examples": 10})])

    assert rendered == {"choices": ["concordance", "loss"], "chosen": "concordance",
                       "not_plotted": sorted(NOT_PLOTTED), "preferred": ["accuracy", "concordance"]}
