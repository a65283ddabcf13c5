"""The fast way to read a CSV whose reading has nothing to decide: Arrow's multi-threaded parser.

:func:`transportmon.io.read.read_table` reads CSV with pandas' parser (``dtype=str``, empty cells missing, blank lines
kept as rows so that every record's line is known): it also reads what people make by hand — quoted cells holding
commas and line breaks, blank lines, short rows, GBK text. At ten million rows it takes 6 s for ``stop_times.csv``,
most of it turning each cell into a Python string and back into Arrow.

Machine-written tables (``df.to_csv()``, a database export) are usually plain: UTF-8 (or GB18030/GBK), not one quote
character, every row as long as the header. There every parser reads the same cells, and Arrow's reads them on every core straight into
the ``large_string`` columns pandas' ``str`` holds (1.4 s). :func:`plain_csv` takes that way only for such a file and
answers None for any other (a quote anywhere, another encoding, a header with an empty or repeated name, a short or
long row — Arrow's parser refuses those, a refusal that costs at most one pass), so that pandas reads it as before.
A blank line is a row of missing cells for both. ``tests/test_plain_csv.py`` compares the two readers on generated files.
"""

from __future__ import annotations

import codecs
import mmap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = ["PLAIN_ENCODINGS", "plain_csv"]

#: Encodings read this way: UTF-8 (``utf-8-sig``: its byte-order mark is skipped by both readers), and GB18030 and
#: GBK, which Arrow decodes with Python's codec as it reads. In all of them a byte below 0x30 is that character and no
#: part of another, so the quote, separators and line breaks are found in the bytes.
PLAIN_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "gb18030", "gbk"})

#: Bytes read for the header line: a longer header is read by pandas.
HEADER_BYTES = 1 << 16


def plain_csv(path: Path, sep: str, encoding: str) -> pd.DataFrame | None:
    """The table as ``pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], sep=sep,
    encoding=encoding, skip_blank_lines=False)`` reads it, when the file is plain (see the module's docstring); None
    when it is not, or when Arrow's parser refuses it."""
    codec = codecs.lookup(encoding).name
    if codec not in {codecs.lookup(e).name for e in PLAIN_ENCODINGS} or len(sep) != 1 or ord(sep) >= 0x30:
        return None
    names = _header(path, sep, encoding)
    if names is None or _has_quote(path):
        return None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8" if codec.startswith("utf") else codec),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                 null_values=[""], strings_can_be_null=True))
    except (pa.ArrowException, OSError, UnicodeError, ValueError):
        return None  # a short or long row, a blank line in a table of columns, text that is not UTF-8 …
    if table.column_names != names or not table.num_rows or any(t != pa.large_string() for t in table.schema.types):
        return None
    return pd.DataFrame({name: pd.array(table.column(i), dtype="str") for i, name in enumerate(names)})


def _header(path: Path, sep: str, encoding: str) -> list[str] | None:
    """The names on the first line, as pandas would name the columns; None when pandas would rename one (empty,
    repeated) or the line is longer than :data:`HEADER_BYTES`."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER_BYTES)
    cut = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=-1)
    if cut < 0:
        return None
    try:
        line = head[:cut].decode(encoding)
    except UnicodeError:
        return None
    names = line.split(sep)
    if any(not n for n in names) or len(set(names)) != len(names):
        return None
    return names


def _has_quote(path: Path) -> bool:
    """Whether a double quote is anywhere in the file (one pass of ``memchr``; an empty file has none)."""
    with open(path, "rb") as fh:
        if not fh.seek(0, 2):
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b'"') >= 0
