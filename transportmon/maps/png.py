"""The static map: GeoPandas + matplotlib, the same symbols as the HTML map, in a metric CRS.

:func:`png_map` draws what :func:`~transportmon.maps.layers.map_layers` assembled in the road context's CRS (else the
UTM zone of the map), so one metre is as long across as up and the scale bar is true. Checkpoint ids are labelled
where they overlap nothing, and where checkpoints crowd at the overview scale an inset enlarges the densest group.
The file is written without a timestamp, so the same audit gives the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from ..io.write import write_bytes
from ..palette import OTHER_COLOUR, ROUTE_VERDICT_STYLE
from ..vocab import CHECKPOINT_VERDICTS
from .layers import MapLayers, map_layers
from .style import (
    BORDER_COLOUR,
    CJK_CHARS,
    OUTLINE_COLOUR,
    RISK_STYLE,
    ROAD_STYLE,
    TRIP_COLOUR,
    VERDICT_STYLE,
    WAIVED_COLOUR,
    bilingual,
    cjk_font,
    drawable,
    font_families,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..pipeline import AuditResult

__all__ = ["png_map"]


def _draw_layers(layers: MapLayers, ax: Axes, crs: Any, cjk: str | None, k: float = 1.0) -> list[Any]:
    """Draw every layer on ``ax`` in ``crs``, line widths and marker sizes scaled by ``k``; return legend handles."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    use_cjk = cjk is not None
    handles: list[Any] = []
    ax.set_facecolor("#fbfbfb")
    if layers.risk_areas is not None and len(layers.risk_areas):
        ra = layers.risk_areas.to_crs(crs)
        for level, (colour, opacity, zh) in RISK_STYLE.items():
            part = ra[(ra["level"] == level).to_numpy()]
            if len(part):
                part.plot(ax=ax, color=colour, alpha=opacity * 0.8, edgecolor="none", zorder=1)
            handles.append(Patch(facecolor=colour, alpha=min(1.0, opacity * 1.4), edgecolor="#666666",
                                 label=bilingual(zh, f"{level} risk ({len(part)})", use_cjk)))
    if layers.outlines is not None and len(layers.outlines):
        ol = layers.outlines.to_crs(crs)
        j = ol[(ol["role"] == "jurisdiction").to_numpy()]
        nb = ol[(ol["role"] == "neighbour").to_numpy()]
        if len(nb):
            nb.boundary.plot(ax=ax, color=OUTLINE_COLOUR, linewidth=0.6 * k, linestyle=":", zorder=2)
        if len(j):
            j.boundary.plot(ax=ax, color=OUTLINE_COLOUR, linewidth=1.0 * k, zorder=2)
            handles.append(Line2D([], [], color=OUTLINE_COLOUR, linewidth=1.0,
                                  label=bilingual("辖区", "jurisdiction", use_cjk)))
    if layers.roads is not None and len(layers.roads):
        rd = layers.roads.to_crs(crs)
        road_handles = []
        for cls in reversed(list(ROAD_STYLE)):  # minor roads first, major roads on top
            colour, width, zh = ROAD_STYLE[cls]
            part = rd[(rd["road_class"] == cls).to_numpy()]
            if len(part):
                part.plot(ax=ax, color=colour, linewidth=width * 0.3 * k, alpha=0.85, zorder=3)
                road_handles.append(Line2D([], [], color=colour, linewidth=width * 0.5, label=bilingual(zh, cls, use_cjk)))
        handles += road_handles[::-1]
    if layers.border is not None and len(layers.border):
        layers.border.to_crs(crs).plot(ax=ax, color=BORDER_COLOUR, linewidth=2.2 * k, linestyle=(0, (4, 2)), zorder=4)
        handles.append(Line2D([], [], color=BORDER_COLOUR, linewidth=2.2, linestyle=(0, (4, 2)),
                              label=bilingual("豁免边界", "exempt border", use_cjk)))
    if layers.crossings is not None and len(layers.crossings):
        layers.crossings.to_crs(crs).plot(ax=ax, color="white", edgecolor="black", markersize=12 * k * k,
                                          linewidth=0.7 * k, zorder=5)
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="black",
                              markersize=4, label=bilingual("道路跨界点", f"border crossing ({len(layers.crossings)})",
                                                       use_cjk)))
    over = layers.trips[(layers.trips["verdict"] == "over-cap").to_numpy()]
    if len(over):
        over.to_crs(crs).plot(ax=ax, color=TRIP_COLOUR, linewidth=1.4 * k, linestyle=(0, (4, 2)), alpha=0.75, zorder=6)
        handles.append(Line2D([], [], color=TRIP_COLOUR, linewidth=1.4, linestyle=(0, (4, 2)),
                              label=bilingual("超客座率班次", f"over-cap trips ({len(over)}, all dates)", use_cjk)))
    if layers.routes is not None and len(layers.routes):  # DESIGN §9: by verdict, as on the HTML map
        rt = layers.routes.to_crs(crs)
        is_point = (rt.geom_type == "Point").to_numpy()
        verdicts = rt["verdict"].astype(str).to_numpy()
        known = list(ROUTE_VERDICT_STYLE)
        styles = [(v, *ROUTE_VERDICT_STYLE[v]) for v in known]
        if (~np.isin(verdicts, known)).any():  # a verdict no style knows: drawn, never hidden
            styles.append(("other", OTHER_COLOUR, "其他", "other"))
        for v, colour, zh, en in styles:
            mask = ~np.isin(verdicts, known) if v == "other" else verdicts == v
            if not mask.any():
                continue
            if (mask & ~is_point).any():  # on a dark casing, so that a route stands apart from the roads' blues
                rt[mask & ~is_point].plot(ax=ax, color="#222222", linewidth=3.6 * k, zorder=6.1)
                rt[mask & ~is_point].plot(ax=ax, color=colour, linewidth=2.2 * k, zorder=6.2)
            if (mask & is_point).any():
                rt[mask & is_point].plot(ax=ax, color=colour, edgecolor="#222222", markersize=30 * k * k,
                                         linewidth=0.6 * k, zorder=6.2)
            handles.append(Line2D([], [], color=colour, linewidth=2.2, path_effects=[
                patheffects.Stroke(linewidth=3.6, foreground="#222222"), patheffects.Normal()],
                label=bilingual(f"线路 {zh}", f"route {en} ({int(mask.sum())})", use_cjk)))
    if layers.waived is not None and len(layers.waived):  # a dashed ring (a halo for a trip's line) under each
        wv = layers.waived.to_crs(crs)
        is_point = (wv.geom_type == "Point").to_numpy()
        if (~is_point).any():
            wv[~is_point].plot(ax=ax, color=WAIVED_COLOUR, linewidth=4.0 * k, linestyle=(0, (2, 2)), alpha=0.6,
                               zorder=5.5)
        if is_point.any():
            wv[is_point].plot(ax=ax, facecolor="none", edgecolor=WAIVED_COLOUR, markersize=200 * k * k,
                              linewidth=1.6 * k, linestyle=(0, (2, 1.5)), zorder=7)
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor=WAIVED_COLOUR,
                              markersize=11, label=bilingual("已豁免的违规", f"waived violation ({len(wv)})", use_cjk)))
    cps = layers.checkpoints
    if len(cps):
        pts = cps.to_crs(crs)
        for v in CHECKPOINT_VERDICTS:
            colour, zh, en = VERDICT_STYLE[v]
            part = pts[(pts["verdict"] == v).to_numpy()]
            if len(part):
                part.plot(ax=ax, color=colour, edgecolor="#222222", markersize=55 * k * k, linewidth=0.8 * k, zorder=8)
            handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour, markeredgecolor="#222222",
                                  markersize=7, label=bilingual(zh, f"{en} ({len(part)})", use_cjk)))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    return handles


def _place_labels(ax: Axes, xy: np.ndarray, texts: list[str], fam: list[str], box: np.ndarray, k: float = 1.0) -> None:
    """Label points, each at the first of a few offsets whose box overlaps no other label or marker."""
    ax.apply_aspect()
    inside = (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])
    disp = ax.transData.transform(xy) if len(xy) else xy
    px_per_pt = ax.figure.dpi / 72.0
    size = 6.5 * k
    marker_r = 5.0 * k * px_per_pt
    placed: list[tuple[float, float, float, float]] = []
    offsets = [(5, 3), (5, -9), (-5, 3), (-5, -9), (0, 8), (0, -14), (9, -3), (-9, -3)]
    order = np.lexsort((disp[:, 0], -disp[:, 1])) if len(xy) else []
    for i in order:
        if not inside[i]:
            continue
        w = len(texts[i]) * size * 0.62 * px_per_pt
        h = size * 1.2 * px_per_pt
        best, best_cost = offsets[0], np.inf
        for dx, dy in [(a * k, b * k) for a, b in offsets]:
            x0 = disp[i, 0] + dx * px_per_pt - (w if dx < 0 else (w / 2 if dx == 0 else 0))
            y0 = disp[i, 1] + dy * px_per_pt
            rect = (x0, y0, x0 + w, y0 + h)
            cost = sum(max(0.0, min(rect[2], r[2]) - max(rect[0], r[0]))
                       * max(0.0, min(rect[3], r[3]) - max(rect[1], r[1])) for r in placed)
            near = np.abs(disp[:, 0] - np.clip(disp[:, 0], rect[0], rect[2])) ** 2 + np.abs(
                disp[:, 1] - np.clip(disp[:, 1], rect[1], rect[3])) ** 2 < marker_r ** 2
            cost += near.sum() * 50.0
            if cost < best_cost:
                best, best_cost = (dx, dy), cost
                best_rect = rect
            if cost == 0:
                break
        placed.append(best_rect)
        dx, dy = best
        ha = "right" if dx < 0 else ("center" if dx == 0 else "left")
        ax.annotate(texts[i], tuple(xy[i]), xytext=(dx, dy), textcoords="offset points", fontsize=size, ha=ha,
                    va="bottom", zorder=9, fontfamily=fam, annotation_clip=True,
                    bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.75})


def _set_view(ax: Axes, box: np.ndarray) -> None:
    """Show ``box``, grown in one direction to the axes' shape so that one metre is as long across as up."""
    pos = ax.get_position()
    fw, fh = ax.figure.get_size_inches()
    shape = (pos.width * fw) / (pos.height * fh)
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if w / h < shape:
        w = h * shape
    else:
        h = w / shape
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")


def _scale_bar(ax: Axes, fam: list[str], k: float = 1.0) -> None:
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    width = x_hi - x_lo
    target = width / 5
    step = 10 ** np.floor(np.log10(target))
    length = max(s for s in (step, 2 * step, 5 * step) if s <= target)
    x0 = x_hi - width * 0.04 - length
    y0 = y_lo + (y_hi - y_lo) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=3 * k, solid_capstyle="butt", zorder=10)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (y_hi - y_lo) * 0.012, label, ha="center", va="bottom", fontsize=7 * k,
            fontfamily=fam, zorder=10)


def _metric_box(extent: tuple[float, float, float, float], crs: Any) -> np.ndarray:
    return gpd.GeoSeries([shapely.box(*extent)], crs="EPSG:4326").to_crs(crs).total_bounds


def _cluster_box(xy: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Box around the densest group of checkpoints that would overlap at the overview scale, or None."""
    if len(xy) < 3:
        return None
    width = box[2] - box[0]
    reach = width * 0.035
    tree = shapely.STRtree(shapely.points(xy))
    a, b = tree.query(shapely.points(xy), predicate="dwithin", distance=reach)
    counts = np.bincount(a, minlength=len(xy))
    centre = int(np.argmax(counts))
    if counts[centre] < 3:
        return None
    members = xy[b[a == centre]]
    lo, hi = members.min(axis=0), members.max(axis=0)
    half = max((hi - lo).max() / 2 * 1.35, width * 0.025)
    mid = (lo + hi) / 2
    return np.array([mid[0] - half, mid[1] - half, mid[0] + half, mid[1] + half])


def png_map(result: AuditResult, out: str | os.PathLike[str], *, date: str | None = None,
            size: tuple[int, int] = (1600, 1200), dpi: int = 150, labels: bool = True,
            extent: tuple[float, float, float, float] | None = None, inset: bool = True) -> Path:
    """Write a static map of an audit (PNG; ``.svg`` and ``.pdf`` work too), same symbols as :func:`html_map`.

    Parameters
    ----------
    result
        What :func:`transportmon.audit` returned (or :func:`load_report` read back).
    out
        The image file to write.
    date
        Risk areas in effect on this date; default the as-of date.
    size
        Width and height in pixels (exact).
    dpi
        Resolution; text sizes are in points, so a higher dpi gives larger text relative to the map.
    labels
        Label checkpoints with their ids.
    extent
        (west, south, east, north) in degrees; default: checkpoints, over-cap trips, exempt border, jurisdiction.
    inset
        Where checkpoints crowd at the overview scale, add an enlarged inset of the densest group.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Chinese labels need a CJK font (Debian ``fonts-noto-cjk``); without one the map is labelled in English only.
    """
    import io
    import textwrap

    from matplotlib.patches import Rectangle

    from ..geo.evidence import utm_crs

    layers = map_layers(result, date=date)
    cjk = cjk_font()
    fam = font_families(cjk)
    use_cjk = cjk is not None
    ext = extent or layers.bounds()
    crs = result.roads.crs if result.roads is not None else utm_crs((ext[0] + ext[2]) / 2, (ext[1] + ext[3]) / 2)
    box = _metric_box(ext, crs)
    fig = new_figure(size, dpi)
    fw, fh = fig.get_size_inches()
    k = min(fw / (1600 / 150), fh / (1200 / 150), 1.6)  # text and symbols scale with the figure
    ax = fig.add_axes((0.01, 0.06, 0.70, 0.87))
    handles = _draw_layers(layers, ax, crs, cjk, k)
    _set_view(ax, box)
    xy = shapely.get_coordinates(layers.checkpoints.to_crs(crs).geometry.to_numpy()) if len(
        layers.checkpoints) else np.zeros((0, 2))
    texts = [drawable(t, cjk) for t in layers.checkpoints["subject_id"].astype(str)]
    zoom = _cluster_box(xy, box) if inset and extent is None else None
    if labels and len(xy):
        if zoom is not None:
            in_zoom = ((xy[:, 0] >= zoom[0]) & (xy[:, 0] <= zoom[2]) & (xy[:, 1] >= zoom[1]) & (xy[:, 1] <= zoom[3]))
            _place_labels(ax, xy[~in_zoom], [t for t, z in zip(texts, in_zoom) if not z], fam, box, k)
        else:
            _place_labels(ax, xy, texts, fam, box, k)
    _scale_bar(ax, fam, k)
    title = (bilingual("防疫检测点与客运核查", "checkpoint & coach audit", use_cjk)
             + f" — {'核查日期 ' if use_cjk else ''}as of {layers.as_of}"
             + (f"; {'风险地区 ' if use_cjk else ''}risk areas on {layers.date}" if layers.risk_areas is not None
                else ""))
    fig.text(0.01, 0.975, title, fontsize=10.5 * k, fontfamily=fam, va="center")
    if layers.policy and (use_cjk or not CJK_CHARS.search(layers.policy)):
        fig.text(0.01, 0.947, layers.policy, fontsize=7.5 * k, fontfamily=fam, va="center", color="#444444")
    legend_ax = fig.add_axes((0.72, 0.06, 0.27, 0.87))
    legend_ax.set_axis_off()
    legend_ax.legend(handles=handles, loc="upper left", frameon=False, prop={"family": fam, "size": 7 * k},
                     borderaxespad=0.0)
    if zoom is not None:
        ax.add_patch(Rectangle((zoom[0], zoom[1]), zoom[2] - zoom[0], zoom[3] - zoom[1], fill=False,
                               edgecolor="#222222", linewidth=1.0 * k, zorder=11))
        iax = fig.add_axes((0.73, 0.07, 0.26, 0.26 * size[0] / size[1]))
        _draw_layers(layers, iax, crs, cjk, k)
        _set_view(iax, zoom)
        for spine in iax.spines.values():
            spine.set_edgecolor("#222222")
        if labels:
            _place_labels(iax, xy, texts, fam, zoom, k)
        _scale_bar(iax, fam, k)
    foot_pt = 5.5 * k
    foot = drawable(" ".join(x for x in (" | ".join(layers.attribution), " ".join(layers.notes)) if x), cjk)
    if foot:
        fig.text(0.01, 0.045, "\n".join(textwrap.wrap(foot, width=int(fw * 72 / (foot_pt * 0.6)))),
                 fontsize=foot_pt, fontfamily=fam, va="top", color="#444444")
    target = Path(out)
    fmt = target.suffix.lower().lstrip(".") or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else None)
    return write_bytes(target, buf.getvalue())
