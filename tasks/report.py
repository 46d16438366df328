"""An execution's training report as one self-contained HTML string.

Everything is inline (CSS in a `<style>`, charts as inline `<svg>` without a namespace
URL, which HTML5 does not need), so `report.html` opens from a file or an MLflow artifact
with no network, in the spirit of the "single-file" reports of tools such as
pytest-html's `--self-contained-html`. Parts: the parameters, curves of loss and quality
per round, the final metrics global and per client, the confusion matrix, and which hosts
took part in which round. Every text is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

QUALITY_METRICS: tuple[str, ...] = (
    "accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "concordance",
)
"""Scalar metrics shown in the table and the quality chart, in this order, when present."""

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f4f4f4}td.k,th.k{text-align:left}td.on{background:#2ca02c;color:#fff;text-align:center}
td.off{background:#f4f4f4}svg{background:#fff;border:1px solid #ddd;margin:.5rem 1rem .5rem 0}
.legend span{display:inline-block;margin-right:1rem}.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}
"""


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _text(value)
    if isinstance(value, int):
        return str(value)
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], *, title: str,
               width: int = 560, height: int = 240) -> str:
    """An inline SVG line chart of named (x, y) series, with min/max ticks on both axes."""
    points = [(x, y) for values in series.values() for x, y in values if _finite(x) and _finite(y)]
    left, right, top, bottom = 56, 12, 28, 34
    body = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{_text(title)}">',
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{_text(title)}</text>']
    if not points:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12">no data</text></svg>')
        return "".join(body)
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    body.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>')
    for y in (y0, y1):
        body.append(f'<text x="{left - 4}" y="{sy(y) + 4:.1f}" text-anchor="end" font-size="11">{_number(float(y))}</text>')
    for x in (x0, x1):
        body.append(f'<text x="{sx(x):.1f}" y="{height - bottom + 14}" text-anchor="middle" font-size="11">'
                    f'{_number(x) if isinstance(x, int) else f"{x:g}"}</text>')
    body.append(f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle" font-size="11">round</text>')
    for i, (name, values) in enumerate(series.items()):
        good = [(x, y) for x, y in values if _finite(x) and _finite(y)]
        if not good:
            continue
        colour = _PALETTE[i % len(_PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in good)
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                    f'<title>{_text(name)}</title></polyline>')
    body.append("</svg>")
    legend = "".join(f'<span><i class="sw" style="background:{_PALETTE[i % len(_PALETTE)]}"></i>{_text(name)}</span>'
                     for i, name in enumerate(series))
    return "".join(body) + f'<div class="legend">{legend}</div>'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, key_columns: int = 1) -> str:
    head = "".join(f'<th class="k">{_text(h)}</th>' if i < key_columns else f"<th>{_text(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="k">{_text(v)}</td>' if i < key_columns else f"<td>{_number(v)}</td>"
                         for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _participation(participation: Mapping[int, Sequence[str]]) -> str:
    rounds = sorted(participation)
    hosts = sorted({h for hs in participation.values() for h in hs})
    head = '<th class="k">host</th>' + "".join(f"<th>{r}</th>" for r in rounds)
    rows = []
    for host in hosts:
        cells = "".join('<td class="on">&#10003;</td>' if host in participation[r] else '<td class="off"></td>'
                        for r in rounds)
        rows.append(f'<tr><td class="k">{_text(host)}</td>{cells}</tr>')
    return f'<table class="participation"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _preparation(plan: Mapping[str, Any]) -> str:
    """The plan every host applied: what filled each column's gaps, its categories, its indicators."""
    statistic = plan.get("imputation", "mean")
    imputed = plan.get("impute", True)  # trees take missing values as they are
    indicators = set(plan.get("indicators") or ()) if plan.get("missing_indicators") else set()
    withheld = set(plan.get("withheld") or ())
    rows = []
    for col in plan.get("features") or ():
        if col in (plan.get("categories") or {}):
            values = plan["categories"][col]
            rows.append([col, "categorical", f"one-hot: {', '.join(map(str, values)) or '(none released)'}", ""])
        else:
            fill = plan.get("fills", {}).get(col)
            how = ("0 (no host released it)" if col in withheld
                   else f"federated {statistic} {_number(float(fill))}" if fill is not None else "")
            done = f"gaps filled with {how}" if imputed else "gaps kept: the trees route missing values"
            rows.append([col, "numeric", done, "yes" if col in indicators else ""])
    gaps = f"the federated {_text(statistic)}" if imputed else "kept (the trees route them)"
    intro = (f"<p>Fitted once on the hosts before round 1 and applied by every host to its training, "
             f"validation and test splits; the registered model applies it to raw rows. Numeric gaps: "
             f"{gaps}; categories: the union of the values each host holds at least its floor's number of "
             f"times (others are all zeros).</p>")
    return intro + _table(["column", "kind", "preparation", "missing indicator"], rows)


def render_report(
    *,
    title: str,
    parameters: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    final: Mapping[str, Any],
    per_client: Mapping[str, Mapping[str, Any]] | None = None,
    confusion: Sequence[Sequence[int]] | None = None,
    labels: Sequence[Any] | None = None,
    participation: Mapping[int, Sequence[str]] | None = None,
    preparation: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as one HTML document.

    `history` has one mapping per round with `round` and any of `loss` and the
    `QUALITY_METRICS` (and optionally `hosts`, the round's participants, used when
    `participation` is not given). `final` and each `per_client` value are metric
    mappings as `tasks.metrics.scores` returns; `confusion` defaults to
    `final["confusion_matrix"]`. `preparation` is the federation's plan (tasks.prep.PrepPlan
    as plain data) with the run's `missing_indicators`.
    """
    per_client = per_client or {}
    if participation is None:
        participation = {int(row["round"]): list(row["hosts"]) for row in history if "hosts" in row}
    if confusion is None:
        confusion = final.get("confusion_matrix")

    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_text(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{_text(title)}</h1>"]

    parts.append('<h2 id="parameters">Parameters</h2>')
    parts.append(_table(["parameter", "value"], [[k, parameters[k]] for k in parameters], key_columns=2))

    parts.append('<h2 id="curves">Curves</h2>')
    rounds = [row.get("round") for row in history]
    loss = {"loss": [(r, row.get("loss")) for r, row in zip(rounds, history) if "loss" in row]}
    quality = {m: [(r, row.get(m)) for r, row in zip(rounds, history)]
               for m in QUALITY_METRICS if any(m in row for row in history)}
    parts.append(line_chart(loss, title="loss per round"))
    parts.append(line_chart(quality, title="quality per round"))

    parts.append('<h2 id="metrics">Final metrics</h2>')
    shown = [m for m in QUALITY_METRICS + ("loss", "n")
             if m in final or any(m in v for v in per_client.values())]
    rows = [["global (pooled)", *[final.get(m, "") for m in shown]]]
    rows += [[host, *[metrics.get(m, "") for m in shown]] for host, metrics in per_client.items()]
    parts.append(_table(["", *shown], rows))

    if confusion:
        k = len(confusion)
        names = [str(v) for v in labels] if labels is not None and len(labels) == k else [str(i) for i in range(k)]
        parts.append('<h2 id="confusion">Confusion matrix</h2><p>rows: true class; columns: predicted class</p>')
        parts.append(_table(["true \\ predicted", *names], [[names[i], *confusion[i]] for i in range(k)]))

    if participation:
        parts.append('<h2 id="participation">Hosts per round</h2>')
        parts.append(_participation(participation))

    if preparation:
        parts.append('<h2 id="preparation">Data preparation</h2>')
        parts.append(_preparation(preparation))

    parts.append("</body></html>")
    return "".join(parts)
