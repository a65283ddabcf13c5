"""Report → Excel workbook for the bureau's desk (DESIGN §10): opens in Excel, WPS and LibreOffice.

Sheets, named in the language of ``lang`` (``zh`` by default, ``en``):

- 摘要 / Summary: as-of date, policy, tool version, every input with its path, rows and SHA-256, counts by verdict
  and by severity, the rules that ran or could not, warnings, the remaining metadata and the data's attribution;
- 检测点 / Checkpoints, 班次 / Trips, 线路 / Routes (when the report has routes): one row per subject;
- 不可核查行 / Rejected rows: rejected rows of every other layer (risk areas, stop times, waivers …).

Each subject sheet has a frozen header row (and id column), an autofilter, print titles, verdict cells filled with
the maps' colours (:mod:`transportmon.palette`), flat columns to filter on (rule ids joined, the main finding's
message, lon/lat of points) and the findings in full as text. A sheet longer than Excel's 1,048,576 rows continues
on ``班次 (2)`` and so on.

The bytes are deterministic: rows in report order, every zip member dated 1980-01-01, as are the document's created
and modified properties, so the same report gives the same file.
"""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from ..palette import text_colour, verdict_label, verdict_style
from .columns import SEVERITY_WORDS, Findings, list_text, lon_lat, to_python
from .labels import HEADERS, LAYER_NAMES, SHEETS, TEXT, header

#: Rows of data per sheet: Excel's limit (1,048,576) less the header row.
MAX_ROWS = 1_048_575
#: Excel's limit on the text of one cell.
MAX_CELL_CHARS = 32_767
#: Zip member date: the earliest a zip can hold, so no run's clock reaches the file.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: Characters XML 1.0 cannot hold (openpyxl refuses them): shown as U+FFFD, never dropped silently.
_ILLEGAL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"

#: Subject kinds with a sheet of their own, in sheet order; any other subject goes to the rejected-rows sheet.
KINDS = ("checkpoint", "trip", "route")

_LEAD = ("subject_id", "name", "verdict_label", "verdict", "reason", "max_severity", "rule_ids", "message")
#: Columns of each sheet, in order; report columns beyond these (evidence added later) follow when they hold values.
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "checkpoint": _LEAD + ("lon", "lat", "road_id", "road_ref", "road_class", "distance_to_road_m",
                           "distance_to_exempt_border_m", "distance_to_crossing_m"),
    "trip": ("subject_id", "route_id", "service_date") + _LEAD[2:] + (
        "passengers", "seats", "occupancy", "cap", "max_passengers", "excess_passengers", "risk_level", "risk_stops",
        "scope"),
    "route": _LEAD + ("route_id", "risk_level", "risk_stops"),
    "rejected": ("layer", "subject_id", "source_row", "verdict_label", "verdict", "reason", "detail", "rule_ids",
                 "message", "lon", "lat"),
}
_TAIL = ("detail", "source_row", "findings_text", "policy")
#: Report columns never shown as such (their flat forms are); ``max_severity`` is worded.
_HIDDEN = {"subject", "findings", "geometry"}

_NUMBER_FORMATS = {"occupancy": "0.0%", "cap": "0%", "lon": "0.0000000", "lat": "0.0000000",
                   "distance_to_road_m": "#,##0.0", "distance_to_exempt_border_m": "#,##0.0",
                   "distance_to_crossing_m": "#,##0.0"}
_WRAPPED = {"message", "findings_text"}
_WIDTHS = {"message": 48, "findings_text": 72, "detail": 40, "policy": 22, "name": 28, "rule_ids": 14,
           "risk_stops": 20}


@dataclass
class _Styles:
    """Cell style templates (openpyxl style arrays), made once per workbook and copied into each styled cell."""

    header: Any
    verdict: dict[str, Any]
    column: dict[str, Any]


def write_xlsx(report: pd.DataFrame, metadata: dict[str, Any], path: str, lang: str = "zh") -> None:
    """Write the report as an xlsx workbook at ``path`` (a temporary file: the caller renames it into place)."""
    if lang not in SHEETS:
        raise ValueError(f"lang {lang!r}: use zh or en")
    wb = Workbook(write_only=True)
    from .. import __version__

    wb.properties.creator = f"transportmon {__version__}"
    # no clock in the file (the same report gives the same bytes): the zip's own earliest date, plainly not a real one
    wb.properties.created = wb.properties.modified = datetime.datetime(*ZIP_DATE)
    wb.properties.title = TEXT[lang]["title"]
    styles = _make_styles(wb, report)
    _summary_sheet(wb, metadata, lang, styles)
    subject = report["subject"].astype(str).to_numpy() if len(report) else np.array([], dtype=str)
    present = set(np.unique(subject)) if len(subject) else set()
    for kind in (*KINDS, "rejected"):
        if kind == "route" and "route" not in present:
            continue  # routes are a feature of some reports only; the other sheets are always there
        mask = ~np.isin(subject, KINDS) if kind == "rejected" else subject == kind
        part = report[mask]
        for k, start in enumerate(range(0, max(len(part), 1), MAX_ROWS)):
            title = SHEETS[lang][kind] + (f" ({k + 1})" if k else "")
            _subject_sheet(wb, part.iloc[start:start + MAX_ROWS], kind, title, lang, styles)
    _save(wb, path)


def _make_styles(wb: Workbook, report: pd.DataFrame) -> _Styles:
    probe = wb.create_sheet("probe")  # a cell needs a sheet to own its style; the sheet is removed below

    def style(**kw: Any) -> Any:
        cell = Cell(probe, row=1, column=1)
        for k, v in kw.items():
            setattr(cell, k, v)
        return cell._style

    verdicts = set(report["verdict"].dropna().astype(str)) if len(report) else set()
    verdict = {}
    for v in sorted(verdicts | {"keep", "remove", "review", "inactive", "rejected", "over-cap", "compliant",
                                "not-applicable"}):
        colour = verdict_style(v)[0].lstrip("#").upper()
        verdict[v] = style(fill=PatternFill("solid", fgColor="FF" + colour),
                           font=Font(color="FF" + text_colour(colour).lstrip("#").upper(), bold=True))
    column = {c: style(number_format=f) for c, f in _NUMBER_FORMATS.items()}
    column.update({c: style(alignment=Alignment(wrap_text=True, vertical="top")) for c in _WRAPPED})
    head = style(font=Font(bold=True), fill=PatternFill("solid", fgColor="FFD9D9D9"),
                 alignment=Alignment(wrap_text=True, vertical="center"))
    wb.remove(probe)
    return _Styles(header=head, verdict=verdict, column=column)


def _text_values(arr: pa.Array) -> list[Any]:
    """Text for cells: characters XML cannot hold → U+FFFD, longer than a cell can hold → cut with a mark."""
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if pc.any(pc.match_substring_regex(arr, _ILLEGAL)).as_py():
        arr = pc.replace_substring_regex(arr, _ILLEGAL, "\ufffd")
    long = pc.greater(pc.utf8_length(arr), MAX_CELL_CHARS)
    if pc.any(long).as_py():
        cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, MAX_CELL_CHARS - 1), "…", "")
        arr = pc.if_else(long, cut, arr)
    return arr.to_pylist()


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or isinstance(values.dtype, pd.CategoricalDtype)


def _columns_of(part: pd.DataFrame, kind: str, lang: str) -> tuple[list[str], dict[str, list[Any]]]:
    """The sheet's column keys and each column's cell values, computed column-wise."""
    n = len(part)
    findings = Findings(part["findings"]) if "findings" in part.columns else None
    geometry = part.geometry.to_numpy() if hasattr(part, "geometry") and "geometry" in part.columns else np.full(
        n, None)
    lon, lat = lon_lat(geometry)
    verdicts = part["verdict"].astype(str).to_numpy() if "verdict" in part.columns else np.full(n, "")
    words = SEVERITY_WORDS[lang]
    derived: dict[str, Any] = {
        "layer": [LAYER_NAMES[lang].get(s, s) for s in to_python(part["subject"])] if "subject" in part else [],
        "verdict_label": [verdict_label(v, lang) for v in verdicts.tolist()],
        "lon": lon, "lat": lat,
        "rule_ids": findings.rule_ids() if findings else pa.nulls(n, pa.string()),
        "message": findings.main_message(lang) if findings else pa.nulls(n, pa.string()),
        "findings_text": findings.text(lang) if findings else pa.nulls(n, pa.string()),
    }
    if "max_severity" in part.columns:
        derived["max_severity"] = [None if s is None else words.get(s, s) for s in to_python(part["max_severity"])]
    keys = list(SHEET_COLUMNS[kind])
    shown = set(keys) | set(_TAIL) | _HIDDEN
    extra = [c for c in part.columns if c not in shown and c not in derived and part[c].notna().any()]
    keys += extra + list(_TAIL)
    values: dict[str, list[Any]] = {}
    for key in keys:
        if key in derived:
            v = derived[key]
            values[key] = _text_values(v) if isinstance(v, pa.Array) else to_python(v)
        elif key not in part.columns:
            values[key] = [None] * n
        elif isinstance(part[key].dtype, pd.ArrowDtype) and pa.types.is_list(part[key].dtype.pyarrow_dtype):
            values[key] = _text_values(list_text(part[key]))
        elif part[key].dtype == object:  # values of a report read back (lists, dicts, text): each as it is
            values[key] = [_object_value(v) for v in to_python(part[key])]
        elif _is_text(part[key]):
            values[key] = _text_values(pa.array(part[key].astype(str).where(part[key].notna(), None),
                                                pa.string(), from_pandas=True))
        else:
            values[key] = to_python(part[key])
    return keys, values


def _object_value(value: Any) -> Any:
    """A cell value from a Python object: numbers and text as they are, lists joined, anything else as JSON."""
    if value is None or isinstance(value, (bool, int, float)):
        return None if isinstance(value, float) and not np.isfinite(value) else value
    if isinstance(value, str):
        return _text_values(pa.array([value]))[0]
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(x, str) for x in value):
        return _text_values(pa.array([", ".join(value)]))[0]
    return _text_values(pa.array([json.dumps(value, ensure_ascii=False, default=str)]))[0]


def _subject_sheet(wb: Workbook, part: pd.DataFrame, kind: str, title: str, lang: str, styles: _Styles) -> None:
    ws = wb.create_sheet(title)
    keys, values = _columns_of(part, kind, lang)
    heads = [header(k, lang) for k in keys]
    for i, (key, head) in enumerate(zip(keys, heads), start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(key, max(10, min(30, _display_width(head) + 2)))
    ws.freeze_panes = "B2"  # the header row and the first column (layer or id) stay in view
    ws.print_title_rows = "1:1"
    ws.append([Cell(ws, row=1, column=1, value=h, style_array=styles.header) for h in heads])
    verdict_cols = {keys.index(k) for k in ("verdict_label", "verdict") if k in keys}
    templates = {i: styles.column[k] for i, k in enumerate(keys) if k in styles.column}
    # Text starting with "=" would be taken for a formula: such cells are written as text explicitly.
    formula_like = {i for i, k in enumerate(keys)
                    if any(isinstance(v, str) and v.startswith("=") for v in values[k])}
    verdicts = part["verdict"].astype(str).tolist() if "verdict" in part.columns else [""] * len(part)
    columns = [values[k] for k in keys]
    for verdict, row in zip(verdicts, zip(*columns)):
        cells: list[Any] = list(row)
        for i in verdict_cols:
            cells[i] = Cell(ws, row=1, column=1, value=row[i], style_array=styles.verdict.get(verdict))
        for i, tmpl in templates.items():
            if row[i] is not None:
                cells[i] = Cell(ws, row=1, column=1, value=row[i], style_array=tmpl)
        for i in formula_like:
            if isinstance(row[i], str) and row[i].startswith("="):
                cell = Cell(ws, row=1, column=1, value=row[i])
                cell.data_type = "s"
                cells[i] = cell
        ws.append(cells)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{len(part) + 1}"


def _display_width(text: str) -> int:
    """Width in Excel's character units: a CJK character takes two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _summary_sheet(wb: Workbook, md: dict[str, Any], lang: str, styles: _Styles) -> None:
    t = TEXT[lang]
    ws = wb.create_sheet(SHEETS[lang]["summary"])
    for col, width in zip("ABCDEF", (26, 46, 12, 68, 14, 40)):
        ws.column_dimensions[col].width = width
    bold = Font(bold=True)

    def head(*texts: str) -> list[Any]:
        return [Cell(ws, row=1, column=1, value=x, style_array=styles.header) for x in texts]

    def title(text: str) -> list[Any]:
        cell = Cell(ws, row=1, column=1, value=text)
        cell.font = bold
        return [cell]

    big = Cell(ws, row=1, column=1, value=t["title"])
    big.font = Font(bold=True, size=14)
    ws.append([big])
    source = {"manifest.toml": t["from_manifest"], "today": t["today"]}.get(md.get("as_of_source", ""), "")
    for label, value in ((t["as_of"], f"{md.get('as_of', '')}{source}"), (t["policy"], md.get("policy")),
                         (t["tool"], f"{md.get('tool', 'transportmon')} {md.get('version', '')}".strip()),
                         (t["sample"], md.get("sample"))):
        if value:
            ws.append([label, _safe(value)])
    ws.append([])
    ws.append(title(t["inputs"]))
    ws.append(head(t["layer"], t["path"], t["rows"], "SHA-256", t["format"], t["notes"]))
    for layer, info in (md.get("inputs") or {}).items():
        info = info or {}
        notes = "; ".join(f"{k}: {info[k]}" for k in sorted(info) if k not in ("path", "rows", "sha256", "format")
                          and info[k] not in (None, ""))
        ws.append([_safe(LAYER_NAMES[lang].get(layer, layer)), _safe(info.get("path") or ""), info.get("rows"),
                   info.get("sha256"), info.get("format"), _safe(notes)])
    ws.append([])
    ws.append(title(t["by_verdict"]))
    ws.append(head(t["subject"], t["verdict"], t["verdict_code"], t["count"]))
    for subject, verdicts in (md.get("counts") or {}).items():
        for verdict, n in verdicts.items():
            label = Cell(ws, row=1, column=1, value=verdict_label(verdict, lang), style_array=styles.verdict.get(verdict))
            ws.append([_safe(LAYER_NAMES[lang].get(subject, subject)), label, verdict, n])
    ws.append([])
    ws.append(title(t["by_severity"]))
    ws.append(head(t["severity"], t["subjects"]))
    for severity, n in (md.get("findings") or {}).items():
        ws.append([SEVERITY_WORDS[lang].get(severity, severity), n])
    ws.append([])
    ws.append(title(t["rules"]))
    ws.append([t["rules_run"], ", ".join(md.get("rules_run") or [])])
    for rule, why in (md.get("rules_skipped") or {}).items():
        ws.append([t["rules_skipped"], _safe(f"{rule}: {why}")])
    ws.append([])
    ws.append(title(t["warnings"]))
    for w in md.get("warnings") or [t["none"]]:
        ws.append([_safe(w)])
    shown = {"tool", "version", "as_of", "as_of_source", "policy", "sample", "inputs", "counts", "findings",
             "rules_run", "rules_skipped", "warnings", "attribution"}
    rest = [k for k in md if k not in shown]
    if rest:
        ws.append([])
        ws.append(title(t["other"]))
        for k in rest:
            v = md[k]
            ws.append([k, _safe(v if isinstance(v, (str, int, float)) else json.dumps(v, ensure_ascii=False,
                                                                                       default=str))])
    if md.get("attribution"):
        ws.append([])
        ws.append(title(t["attribution"]))
        for line in md["attribution"]:
            ws.append([_safe(line)])


def _safe(value: Any) -> Any:
    """One summary value for a cell: text cleaned as in the sheets, never a formula."""
    if not isinstance(value, str):
        return value
    text = _text_values(pa.array([value]))[0]
    if text.startswith("="):
        cell = Cell(None, row=1, column=1, value=text)
        cell.data_type = "s"
        return cell
    return text


class _FixedDateZip(ZipFile):
    """A zip whose members all carry :data:`ZIP_DATE` and the same permissions: no clock in the bytes."""

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None, compresslevel: Any = None) -> None:
        super().writestr(self._info(zinfo_or_arcname), data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        info = self._info(arcname or filename)
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=True) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def _info(self, name: Any) -> ZipInfo:
        if isinstance(name, ZipInfo):
            name = name.filename
        info = ZipInfo(str(name), date_time=ZIP_DATE)
        info.compress_type = ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info


def _save(wb: Workbook, path: str) -> None:
    # openpyxl's own save stamps the modification time; its writer, given a zip, does not
    with _FixedDateZip(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()


def sheet_names(lang: str, kinds: Iterable[str]) -> list[str]:
    """The sheet names a workbook of these subject kinds has, in order (for callers and tests)."""
    kinds = set(kinds)
    names = [SHEETS[lang]["summary"], SHEETS[lang]["checkpoint"], SHEETS[lang]["trip"]]
    if "route" in kinds:
        names.append(SHEETS[lang]["route"])
    return [*names, SHEETS[lang]["rejected"]]


__all__ = ["HEADERS", "KINDS", "MAX_ROWS", "SHEET_COLUMNS", "sheet_names", "write_xlsx"]
