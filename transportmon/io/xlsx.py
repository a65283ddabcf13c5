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

The summary and the header rows are written by openpyxl; the data rows are SpreadsheetML text built column-wise
with Arrow string kernels (as the GeoJSON writer builds its features) and put into each sheet as the workbook is
zipped, which writes 100,000 trips in seconds where a Python cell object per value took more than a minute.

The bytes are deterministic: rows in report order, every zip member dated 1980-01-01, as are the document's created
and modified properties, so the same report gives the same file.
"""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

import geopandas as gpd
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
from .encode import BATCH_ROWS, json_values, text_of
from .labels import LAYER_NAMES, SHEETS, TEXT, header

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
                           "distance_to_exempt_border_m", "distance_to_crossing_m", "overdue_days"),
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
           "risk_stops": 20, "lon": 13, "lat": 13, "reason": 20, "road_id": 20, "subject_id": 12}
#: Height of one line of text in a row, in points (Calibri 11), and the most lines a row is made tall for (the rest
#: of a long text is a click away).
LINE_POINTS = 15
MAX_LINES = 8


@dataclass
class _Styles:
    """Cell styles, made once per workbook: openpyxl style arrays for the cells openpyxl writes (header, summary)
    and the workbook's style ids (``s`` in the XML) for the data rows written as text."""

    header: Any
    verdict: dict[str, Any]
    verdict_ids: dict[str, int]
    column_ids: dict[str, int]


def write_xlsx(report: pd.DataFrame, metadata: dict[str, Any], path: str, lang: str = "zh") -> None:
    """Write the report as an xlsx workbook at ``path`` (a temporary file: the caller renames it into place)."""
    if lang not in SHEETS:
        raise ValueError(f"lang {lang!r}: use zh or en")
    wb = Workbook(write_only=True)
    from .._version import __version__

    wb.properties.creator = f"transportmon {__version__}"
    # no clock in the file (the same report gives the same bytes): the zip's own earliest date, plainly not a real one
    wb.properties.created = wb.properties.modified = datetime.datetime(*ZIP_DATE)
    wb.properties.title = TEXT[lang]["title"]
    styles = _make_styles(wb, report)
    _summary_sheet(wb, metadata, lang, styles)
    rows: dict[str, Iterator[str]] = {}  # zip member of a subject sheet → its data rows as XML
    subject = report["subject"].astype(str).to_numpy() if len(report) else np.array([], dtype=str)
    present = set(np.unique(subject)) if len(subject) else set()
    for kind in (*KINDS, "rejected"):
        if kind == "route" and "route" not in present:
            continue  # routes are a feature of some reports only; the other sheets are always there
        mask = ~np.isin(subject, KINDS) if kind == "rejected" else subject == kind
        part = report[mask]
        for k, start in enumerate(range(0, max(len(part), 1), MAX_ROWS)):
            title = SHEETS[lang][kind] + (f" ({k + 1})" if k else "")
            _subject_sheet(wb, part.iloc[start:start + MAX_ROWS], kind, title, lang, styles, rows)
    _save(wb, path, rows)


def _make_styles(wb: Workbook, report: pd.DataFrame) -> _Styles:
    probe = wb.create_sheet("probe")  # a cell needs a sheet to own its style; the sheet is removed below

    def style(**kw: Any) -> Any:
        cell = Cell(probe, row=1, column=1)
        for k, v in kw.items():
            setattr(cell, k, v)
        return cell._style

    def style_id(array: Any) -> int:
        return Cell(probe, row=1, column=1, style_array=array).style_id

    verdicts = set(report["verdict"].dropna().astype(str)) if len(report) else set()
    top = Alignment(vertical="top")
    verdict = {}
    for v in sorted(verdicts | {"keep", "remove", "review", "inactive", "rejected", "over-cap", "compliant",
                                "not-applicable"}):
        colour = verdict_style(v)[0].lstrip("#").upper()
        verdict[v] = style(fill=PatternFill("solid", fgColor="FF" + colour), alignment=top,
                           font=Font(color="FF" + text_colour(colour).lstrip("#").upper(), bold=True))
    # Every data cell is aligned to the top, so that a row made tall by wrapped text reads as one line
    column = {"": style(alignment=top)}
    column.update({c: style(number_format=f, alignment=top) for c, f in _NUMBER_FORMATS.items()})
    column.update({c: style(alignment=Alignment(wrap_text=True, vertical="top")) for c in _WRAPPED})
    head = style(font=Font(bold=True), fill=PatternFill("solid", fgColor="FFD9D9D9"),
                 alignment=Alignment(wrap_text=True, vertical="center"))
    styles = _Styles(header=head, verdict=verdict, verdict_ids={v: style_id(a) for v, a in verdict.items()},
                     column_ids={c: style_id(a) for c, a in column.items()})
    wb.remove(probe)
    return styles


def clean_text(arr: pa.Array) -> pa.Array:
    """Text for cells: characters XML cannot hold → U+FFFD, longer than a cell can hold → cut with a mark."""
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    if pc.any(pc.match_substring_regex(arr, _ILLEGAL)).as_py():
        arr = pc.replace_substring_regex(arr, _ILLEGAL, "\ufffd")
    long = pc.greater(pc.utf8_length(arr), MAX_CELL_CHARS)
    if pc.any(long).as_py():
        cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, MAX_CELL_CHARS - 1), "…", "")
        arr = pc.if_else(long, cut, arr)
    return arr


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or isinstance(values.dtype, pd.CategoricalDtype)


def _text(values: Any) -> pa.Array:
    """Python or pandas values as an Arrow string array (nulls kept)."""
    if isinstance(values, pa.Array):
        return clean_text(values)
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    return clean_text(pa.array(series.astype(object).where(series.notna(), None).to_numpy(dtype=object), pa.string()))


def _object_values(values: pd.Series) -> pa.Array | pd.Series:
    """A column of Python objects (a report read back): numbers stay numbers when all are, lists of text are
    joined, anything else becomes JSON text."""
    items = to_python(values)
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in items):
        return pd.Series(items, dtype="float64")

    def one(v: Any) -> str | None:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, (list, tuple, np.ndarray)) and all(isinstance(x, str) for x in v):
            return ", ".join(v)
        return json.dumps(v, ensure_ascii=False, default=str)

    return _text([one(v) for v in items])


def _columns_of(part: pd.DataFrame, kind: str, lang: str) -> tuple[list[str], dict[str, pa.Array | pd.Series]]:
    """The sheet's column keys and each column's values, computed column-wise: text as Arrow strings (cleaned for
    cells), numbers as pandas Series."""
    n = len(part)
    findings = Findings(part["findings"]) if "findings" in part.columns else None
    geometry = part.geometry.to_numpy() if isinstance(part, gpd.GeoDataFrame) else np.full(n, None)
    lon, lat = lon_lat(geometry)
    verdicts = _verdicts(part)
    words = SEVERITY_WORDS[lang]
    derived: dict[str, Any] = {
        "layer": _mapped(part["subject"], LAYER_NAMES[lang]) if "subject" in part.columns else pa.nulls(n),
        "verdict_label": _mapped(pd.Series(verdicts), {v: verdict_label(v, lang) for v in set(verdicts.tolist())}),
        "lon": pd.Series(lon), "lat": pd.Series(lat),
        "rule_ids": findings.rule_ids() if findings else pa.nulls(n, pa.string()),
        "message": findings.main_message(lang) if findings else pa.nulls(n, pa.string()),
        "findings_text": findings.text(lang) if findings else pa.nulls(n, pa.string()),
    }
    if "max_severity" in part.columns:
        derived["max_severity"] = _mapped(part["max_severity"], words)
    keys = list(SHEET_COLUMNS[kind])
    shown = set(keys) | set(_TAIL) | _HIDDEN
    extra = [c for c in part.columns if c not in shown and c not in derived and part[c].notna().any()]
    keys += extra + list(_TAIL)
    values: dict[str, pa.Array | pd.Series] = {}
    for key in keys:
        if key in derived:
            v = derived[key]
            values[key] = _text(v) if isinstance(v, pa.Array) else v.reset_index(drop=True)
        elif key not in part.columns:
            values[key] = pa.nulls(n, pa.string())
        elif isinstance(part[key].dtype, pd.ArrowDtype) and pa.types.is_list(part[key].dtype.pyarrow_dtype):
            values[key] = _text(list_text(part[key]))
        elif part[key].dtype == object:
            values[key] = _object_values(part[key])
        elif _is_text(part[key]):
            values[key] = _text(part[key])
        else:
            values[key] = part[key].reset_index(drop=True)
    return keys, values


def _verdicts(part: pd.DataFrame) -> np.ndarray:
    if "verdict" not in part.columns:
        return np.full(len(part), "", dtype=object)
    return part["verdict"].astype(object).where(part["verdict"].notna(), "").astype(str).to_numpy(dtype=object)


def _mapped(values: pd.Series, words: dict[str, str]) -> pa.Array:
    """Text values replaced by their words (a value without one stays as it is), through the distinct values."""
    codes, uniques = pd.factorize(values.astype(object).where(values.notna(), None).to_numpy(dtype=object))
    table = pa.array([words.get(str(u), str(u)) for u in uniques] + [None], pa.string())
    return table.take(pa.array(np.where(codes < 0, len(uniques), codes)))


def _subject_sheet(wb: Workbook, part: pd.DataFrame, kind: str, title: str, lang: str, styles: _Styles,
                   rows: dict[str, Iterator[str]]) -> None:
    """A subject sheet: the header row through openpyxl, the data rows as XML (:func:`_row_chunks`), put in place
    when the workbook is saved."""
    ws = wb.create_sheet(title)
    keys, values = _columns_of(part, kind, lang)
    heads = [header(k, lang) for k in keys]
    widths = [_WIDTHS.get(key, max(10, min(30, _display_width(head) + 2))) for key, head in zip(keys, heads)]
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "B2"  # the header row and the first column (layer or id) stay in view
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.append([Cell(ws, row=1, column=1, value=h, style_array=styles.header) for h in heads])
    ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{len(part) + 1}"
    sheet_number = len(wb.worksheets)  # openpyxl names the part after the sheet's position
    rows[f"xl/worksheets/sheet{sheet_number}.xml"] = _row_chunks(keys, values, widths, _verdicts(part), styles)


def _escaped(text: pa.Array) -> pa.Array:
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        if pc.any(pc.match_substring(text, raw)).as_py():
            text = pc.replace_substring(text, raw, entity)
    return text


def _row_chunks(keys: list[str], values: dict[str, pa.Array | pd.Series], widths: list[float], verdicts: np.ndarray,
                styles: _Styles) -> Iterator[str]:
    """The sheet's data rows as SpreadsheetML text, in batches of :data:`BATCH_ROWS` rows, built column-wise.

    Text is an inline string (never a formula, whatever it starts with), numbers a ``<v>``, a missing value no cell;
    verdict cells take their verdict's style, number and wrapped columns theirs; a row with wrapped text is made
    tall enough for it (spreadsheets do not all fit row heights to wrapped text on opening).
    """
    n = len(verdicts)
    codes, uniques = pd.factorize(verdicts)
    plain = styles.column_ids[""]
    verdict_s = pa.array([f' s="{styles.verdict_ids.get(v, plain)}"' for v in uniques] + [""], pa.string()).take(
        pa.array(np.where(codes < 0, len(uniques), codes)))
    lines = np.ones(n, dtype=np.int64)
    for i, key in enumerate(keys):
        if key in _WRAPPED and isinstance(values[key], pa.Array):
            lines = np.maximum(lines, _lines(values[key], widths[i]))
    lines = np.minimum(lines, MAX_LINES)
    height = pa.array(np.where(lines > 1, np.char.add(np.char.add(' ht="', (lines * LINE_POINTS).astype(str)),
                                                        '" customHeight="1"'), ""), pa.string())
    # Per column: its letter, style, the tag that opens a value and the value text (escaped text, or numbers as
    # text with missing ones null); cells are assembled a batch at a time, so the XML never exists for the whole sheet
    columns = []
    for i, key in enumerate(keys):
        style = verdict_s if key in ("verdict_label", "verdict") else (
            f' s="{styles.column_ids.get(key, plain)}"')
        v = values[key]
        if isinstance(v, pa.Array):
            opening, close, data = ' t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>", _escaped(v)
        else:
            data = json_values(v)
            data = pc.if_else(pc.equal(data, "null"), pa.scalar(None, pa.string()), data)
            opening, close = "><v>", "</v></c>"
            if pd.api.types.is_bool_dtype(v.dtype):
                opening, data = ' t="b"><v>', pc.replace_substring(pc.replace_substring(data, "true", "1"), "false",
                                                                   "0")
        columns.append((get_column_letter(i + 1), style, opening, data, close))
    for start in range(0, n, BATCH_ROWS):
        stop = min(start + BATCH_ROWS, n)
        row = pa.array(np.arange(start + 2, stop + 2)).cast(pa.string())
        pieces: list[Any] = ['<row r="', row, '"', height[start:stop], ">"]
        for col, style, opening, data, close in columns:
            cell = pc.binary_join_element_wise(f'<c r="{col}', row, '"', style if isinstance(style, str) else
                                               style[start:stop], opening, data[start:stop], close, "")
            pieces.append(pc.fill_null(cell, ""))  # a missing value: no cell
        pieces.append("</row>")
        yield text_of(pc.binary_join_element_wise(*pieces, ""))


def _lines(text: pa.Array, width: float) -> np.ndarray:
    """Lines each text takes in a wrapped cell ``width`` characters wide: its display width (a CJK character is
    two; counted from UTF-8 bytes and characters) over the width, plus one per line break."""
    chars = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    nbytes = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False)
    breaks = pc.fill_null(pc.count_substring(text, "\n"), 0).to_numpy(zero_copy_only=False)
    shown = (nbytes + chars) / 2  # 1 for ASCII (1 byte), 2 for CJK (3 bytes)
    return np.maximum(1, np.ceil(shown / max(width - 1, 1))).astype(np.int64) + breaks


def _display_width(text: str) -> int:
    """Width in Excel's character units: a CJK character takes two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _summary_sheet(wb: Workbook, md: dict[str, Any], lang: str, styles: _Styles) -> None:
    t = TEXT[lang]
    ws = wb.create_sheet(SHEETS[lang]["summary"])
    ws.page_setup.orientation = "landscape"  # printed on one page width
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
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
        for k in rest:  # a mapping gets a row per entry, so that no cell runs off the printed page
            v = md[k]
            if isinstance(v, dict) and v:
                for sub, value in v.items():
                    ws.append([k, _safe(str(sub)), _safe(_words(value))])
            else:
                ws.append([k, _safe(_words(v))])
    if md.get("attribution"):
        ws.append([])
        ws.append(title(t["attribution"]))
        for line in md["attribution"]:
            ws.append([_safe(line)])


def _words(value: Any) -> Any:
    """A metadata value as a cell shows it: numbers and text as they are, lists joined, mappings ``k: v; …``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_words(v)) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _safe(value: Any) -> Any:
    """One summary value for a cell: text cleaned as in the sheets, never a formula."""
    if not isinstance(value, str):
        return value
    text = clean_text(pa.array([value], pa.string()))[0].as_py()
    if text.startswith("="):
        cell = Cell(None, row=1, column=1, value=text)
        cell.data_type = "s"
        return cell
    return text


class _FixedDateZip(ZipFile):
    """A zip whose members all carry :data:`ZIP_DATE` and the same permissions (no clock in the bytes), and in whose
    worksheets the data rows of :attr:`rows` go in after the header row openpyxl wrote."""

    rows: dict[str, Iterator[str]]

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None, compresslevel: Any = None) -> None:
        super().writestr(self._info(zinfo_or_arcname), data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        info = self._info(arcname or filename)
        chunks = self.rows.get(info.filename)
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=True) as dst:
            if chunks is None:
                shutil.copyfileobj(src, dst, 1 << 20)
                return
            head, sep, tail = src.read().partition(b"</sheetData>")  # the header row only: small
            if not sep:
                raise ValueError(f"{info.filename}: no sheetData element to put the rows in")
            dst.write(head)
            for chunk in chunks:
                dst.write(chunk.encode("utf-8"))
            dst.write(sep + tail)

    def _info(self, name: Any) -> ZipInfo:
        if isinstance(name, ZipInfo):
            name = name.filename
        info = ZipInfo(str(name), date_time=ZIP_DATE)
        info.compress_type = ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info


def _save(wb: Workbook, path: str, rows: dict[str, Iterator[str]]) -> None:
    # openpyxl's own save stamps the modification time; its writer, given a zip, does not
    with _FixedDateZip(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        archive.rows = rows
        ExcelWriter(wb, archive).write_data()


__all__ = ["KINDS", "MAX_ROWS", "SHEET_COLUMNS", "clean_text", "write_xlsx"]
