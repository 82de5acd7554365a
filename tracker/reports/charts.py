"""Small PNG charts (matplotlib, Agg): one in each digest, a few in the quarterly report.

Built with matplotlib's object API (``Figure`` + Agg canvas), not ``pyplot``:
no global figure state, so the daemon's scheduler thread and the CLI can draw
at the same time. matplotlib is imported on first use, so nothing that only
imports this package (the daemon, the CLI's parser) pays for it. Charts of
published figures take the *published strings*: a suppressed cell arrives as
``"<5"`` and is drawn as a label, never as a bar of its true height.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal

from tracker.reports.digest import DayCount

#: Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
INK = "#333333"


def _figure(width: float, height: float, *, layout: Literal["constrained"] | None = None) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any, scale: float = 2.0) -> bytes:
    """PNG at ``scale`` × the figure's pixel size (crisp on high-density screens)."""
    buf = io.BytesIO()
    # No "Software" metadata: the same figures give the same bytes.
    fig.savefig(buf, format="png", dpi=100 * scale, metadata={"Software": None})
    return buf.getvalue()


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=8)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")


def open_by_stage(trend: Sequence[DayCount], stages: Sequence[int], title: str) -> bytes:
    """Stacked bars: open cases by stage at the end of each day (shown at 592 × 220 px)."""
    fig = _figure(5.92, 2.2)
    ax = fig.add_subplot()
    x = list(range(len(trend)))
    bottom = [0] * len(trend)
    for i, stage in enumerate(stages):
        heights = [dict(d.by_stage).get(stage, 0) for d in trend]
        ax.bar(
            x,
            heights,
            bottom=bottom,
            color=PALETTE[i % len(PALETTE)],
            width=0.8,
            label=f"Stage {stage}",
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(trend) // 7)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([_day_label(d.day) for d in trend][::step])
    ax.set_title(title, fontsize=9, color=INK, loc="left")
    ax.yaxis.get_major_locator().set_params(integer=True)
    _style(ax)
    if stages:
        ax.legend(
            fontsize=7, frameon=False, ncol=len(stages), loc="upper left", bbox_to_anchor=(0, -0.12)
        )
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.3)
    return _png(fig)


def _day_label(iso: str) -> str:
    from datetime import date

    d = date.fromisoformat(iso)
    return f"{d:%a} {d.day}"


def _number(text: str) -> float | None:
    t = text.rstrip("%")
    try:
        return float(t)
    except ValueError:
        return None


def paired_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[str]]],
    *,
    percent: bool = False,
) -> bytes:
    """Horizontal bars, one group per label, one bar per series of *published* strings.

    A value that is not a number (``"<5"``, ``"*"``, ``"–"``) is written in
    place of its bar.
    """
    height = 0.6 + 0.32 * len(labels) * max(1, len(series))
    # Constrained layout makes room for the longest label instead of cutting it off.
    fig = _figure(6.0, min(max(height, 1.6), 7.5), layout="constrained")
    ax = fig.add_subplot()
    n = max(1, len(series))
    bar = 0.8 / n
    top = 0.0
    for j, (name, values) in enumerate(series):
        for i, text in enumerate(values):
            v = _number(text)
            y = i + (j - (n - 1) / 2) * bar
            colour = PALETTE[j % len(PALETTE)]
            if v is None:
                ax.text(0, y, f" {text}", va="center", ha="left", fontsize=7, color=INK)
                ax.barh(y, 0, height=bar * 0.9, color=colour, label=name if i == 0 else None)
                continue
            top = max(top, v)
            ax.barh(y, v, height=bar * 0.9, color=colour, label=name if i == 0 else None)
            ax.text(v, y, f" {text}", va="center", ha="left", fontsize=7, color=INK)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([_short(label) for label in labels])
    ax.invert_yaxis()
    ax.set_xlim(0, (100 if percent else max(top, 5)) * 1.15)
    ax.set_title(title, fontsize=9, color=INK, loc="left")
    _style(ax)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _png(fig)


def _short(label: str, width: int = 42) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
