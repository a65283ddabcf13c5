"""Writing the ticket-limit table (:mod:`transportmon.ticket_limits`) for coach stations: CSV or xlsx, atomically.

The table is read by people at a ticket desk: Chinese headers by default (``lang="en"`` English), ``cap_applies`` as
是/否 (yes/no). The CSV is UTF-8 with a byte-order mark, so that Excel and WPS open it as UTF-8; the xlsx has a frozen
header row and an autofilter. Reasons keep their machine words (``cap``, ``no-risk-stop``, ``malformed-value`` …), as
in the audit's report.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._errors import InputError
from .labels import header
from .write import atomic_file, check_target

__all__ = ["LIMIT_FORMATS", "limits_format", "write_limits"]

LIMIT_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
#: Headers of the columns the report's headers (:data:`transportmon.io.labels.HEADERS`) do not have.
_HEADERS = {"trip_id": ("班次编号", "trip id"), "cap_applies": ("是否限载", "cap applies"),
            "max_passengers": ("限售人数", "ticket limit"), "sold": ("已售", "sold"), "remaining": ("余票", "remaining"),
            "reason": ("原因", "reason"), "detail": ("说明", "detail")}
_YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}
_WIDTHS = {"trip_id": 14, "route_id": 16, "service_date": 12, "reason": 22, "risk_stops": 22, "detail": 40}


def limits_format(out: str | os.PathLike[str]) -> str:
    """``csv`` or ``xlsx`` from the extension of ``out``; :class:`InputError` for any other."""
    ext = Path(out).suffix.lower()
    if ext not in LIMIT_FORMATS:
        raise InputError(out, f"unknown format {ext!r} for a limits table", "use .csv or .xlsx")
    return LIMIT_FORMATS[ext]


def _header(column: str, lang: str) -> str:
    if column in _HEADERS:
        zh, en = _HEADERS[column]
        return zh if lang == "zh" else en
    return header(column, lang)


def desk_table(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The table as people read it: headers in ``lang``, ``cap_applies`` in words, empty cells for missing values."""
    if lang not in _YES_NO:
        raise ValueError(f"lang {lang!r}: use zh or en")
    yes, no = _YES_NO[lang]
    out = table.copy()
    applies = out["cap_applies"].astype("boolean")
    out["cap_applies"] = applies.map({True: yes, False: no}).astype("str")
    return out.rename(columns={c: _header(c, lang) for c in out.columns})


def write_limits(table: pd.DataFrame, out: str | os.PathLike[str], *, lang: str = "zh",
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write ``table`` to ``out`` (``.csv`` or ``.xlsx``) atomically, never over one of ``inputs``."""
    fmt = limits_format(out)
    target = check_target(str(out), inputs)
    desk = desk_table(table, lang)
    with atomic_file(target) as (fd, tmp):
        os.close(fd)
        if fmt == "csv":
            desk.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
        else:
            _write_xlsx(desk, list(table.columns), tmp, lang)
    return target


def _write_xlsx(desk: pd.DataFrame, keys: list[str], path: str, lang: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from .. import __version__

    wb = Workbook(write_only=True)
    wb.properties.creator = f"transportmon {__version__}"
    # no clock in the file: the same table gives the same bytes
    wb.properties.created = wb.properties.modified = datetime.datetime(1980, 1, 1)
    ws = wb.create_sheet("限售" if lang == "zh" else "Limits")
    ws.freeze_panes = "A2"
    for i, key in enumerate(keys, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(key, 10)
    if len(keys):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{max(len(desk), 1) + 1}"
    bold = Font(bold=True)
    grey = PatternFill("solid", fgColor="FFD9D9D9")
    head = []
    for name in desk.columns:
        cell = WriteOnlyCell(ws, value=str(name))
        cell.font, cell.fill = bold, grey
        head.append(cell)
    ws.append(head)
    for row in desk.astype(object).where(desk.notna(), None).itertuples(index=False, name=None):
        ws.append(list(row))
    wb.save(path)
