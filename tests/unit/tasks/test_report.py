"""The HTML report holds every part and needs no network."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tasks.report import line_chart, render_report


def _report() -> str:
    history = [{"round": r, "loss": 1.0 / r, "accuracy": 0.5 + r / 20, "f1": 0.4 + r / 20,
                "hosts": ["hospital-a", "hospital-b"] if r != 2 else ["hospital-a"]} for r in range(1, 4)]
    final = {"accuracy": 0.95, "f1": 0.94, "roc_auc": 0.99, "n": 114, "confusion_matrix": [[40, 2], [3, 69]]}
    per_client = {"hospital-a": {"accuracy": 0.96, "f1": 0.95, "n": 57},
                  "hospital-b": {"accuracy": 0.94, "f1": 0.93, "n": 57}}
    plan = {"features": ["age", "smoking"], "fills": {"age": 61.25}, "categories": {"smoking": ["never", "<b>"]},
            "indicators": ["age"], "imputation": "median", "withheld": [], "missing_indicators": True}
    return render_report(title="flcore <logreg>", parameters={"model": "logreg", "rounds": 3, "strategy": "fedavg"},
                         history=history, final=final, per_client=per_client, labels=["benign", "malignant"],
                         preparation=plan)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_report_has_every_part() -> None:
    # Execute
    page = _report()
    collector = _Collector()
    collector.feed(page)
    # Assert
    for anchor in ("parameters", "curves", "metrics", "confusion", "participation", "preparation"):
        assert f'id="{anchor}"' in page
    assert collector.tags.count("svg") == 2 and collector.tags.count("polyline") == 3  # loss; accuracy and f1
    assert "hospital-a" in page and "hospital-b" in page and "global (pooled)" in page
    assert ">69<" in page and "malignant" in page  # the confusion matrix with its labels
    assert page.count("&#10003;") == 5  # a in rounds 1-3, b in rounds 1 and 3
    assert "flcore &lt;logreg&gt;" in page and "<logreg>" not in page  # escaped
    assert "federated median 61.2500" in page and "one-hot: never, &lt;b&gt;" in page  # the plan, escaped


def test_report_references_no_external_resource() -> None:
    # Execute
    page = _report()
    collector = _Collector()
    collector.feed(page)
    # Assert
    assert not re.search(r"https?:", page)
    assert not any(name in ("src", "href") for name, _ in collector.attrs)
    assert "<script" not in page and "<link" not in page


def test_chart_without_points_says_so() -> None:
    # Execute / Assert
    assert "no data" in line_chart({"loss": [(1, float("nan"))]}, title="loss")


def test_a_tree_models_report_says_its_gaps_were_kept() -> None:
    plan = {"features": ["age"], "fills": {"age": 61.25}, "categories": {}, "indicators": [], "impute": False}
    page = render_report(title="forest", parameters={}, history=[], final={}, preparation=plan)

    assert "gaps kept: the trees route missing values" in page and "gaps filled" not in page
