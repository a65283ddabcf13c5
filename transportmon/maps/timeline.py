"""The timeline chart (DESIGN §7): checkpoints by verdict per day with the due date marked, and over-cap trips per
day against the number of high- and medium-risk units.

It draws a frame of :func:`transportmon.daily.timeline` and nothing else: every number is the timeline's.
Colours are those of the maps (:mod:`~transportmon.maps.style`); labels are Chinese and English when a CJK font is
installed, English otherwise.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import InputError
from ..io.write import write_bytes
from .style import RISK_STYLE, VERDICT_STYLE, bilingual, cjk_font, font_families, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_timeline", "timeline_chart"]

#: Checkpoint verdicts stacked from the bottom: what may stay, what needs a look, what must go.
_STACK = ("keep", "review", "remove")
DUE_COLOUR = "#252525"


def plot_timeline(frame: pd.DataFrame, fig: Figure | None = None, *, due: str | None = None,
                  cjk: str | None = None) -> Figure:
    """Draw a timeline in two panels sharing the days.

    Parameters
    ----------
    frame
        From :func:`transportmon.daily.timeline` (``date`` and the count columns).
    fig
        A matplotlib Figure to draw on (two axes are added); default a new one, 1400 × 900 px.
    due
        The due date to mark (YYYY-MM-DD); default ``frame.attrs["due"]``. Not drawn when outside the days.
    cjk
        A CJK font family for the Chinese labels; default :func:`~transportmon.maps.style.cjk_font`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.dates as mdates

    if fig is None:
        fig = new_figure((1400, 900), 100)
    cjk = cjk if cjk is not None else cjk_font()
    zh = cjk is not None
    fam = font_families(cjk)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 2)})
    days = pd.to_datetime(frame["date"]).to_numpy()
    x = mdates.date2num(days)

    def counts(col: str) -> np.ndarray:
        values = frame[col] if col in frame.columns else pd.Series(pd.NA, index=frame.index)
        return pd.to_numeric(values, errors="coerce").fillna(0).to_numpy(dtype=float)

    # Checkpoints by verdict, stacked bars per day; the overdue part of remove hatched.
    base = np.zeros(len(frame))
    for verdict in _STACK:
        colour, word_zh, word_en = VERDICT_STYLE[verdict]
        top.bar(x, counts(verdict), bottom=base, width=1.0, color=colour, edgecolor="none",
                label=bilingual(word_zh, word_en, zh))
        base += counts(verdict)
    overdue = counts("overdue")
    if overdue.any():
        top.bar(x, overdue, bottom=base - counts("remove"), width=1.0, fill=False, hatch="///",
                edgecolor="#67000d", linewidth=0, label=bilingual("逾期未撤除", "overdue for removal", zh))
    # Checkpoints opened (+n) and closed (−n) on a day: a joint removal shows as a step down, dated.
    change = np.diff(counts("checkpoints_active"), prepend=counts("checkpoints_active")[:1])
    moved = change != 0
    for at, day, n, height in zip(x[moved], days[moved], change[moved], base[moved]):
        signed = f"{n:+.0f}".replace("-", "−")
        top.annotate(f"{pd.Timestamp(day):%m-%d} {signed}", (at - 0.5, height),
                     xytext=(1, 3), textcoords="offset points", ha="left", va="bottom", fontsize=8,
                     color=DUE_COLOUR)
    top.set_ylabel(bilingual("运行中的检测点", "active checkpoints", zh), fontfamily=fam)
    top.set_title(bilingual("检测点结论（逐日）", "checkpoints by verdict, day by day", zh), fontfamily=fam)
    top.yaxis.get_major_locator().set_params(integer=True)
    top.set_ylim(0, max(1.0, float(base.max(initial=0))) * 1.12)  # room for the labels above the bars

    due = due if due is not None else frame.attrs.get("due")
    if due is not None and len(days) and days[0] <= np.datetime64(pd.Timestamp(due)) <= days[-1]:
        at = mdates.date2num(np.datetime64(pd.Timestamp(due))) - 0.5  # the due day's bar starts here
        for ax in (top, bottom):
            ax.axvline(at, color=DUE_COLOUR, linestyle="--", linewidth=1.2)
        top.annotate(bilingual(f"撤除期限 {due}", f"due {due}", zh), (at, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(4, -4), textcoords="offset points", va="top", fontfamily=fam, fontsize=9,
                     color=DUE_COLOUR)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), prop={"family": fam, "size": 8})

    # Over-cap trips per service date, with the high/medium unit counts on a second axis.
    colour, word_zh, word_en = VERDICT_STYLE["over-cap"]
    bottom.bar(x, counts("over_cap"), width=0.8, color=colour, label=bilingual("超客座率班次", "over-cap trips", zh))
    bottom.set_ylabel(bilingual("超客座率班次", "over-cap trips", zh), fontfamily=fam)
    bottom.yaxis.get_major_locator().set_params(integer=True)
    units = bottom.twinx()
    handles: list[Any] = []
    for level in ("high", "medium"):
        col = f"{level}_units"
        if col in frame.columns and frame[col].notna().any():
            fill, _, level_zh = RISK_STYLE[level]
            handles += units.step(x, counts(col), where="mid", color=fill, linewidth=2.0,
                                  label=bilingual(f"{level_zh}单元", f"{level}-risk units", zh))
    units.set_ylabel(bilingual("中高风险行政单元数", "high / medium-risk units", zh), fontfamily=fam)
    units.set_ylim(bottom=0)
    units.yaxis.get_major_locator().set_params(integer=True)
    bars, labels = bottom.get_legend_handles_labels()
    bottom.legend(bars + handles, labels + [h.get_label() for h in handles], loc="upper left",
                  bbox_to_anchor=(1.06, 1.0), prop={"family": fam, "size": 8})
    bottom.set_title(bilingual("超客座率班次与中高风险单元（逐日）", "over-cap trips and high/medium-risk units, day by day",
                               zh), fontfamily=fam)
    bottom.xaxis_date()
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    if len(x):
        bottom.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    policy = frame.attrs.get("policy")  # Chinese: drawn only with a CJK font
    fig.suptitle(f"{policy} 逐日合规 compliance day by day" if zh and policy else "compliance day by day",
                 fontfamily=fam)
    fig.subplots_adjust(left=0.06, right=0.78, top=0.92, bottom=0.06, hspace=0.22)
    return fig


def timeline_chart(frame: pd.DataFrame, out: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write :func:`plot_timeline` of ``frame`` as a PNG (atomically); :class:`InputError` for another extension."""
    target = Path(out)
    if target.suffix.lower() != ".png":
        raise InputError(target, f"unknown chart format {target.suffix.lower()!r}", "use a .png file for --chart")
    fig = plot_timeline(frame)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return write_bytes(target, buf.getvalue())
