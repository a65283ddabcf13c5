"""Timeline → file: CSV (UTF-8 with a byte-order mark, as the report's CSV, so that Excel reads the Chinese), atomic.

``-`` writes the CSV to stdout (without the byte-order mark, for pipes).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

import pandas as pd

from .._errors import InputError
from .write import atomic_file, check_target


def check_timeline_target(out: str, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Refuse an ``--out`` that is not ``.csv`` or ``-``, an input, or in a folder that does not exist (before the
    work)."""
    if out == "-":
        return
    if not out.lower().endswith(".csv"):
        raise InputError(out, f"unknown timeline format {os.path.splitext(out)[1].lower()!r}",
                         "use a .csv file (or - for stdout)")
    check_target(out, inputs)


def write_timeline(frame: pd.DataFrame, out: str, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Write the timeline to ``out`` (``.csv``, or ``-`` for stdout); dates as YYYY-MM-DD, missing counts empty."""
    check_timeline_target(out, inputs)
    table = frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"))
    if out == "-":
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
        sys.stdout.flush()
        return
    with atomic_file(check_target(out, inputs)) as (fd, tmp):
        os.close(fd)
        table.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
