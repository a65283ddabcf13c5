"""Report → GeoPackage for QGIS (DESIGN §10): a layer per subject kind and geometry type, styled by verdict.

A GeoJSON report mixes points, lines and rows without geometry; QGIS splits such a file into sublayers and draws
them all in one colour. The GeoPackage has them apart, each written by pyogrio (WGS-84):

==========================  ===========================================================================
layer                       rows
==========================  ===========================================================================
``checkpoints``             checkpoints (points; always written, empty when there are none)
``trips``                   coach trips (lines through their stops; always written)
``trips_points``            one-stop trips, if any (a point)
``routes``                  routes, when the report has them (lines)
``rejected``                rejected rows of the other layers without geometry (an attribute table)
``rejected_points`` …       rejected rows with a geometry, one layer per geometry type
``<kind>_no_geometry``      rows of a kind whose geometry is missing (a checkpoint without coordinates)
==========================  ===========================================================================

A feature's id (``fid``) is its row in the report, counted from 1. Fields are the report's columns that hold a value
in the layer, ``findings`` and ``risk_stops`` as JSON text, then
``rule_ids`` and the main finding's ``message_zh``/``message_en`` (:mod:`.columns`). A ``layer_styles`` table, the
QGIS convention, holds for each spatial layer a categorized renderer on ``verdict`` in the maps' colours
(:mod:`transportmon.palette`) as QML (read by QGIS, which opens the layer styled) and as SLD; the legend labels are
in the language of ``lang``. The table is added with sqlite3 once pyogrio has written the layers, and registered in
``gpkg_contents`` as an attribute table, as QGIS does when it saves a style.

Dates GDAL would take from the clock (``gpkg_contents.last_change``) and the styles' ``update_time`` are a constant,
so the same report gives the same bytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from ..palette import (
    rgb,
    verdict_label,
    verdict_style,
)
from ..vocab import CHECKPOINT_VERDICTS, ROUTE_VERDICTS, TRIP_VERDICTS
from .columns import Findings
from .encode import clean_json

#: Subject → layer name; any other subject (a rejected row of another layer) goes to ``rejected``.
KIND_LAYERS = {"checkpoint": "checkpoints", "trip": "trips", "route": "routes"}
#: The geometry family each kind's plain layer name holds; rows of another family get a suffixed layer.
PRIMARY_FAMILY = {"checkpoints": "point", "trips": "line", "routes": "line", "rejected": "none"}
#: Layer name suffix and GDAL geometry type of each family.
FAMILIES = {"point": ("points", "Point"), "line": ("lines", "LineString"), "polygon": ("polygons", "Polygon"),
            "collection": ("collections", "GeometryCollection"), "none": ("no_geometry", None)}
#: Verdicts each layer's legend lists (in this order) before any other verdict present in it.
LEGEND_VERDICTS = {"checkpoints": CHECKPOINT_VERDICTS, "trips": TRIP_VERDICTS, "routes": ROUTE_VERDICTS,
                   "rejected": ("rejected",)}
#: Columns every layer keeps, empty or not.
CORE_COLUMNS = ("subject", "subject_id", "verdict", "reason", "findings", "policy", "max_severity")
#: The constant date written where GDAL or QGIS would write the time of the run.
FIXED_TIME = "2000-01-01T00:00:00.000Z"
#: GeoPackage version written: 1.2 has attribute tables, and GDAL before 3.8 (QGIS 3.22/3.28 LTR on many desks) warns
#: that the 1.4 it would write by default "may only be partially supported".
GPKG_VERSION = "1.2"
#: Name of the QGIS style table and the SQL QGIS itself creates it with (through OGR, ``FID=id``).
STYLE_TABLE = "layer_styles"
_STYLE_DDL = f"""CREATE TABLE {STYLE_TABLE} (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256),
  styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30),
  ui TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""

#: Symbol sizes, in millimetres as QGIS measures them.
MARKER_SIZE_MM = 3.2
LINE_WIDTH_MM = 0.8
OUTLINE = "#222222"
#: Opacity of polygon fills (0–255), so that what lies beneath stays visible.
FILL_ALPHA = 110


def _family(geoms: np.ndarray) -> np.ndarray:
    type_id = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms) | (type_id < 0)
    names = np.array(["point", "line", "line", "polygon", "point", "line", "polygon", "collection"], dtype=object)
    out = np.where(empty, "none", names[np.clip(type_id, 0, 7)])
    return out.astype(object)


def report_layers(report: gpd.GeoDataFrame) -> list[tuple[str, str, gpd.GeoDataFrame]]:
    """``(layer name, geometry family, rows)`` of the GeoPackage, checkpoints and trips always, in a fixed order."""
    subject = report["subject"].astype(str).to_numpy() if len(report) else np.array([], dtype=object)
    kind = np.array([KIND_LAYERS.get(s, "rejected") for s in subject], dtype=object) if len(subject) else subject
    family = _family(report.geometry.to_numpy()) if len(report) else np.array([], dtype=object)
    out = []
    for k in ("checkpoints", "trips", "routes", "rejected"):
        for fam in ("point", "line", "polygon", "collection", "none"):
            mask = (kind == k) & (family == fam)
            primary = fam == PRIMARY_FAMILY[k]
            if not mask.any() and not (primary and k in ("checkpoints", "trips")):
                continue
            name = k if primary else f"{k}_{FAMILIES[fam][0]}"
            out.append((name, fam, report[mask]))
    return out


def layer_frame(rows: gpd.GeoDataFrame, family: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """The fields of one layer: columns with a value here (and the core ones), nested ones as JSON text, then
    ``rule_ids``, ``message_zh``, ``message_en``; a frame without geometry for the ``none`` family."""
    from .encode import flat_columns

    flat = flat_columns(rows) if len(rows) else rows.copy()
    if not len(rows):
        flat["findings"] = pd.Series([], dtype="str")
        flat["risk_stops"] = pd.Series([], dtype="str")
    geom_name = rows.geometry.name
    keep = [c for c in flat.columns if c != geom_name and (c in CORE_COLUMNS or flat[c].notna().any())]
    out = pd.DataFrame({c: flat[c] for c in keep})
    findings = Findings(rows["findings"])
    out["rule_ids"] = pd.array(findings.rule_ids(), dtype="str") if len(rows) else pd.Series([], dtype="str")
    for lang in ("zh", "en"):
        msg = findings.main_message(lang)
        out[f"message_{lang}"] = pd.array(msg, dtype="str") if len(rows) else pd.Series([], dtype="str")
    for c in out.columns:  # GDAL takes text from Arrow-backed columns as objects; None is its null
        if pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = pd.Series(pa.array(out[c].array, pa.string(), from_pandas=True).to_pylist(), index=out.index,
                               dtype=object)
    if family == "none":
        return out.reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry=rows.geometry.to_numpy(), crs="EPSG:4326").reset_index(drop=True)


@contextmanager
def _fixed_gdal_date():
    """GDAL's "now" set to :data:`FIXED_TIME` while the layers are written, then restored."""
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIME})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


#: Layer metadata item of the first layer holding the report's metadata as JSON (``transportmon diff``, ``map`` and
#: ``watch`` read it back: :func:`transportmon.io.report_forms.read_gpkg_report`).
METADATA_KEY = "TRANSPORTMON"


def write_gpkg(report: gpd.GeoDataFrame, metadata: dict[str, Any], path: str, lang: str = "zh") -> None:
    """Write the GeoPackage at ``path`` (a temporary file: the caller renames it into place), then its styles."""
    # GDAL wants the .gpkg extension (it warns on any other): the layers go to a sibling named so, which replaces
    # ``path`` once complete
    work = path + ".gpkg"
    layers = report_layers(report.reset_index(drop=True))
    from .._version import __version__

    try:
        with _fixed_gdal_date():
            for at, (name, family, rows) in enumerate(layers):
                meta = {"DESCRIPTION": f"transportmon {__version__}: {name}, policy {metadata.get('policy', '')}, "
                                       f"as of {metadata.get('as_of', '')}"}
                if not at:  # the report's metadata, whole, with the first layer (GDAL keeps it in gpkg_metadata)
                    meta[METADATA_KEY] = json.dumps(clean_json(metadata), ensure_ascii=False)
                frame = layer_frame(rows, family)
                # Each feature's id is its row in the report (from 1): the layers read back in report order.
                frame.insert(0, "fid", rows.index.to_numpy(dtype=np.int64) + 1)
                pyogrio.write_dataframe(frame, work, layer=name, driver="GPKG",
                                        append=os.path.exists(work), geometry_type=FAMILIES[family][1],
                                        dataset_options=None if os.path.exists(work) else {"VERSION": GPKG_VERSION},
                                        promote_to_multi=_needs_multi(rows), layer_metadata=meta)
        add_styles(work, [(name, family, rows) for name, family, rows in layers if family != "none"], lang)
        os.replace(work, path)
    except BaseException:
        if os.path.exists(work):
            os.unlink(work)
        raise


def _needs_multi(rows: gpd.GeoDataFrame) -> bool:
    """A layer mixing single and multi geometries of one family is written as multi (one type per layer)."""
    if not len(rows):
        return False
    type_id = shapely.get_type_id(rows.geometry.to_numpy())
    return bool(((type_id >= 4) & (type_id <= 6)).any() and ((type_id >= 0) & (type_id <= 3)).any())


def add_styles(path: str, layers: list[tuple[str, str, gpd.GeoDataFrame]], lang: str) -> None:
    """Add the ``layer_styles`` table: one default style per spatial layer, a categorized renderer on ``verdict``."""
    con = sqlite3.connect(path)
    try:
        with con:
            geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
            con.execute(_STYLE_DDL)
            con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                        "VALUES (?, 'attributes', ?, ?, ?)", (STYLE_TABLE, STYLE_TABLE, "QGIS layer styles",
                                                              FIXED_TIME))
            for name, family, rows in layers:
                verdicts = legend_verdicts(name, rows)
                con.execute(
                    f"INSERT INTO {STYLE_TABLE} (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                    "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                    "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL, ?)",
                    (name, geom_cols.get(name, "geom"), name, qml(family, verdicts, lang),
                     sld(name, family, verdicts, lang), "transportmon: colour by verdict, as on the map", FIXED_TIME))
    finally:
        con.close()


def legend_verdicts(layer: str, rows: pd.DataFrame) -> list[str]:
    """The verdicts a layer's legend lists: those of its kind, then any other present in it (sorted)."""
    base = LEGEND_VERDICTS.get(layer.split("_")[0], ())
    present = sorted(set(rows["verdict"].dropna().astype(str)) - set(base)) if len(rows) else []
    return [*base, *present]


def _qgis_colour(colour: str, alpha: int = 255) -> str:
    return "{},{},{},{}".format(*rgb(colour), alpha)


def _symbol_layer(family: str, colour: str) -> tuple[str, dict[str, str]]:
    """QGIS symbol type, symbol layer class and its properties for one verdict colour."""
    if family == "point":
        return "SimpleMarker", {"name": "circle", "color": _qgis_colour(colour), "outline_color": _qgis_colour(OUTLINE),
                                "outline_style": "solid", "outline_width": "0.3", "outline_width_unit": "MM",
                                "size": str(MARKER_SIZE_MM), "size_unit": "MM"}
    if family == "line":
        return "SimpleLine", {"line_color": _qgis_colour(colour), "line_style": "solid",
                              "line_width": str(LINE_WIDTH_MM), "line_width_unit": "MM", "capstyle": "round",
                              "joinstyle": "round"}
    return "SimpleFill", {"color": _qgis_colour(colour, FILL_ALPHA), "style": "solid",
                          "outline_color": _qgis_colour(colour), "outline_style": "solid", "outline_width": "0.4",
                          "outline_width_unit": "MM"}


_SYMBOL_TYPES = {"point": "marker", "line": "line", "polygon": "fill", "collection": "marker"}
_GEOMETRY_TYPES = {"point": 0, "line": 1, "polygon": 2, "collection": 0}


def _symbol(name: str, family: str, colour: str) -> str:
    cls, props = _symbol_layer(family, colour)
    # Both property forms: <Option> (QGIS ≥ 3.22 writes it) and <prop> (read by every QGIS 3)
    options = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>' for k, v in props.items())
    legacy = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (f'<symbol type="{_SYMBOL_TYPES[family]}" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
            f'force_rhr="0"><layer class="{cls}" enabled="1" locked="0" pass="0">'
            f'<Option type="Map">{options}</Option>{legacy}</layer></symbol>')


def qml(family: str, verdicts: list[str], lang: str) -> str:
    """A QGIS style (QML) colouring by ``verdict``: one category per verdict, then one for any other value."""
    categories, symbols = [], []
    for i, v in enumerate(verdicts):
        colour = verdict_style(v)[0]
        label = verdict_label(v, lang) + (f" ({v})" if lang == "zh" else "")
        categories.append(f'<category type="string" render="true" symbol="{i}" value={quoteattr(v)} '
                          f'label={quoteattr(label)}/>')
        symbols.append(_symbol(str(i), family, colour))
    other = len(verdicts)
    categories.append(f'<category type="string" render="true" symbol="{other}" value="" '
                      f'label={quoteattr("其他" if lang == "zh" else "other")}/>')
    symbols.append(_symbol(str(other), family, verdict_style("")[0]))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28.0-Firenze" styleCategories="Symbology">\n'
            ' <renderer-v2 type="categorizedSymbol" attr="verdict" forceraster="0" symbollevels="0" '
            'enableorderby="0" referencescale="-1">\n'
            "  <categories>\n   " + "\n   ".join(categories) + "\n  </categories>\n"
            "  <symbols>\n   " + "\n   ".join(symbols) + "\n  </symbols>\n"
            "  <source-symbol>" + _symbol("0", family, verdict_style("")[0]) + "</source-symbol>\n"
            " </renderer-v2>\n"
            f" <layerGeometryType>{_GEOMETRY_TYPES[family]}</layerGeometryType>\n"
            "</qgis>\n")


def sld(layer: str, family: str, verdicts: list[str], lang: str) -> str:
    """The same colours as an OGC SLD 1.1 (for GeoServer and other SLD readers): one rule per verdict."""
    rules = []
    for v in verdicts:
        colour = verdict_style(v)[0]
        if family == "point":
            sym = (f"<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName><se:Fill>"
                   f'<se:SvgParameter name="fill">{colour}</se:SvgParameter></se:Fill><se:Stroke>'
                   f'<se:SvgParameter name="stroke">{OUTLINE}</se:SvgParameter></se:Stroke></se:Mark>'
                   "<se:Size>11</se:Size></se:Graphic></se:PointSymbolizer>")
        elif family == "line":
            sym = (f'<se:LineSymbolizer><se:Stroke><se:SvgParameter name="stroke">{colour}</se:SvgParameter>'
                   '<se:SvgParameter name="stroke-width">3</se:SvgParameter></se:Stroke></se:LineSymbolizer>')
        else:
            sym = (f'<se:PolygonSymbolizer><se:Fill><se:SvgParameter name="fill">{colour}</se:SvgParameter>'
                   f'<se:SvgParameter name="fill-opacity">{FILL_ALPHA / 255:.2f}</se:SvgParameter></se:Fill>'
                   f'<se:Stroke><se:SvgParameter name="stroke">{colour}</se:SvgParameter></se:Stroke>'
                   "</se:PolygonSymbolizer>")
        rules.append(f"<se:Rule><se:Name>{escape(v)}</se:Name><se:Description><se:Title>"
                     f"{escape(verdict_label(v, lang))}</se:Title></se:Description><ogc:Filter>"
                     "<ogc:PropertyIsEqualTo><ogc:PropertyName>verdict</ogc:PropertyName>"
                     f"<ogc:Literal>{escape(v)}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>{sym}</se:Rule>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<StyledLayerDescriptor version="1.1.0" '
            'xmlns="http://www.opengis.net/sld" xmlns:se="http://www.opengis.net/se" '
            'xmlns:ogc="http://www.opengis.net/ogc" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/'
            'StyledLayerDescriptor.xsd"><NamedLayer>'
            f"<se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{escape(layer)}</se:Name><se:FeatureTypeStyle>"
            + "".join(rules) + "</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n")


__all__ = ["KIND_LAYERS", "METADATA_KEY", "STYLE_TABLE", "layer_frame", "qml", "report_layers", "sld", "write_gpkg"]
