"""Arrow's parser for plain CSV files (transportmon/io/plain_csv.py) against pandas' reading of the same bytes, the
reference: where the fast way answers, the frames are equal; where the file is not plain, it answers None."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon.io import read as read_module
from transportmon.io.plain_csv import plain_csv
from transportmon.io.read import read_table
from transportmon.source_rows import SOURCE_ROW


def pandas_csv(path: Path, sep: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    """How transportmon reads every CSV that is not plain (io/read.py::_read_csv)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], sep=sep, encoding=encoding,
                       skip_blank_lines=False)


def write(tmp_path: Path, data: bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


CELLS = st.one_of(st.sampled_from(["", "NA", "null", "nan", "N/A", "007", "  ", "1e5", "TRUE"]),
                  st.text(alphabet=list("ab1 ,;\t'\\\r\n中文-.\""), max_size=4))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(header=st.lists(st.text(alphabet="abc中 ", max_size=3), min_size=1, max_size=4),
       rows=st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=6),
       sep=st.sampled_from([",", "\t", ";"]), newline=st.sampled_from(["\n", "\r\n", "\r"]), last=st.booleans(),
       bom=st.booleans())
def test_plain_csv_reads_what_pandas_reads(tmp_path_factory: pytest.TempPathFactory, header: list[str],
                                           rows: list[list[str]], sep: str, newline: str, last: bool,
                                           bom: bool) -> None:
    """Random files (separators and line breaks inside cells, ragged and blank rows, empty cells, repeated or empty
    names, with or without a final line break or a byte-order mark): whenever the fast way answers, its frame is
    pandas' frame, dtypes and index included."""
    text = newline.join([sep.join(header), *(sep.join(r) for r in rows)]) + (newline if last else "")
    encoding = "utf-8-sig" if bom else "utf-8"
    path = write(tmp_path_factory.mktemp("csv"), text.encode(encoding))
    got = plain_csv(path, sep, encoding)
    if got is None:
        return
    pd.testing.assert_frame_equal(got, pandas_csv(path, sep, encoding))


def test_machine_written_table_is_read_the_fast_way(tmp_path: Path) -> None:
    frame = pd.DataFrame({"trip_id": ["T1", "T2", "T3"], "stop_sequence": ["1", "2", "010"],
                          "stop_id": ["S1", None, "站点 3"], "pickup": ["1", "0", ""]})
    path = tmp_path / "stop_times.csv"
    frame.to_csv(path, index=False)
    got = plain_csv(path, ",", "utf-8")
    assert got is not None
    want = pandas_csv(path)
    pd.testing.assert_frame_equal(got, want)
    assert got["stop_sequence"].tolist() == ["1", "2", "010"]  # text stays text
    assert got["stop_id"].isna().tolist() == [False, True, False] and got["pickup"].isna().tolist() == [False] * 2 + [
        True]
    assert str(got["trip_id"].dtype) == "str"


@pytest.mark.parametrize("data, why", [
    (b'a,b\n"x,y",1\n', "a quote"),
    (b"a,b\n1,2\n3\n", "a short row"),
    (b"a,b\n1,2,3\n", "a long row"),
    (b"a,a\n1,2\n", "a repeated name"),
    (b"a,,c\n1,2,3\n", "an empty name"),
    (b"a,b\n", "no row"),
    (b"a,b", "no line break"),
    ("名称,编号\n检测点,1\n".encode("gb18030"), "not UTF-8"),
    (b"", "empty"),
])
def test_not_plain_is_left_to_pandas(tmp_path: Path, data: bytes, why: str) -> None:
    assert plain_csv(write(tmp_path, data), ",", "utf-8") is None, why


def test_other_encodings_and_separators_are_left_to_pandas(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,b\n1,2\n")
    assert plain_csv(path, ",", "utf-16") is None and plain_csv(path, ",", "latin-1") is None
    assert plain_csv(path, "1", "utf-8") is None  # a separator that is a digit (or a letter): pandas
    assert plain_csv(path, ",", "utf-8") is not None and plain_csv(path, ",", "UTF8") is not None


@settings(max_examples=100, deadline=None, derandomize=True)
@given(cells=st.lists(st.text(alphabet=list("班车包其他检测点九江湖北ab1 -;"), max_size=4), min_size=2, max_size=18),
       encoding=st.sampled_from(["gb18030", "gbk"]), newline=st.sampled_from(["\n", "\r\n"]))
def test_gbk_files_are_read_as_pandas_reads_them(tmp_path_factory: pytest.TempPathFactory, cells: list[str],
                                                 encoding: str, newline: str) -> None:
    """GB18030/GBK text (Chinese in ids and names, as bureau exports write them): decoded by Python's codec as Arrow
    reads, the frame is pandas' frame."""
    rows = [cells[i:i + 2] for i in range(0, len(cells) - len(cells) % 2, 2)]
    text = newline.join(",".join(r) for r in [["线路", "名称"], *rows]) + newline
    path = write(tmp_path_factory.mktemp("gbk"), text.encode(encoding))
    got = plain_csv(path, ",", encoding)
    assert got is not None
    pd.testing.assert_frame_equal(got, pandas_csv(path, ",", encoding))
    as_utf8 = plain_csv(path, ",", "utf-8")  # read as UTF-8 first: refused, unless the bytes happen to be UTF-8 too
    if as_utf8 is not None:
        pd.testing.assert_frame_equal(as_utf8, pandas_csv(path, ",", "utf-8"))


@pytest.mark.parametrize("data", [b"checkpoint_id\nA\n\nB\n", b"a,b\n1,2\n\n3,4\n\n", b"a,b\r\n1,2\r\n\r\n3,4"])
def test_blank_lines_are_rows_of_missing_cells_as_pandas_reads_them(tmp_path: Path, data: bytes) -> None:
    """A blank line is a row whose cells are all missing, for both readers (read_table drops and counts such rows,
    and the line numbers come from them)."""
    path = write(tmp_path, data)
    got = plain_csv(path, ",", "utf-8")
    assert got is not None
    pd.testing.assert_frame_equal(got, pandas_csv(path))
    assert got.isna().all(axis=1).tolist() == [False, True, False] + [True] * (len(got) - 3)


def test_read_table_is_the_same_either_way(tmp_path: Path) -> None:
    """The layer as read_table makes it (source rows, points from lon/lat, attrs) does not depend on the reader."""
    path = write(tmp_path, "checkpoint_id,name,lon,lat,opened\nK1,九江 1,115.99,29.71,2020-02-01\n"
                           "K2,,116.0,29.7,\r\nK3,x,116.1,29.6,2020-03-01\n".encode())
    fast = read_table(path)
    with mock.patch.object(read_module, "plain_csv", return_value=None) as slow_way:
        slow = read_table(path)
    assert slow_way.called
    pd.testing.assert_frame_equal(pd.DataFrame(fast), pd.DataFrame(slow))
    assert fast.attrs == slow.attrs and fast.crs == slow.crs
    assert fast[SOURCE_ROW].tolist() == [2, 3, 4]


PLAIN_CELLS = st.one_of(st.sampled_from(["", "NA", "null", "nan", "007", "  ", "1e5", "TRUE", "中文 x"]),
                        st.text(alphabet=list("ab1 ;'\\中-."), max_size=5))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(width=st.integers(1, 4), cells=st.lists(PLAIN_CELLS, max_size=24), sep=st.sampled_from([",", "\t"]),
       newline=st.sampled_from(["\n", "\r\n"]), last=st.booleans())
def test_plain_files_are_read_the_fast_way_and_alike(tmp_path_factory: pytest.TempPathFactory, width: int,
                                                     cells: list[str], sep: str, newline: str, last: bool) -> None:
    """Rectangular files without a quote (what ``df.to_csv()`` writes for ids, numbers and dates): always read by
    Arrow's parser, always pandas' frame — empty cells missing, "NA"/"null"/"nan" kept as text."""
    rows = [cells[i:i + width] for i in range(0, len(cells) - len(cells) % width, width)] or [["x"] * width]
    if width == 1 and not rows[-1][0]:  # a one-column file's empty last line, not followed by a line break, is no row
        rows[-1] = ["x"]
    header = [f"c{i}" for i in range(width)]
    text = newline.join(sep.join(r) for r in [header, *rows]) + (newline if last else "")
    path = write(tmp_path_factory.mktemp("plain"), text.encode())
    got = plain_csv(path, sep, "utf-8")
    assert got is not None
    pd.testing.assert_frame_equal(got, pandas_csv(path, sep))


def test_read_table_of_a_gbk_file_is_the_same_either_way(tmp_path: Path) -> None:
    path = write(tmp_path, "checkpoint_id,name,lon,lat\nK1,九江长江大桥,115.99,29.71\nK2,湖北界,116.0,29.7\n".encode(
        "gb18030"))
    fast = read_table(path)
    with mock.patch.object(read_module, "plain_csv", return_value=None):
        slow = read_table(path)
    pd.testing.assert_frame_equal(pd.DataFrame(fast), pd.DataFrame(slow))
    assert fast.attrs == slow.attrs and fast.attrs["source"]["encoding"] == "gb18030 (GBK)"
    assert fast["name"].tolist() == ["九江长江大桥", "湖北界"]
