"""The feedback report's charts, drawn with matplotlib's Agg backend (no display, no pyplot
state: a :class:`~matplotlib.figure.Figure` on its own Agg canvas, safe in any thread) as PNG
bytes. Money is Decimal everywhere else; here it becomes floats only to be drawn."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .feedback import CategoryTotal, FeedbackReport

DPI = 150
#: one colour per denial category, in the order of the report's categories (largest first)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
           "#c5b0d5")
_DOLLARS = FuncFormatter(lambda x, _: f"${x:,.0f}")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # no "Software" entry: the same figures give the same bytes
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#555555",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def category_chart(report: FeedbackReport) -> bytes:
    """Denied dollars by category, one stacked bar per month with data (up to 12 months)."""
    fig = _figure(9.0, 4.2)
    ax = fig.add_subplot()
    months = report.chart_months
    ax.set_title(f"Denied dollars by category, {months[0].label()} to {months[-1].label()}"
                 if months else "Denied dollars by category", fontsize=11, loc="left")
    categories = report.categories()
    if not months or not categories:
        _no_data(ax, f"No denials on remittances up to {report.month}")
        return _png(fig)
    x = list(range(len(months)))
    bottom = [0.0] * len(months)
    for i, cat in enumerate(categories):
        values = [float(report.figures[m].by_category.get(cat, CategoryTotal()).denied)
                  for m in months]
        ax.bar(x, values, bottom=bottom, label=cat, color=PALETTE[i % len(PALETTE)],
               width=0.7, edgecolor="white", linewidth=0.4)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xticks(x, [m.label() for m in months], rotation=45, ha="right", fontsize=8)
    ax.yaxis.set_major_formatter(_DOLLARS)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylabel("Denied dollars", fontsize=9)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def patterns_chart(report: FeedbackReport) -> bytes:
    """The top patterns of the month: denied dollars, with what was recovered so far."""
    top = report.top_patterns
    fig = _figure(9.0, max(2.4, 0.3 * len(top) + 1.1))
    ax = fig.add_subplot()
    ax.set_title(f"Top denial patterns, {report.month.label()} (denied and recovered dollars)",
                 fontsize=11, loc="left")
    if not top:
        _no_data(ax, f"No denials on remittances of {report.month}")
        return _png(fig)
    y = list(range(len(top)))[::-1]  # the most frequent pattern on top
    denied = [float(p.denied) for p in top]
    recovered = [float(p.recovered) for p in top]
    ax.barh(y, denied, color="#d62728", height=0.6, label="denied")
    ax.barh(y, recovered, color="#2ca02c", height=0.6, label="recovered so far")
    ax.set_yticks(y, [p.label(58) for p in top], fontsize=8)
    for yi, p, value in zip(y, top, denied):
        ax.text(value, yi, f"  {p.count}×", va="center", fontsize=7.5, color="#333333")
    ax.xaxis.set_major_formatter(_DOLLARS)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlim(0, max(denied) * 1.15)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    return _png(fig)
