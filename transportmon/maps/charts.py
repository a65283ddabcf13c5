"""Charts of the coach notebook: risk levels by day, over-cap trips by date and route.

They live in the package so that the notebooks hold no logic of their own; the levels are resolved by
:func:`transportmon.designations_on.levels_by_day`, the rule the audit applies to stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..designations_on import levels_by_day
from .style import RISK_STYLE, bilingual, cjk_font, drawable, font_families, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..pipeline import AuditResult

__all__ = ["plot_over_cap_trips", "plot_risk_timeline", "risk_timeline"]


def risk_timeline(result: AuditResult, start: str, end: str, *, units: list[str] | None = None) -> pd.DataFrame:
    """Risk level in effect per unit and day, as the audit resolves it (most specific designation wins).

    Parameters
    ----------
    result
        An audit with a ``risk_areas`` layer.
    start, end
        First and last day (inclusive).
    units
        adcodes of the finest boundary units to follow; default the jurisdiction's counties and the county of every
        coach stop.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name``, ``date``, ``level`` (NA where nothing is in effect), one row per unit and day.
    """
    risk = result.layers.get("risk_areas")
    bl = result.layers.get("boundaries")
    if risk is None or bl is None:
        return pd.DataFrame({"adcode": [], "name": [], "date": [], "level": []})
    stops = result.layers.get("stops")
    return levels_by_day(bl.frame, risk.intervals, start, end, units=units,
                         jurisdiction=str(result.config.jurisdiction),
                         stops=stops.frame.geometry if stops is not None else None)


def plot_risk_timeline(timeline: pd.DataFrame, ax: Axes | None = None, *, cjk: str | None = None) -> Axes:
    """Draw :func:`risk_timeline` as one bar per unit coloured by level over the days (white: no designation)."""
    from matplotlib.patches import Patch

    if ax is None:
        ax = new_figure((1400, max(300, 28 * timeline["adcode"].nunique() + 120)), 100).add_subplot()
    cjk = cjk if cjk is not None else cjk_font()
    fam = font_families(cjk)
    order = timeline.drop_duplicates("adcode")[["adcode", "name"]].reset_index(drop=True)
    pos = {a: i for i, a in enumerate(order["adcode"])}
    t = timeline.dropna(subset=["level"])
    one_day = pd.Timedelta(days=1)
    import matplotlib.dates as mdates

    for level, (colour, _, _zh) in RISK_STYLE.items():
        part = t[(t["level"] == level).to_numpy()]
        if len(part):
            ax.barh(part["adcode"].map(pos).to_numpy(), one_day / pd.Timedelta(days=1),
                    left=mdates.date2num(pd.to_datetime(part["date"]).to_numpy()), height=0.8, color=colour,
                    edgecolor="none")
    labels = [f"{n} {a}" if cjk else a for a, n in zip(order["adcode"], order["name"])]
    ax.set_yticks(range(len(order)), labels, fontfamily=fam, fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.legend(handles=[Patch(color=c, label=bilingual(zh, lv, cjk is not None))
                       for lv, (c, _, zh) in RISK_STYLE.items()], loc="upper right", prop={"family": fam, "size": 8})
    ax.set_title(bilingual("风险等级", "risk level in effect by day", cjk is not None), fontfamily=fam)
    return ax


def plot_over_cap_trips(result: AuditResult, ax: Axes | None = None, *, cjk: str | None = None) -> Axes:
    """Over-cap trips per service date, stacked by route."""
    import matplotlib
    import matplotlib.dates as mdates

    if ax is None:
        ax = new_figure((1400, 500), 100).add_subplot()
    cjk = cjk if cjk is not None else cjk_font()
    fam = font_families(cjk)
    rep = result.report
    over = rep[((rep["subject"] == "trip") & (rep["verdict"] == "over-cap")).to_numpy()]
    if not len(over):
        ax.text(0.5, 0.5, "no over-cap trips", ha="center", va="center", transform=ax.transAxes)
        return ax
    table = pd.crosstab(pd.to_datetime(over["service_date"]), over["route_id"].astype("string").fillna("—"))
    bottom = np.zeros(len(table))
    x = mdates.date2num(table.index.to_numpy())
    cmap = matplotlib.colormaps["tab20"]
    for i, route in enumerate(table.columns):
        ax.bar(x, table[route].to_numpy(), bottom=bottom, width=0.8, label=drawable(str(route), cjk),
               color=cmap(i % 20))
        bottom += table[route].to_numpy()
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.set_ylabel(bilingual("超客座率班次", "over-cap trips", cjk is not None), fontfamily=fam)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(title="route", prop={"family": fam, "size": 7}, ncols=2)
    ax.set_title(bilingual("超客座率班次（按日期、线路）", "over-cap trips by service date and route", cjk is not None),
                 fontfamily=fam)
    return ax
