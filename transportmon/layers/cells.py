"""Cell parsers: ids as text, whole numbers, booleans, service types, and their fast paths for clean typed columns.

Every parser returns the parsed column and, where a cell can be malformed, a mask of the malformed cells; it never
rejects a row itself (the validators do, with a reason).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..distinct import first_rows, on_distinct

if TYPE_CHECKING:
    from .memo import Ahead

T = TypeVar("T")


def ahead_call(ahead: Ahead | None, fn: Callable[[pa.ChunkedArray], T], arr: pa.ChunkedArray) -> T:
    """``fn(arr)``, from ``ahead`` (:mod:`transportmon.layers.ahead`) when it was computed there for this array."""
    return fn(arr) if ahead is None else ahead.call(fn, arr)

#: Accepted spellings of booleans (after NFKC and lower case); an empty cell is false.
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "是", "有", "√", "✓", "✔", "对", "真"}


FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "否", "无", "没有", "不", "×", "✗", "✘", "错", "假", "", "nan",
               "none"}


def as_text(values: pd.Series) -> pd.Series:
    """Ids and codes as stripped text; numbers read from a GIS file lose a trailing ``.0``."""
    out = values.astype("string").str.strip()
    numeric = out.str.endswith(".0").fillna(False).to_numpy(bool)  # the regex only where it can apply
    if numeric.any():
        out = out.where(~numeric, out.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True))
    return out.mask(out == "")


_EXACT = 2**53  # parse_ints reads whole numbers below this magnitude


# Fast paths for clean, typed columns (Parquet). Each decides only the clean case and leaves anything else to the
# general parsers, so results are the same on every input; tests/test_validate_fast.py checks that.


def arrow_text(values: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow array behind a pyarrow-backed text column (``str``, ``string[pyarrow]``), else None."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arr = values.array.__arrow_array__()  # the Arrow data itself: no copy
        if isinstance(arr, pa.ChunkedArray) and (pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type)):
            return arr
    return None


def run_starts(arr: pa.ChunkedArray) -> np.ndarray:
    """Flags of the rows that start a run of equal consecutive values (a null starts a run of its own)."""
    n = len(arr)
    flags = np.ones(n, dtype=bool)
    if n > 1:
        ne = pc.fill_null(pc.not_equal(arr.slice(1), arr.slice(0, n - 1)), True)
        flags[1:] = ne.to_numpy(zero_copy_only=False)
    return flags


def same_text(arr: pa.ChunkedArray | pa.Array) -> bool:
    """Whether :func:`as_text` leaves every value of an Arrow text array as it is (no surrounding space, no ``.0``, no
    empty text), without building its result. The kernels are the ones pandas runs for ``str.strip``,
    ``str.endswith`` and ``==`` on Arrow-backed text, so the answer is the one the pandas operations give; chunk by
    chunk, so that no stripped copy of ten million ids is held at once."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for chunk in chunks:
        if not pc.all(pc.equal(pc.utf8_trim_whitespace(chunk), chunk), min_count=0).as_py():
            return False
    # The values are their own stripped text now.
    return not (pc.any(pc.ends_with(arr, ".0"), min_count=0).as_py() or pc.any(pc.equal(arr, ""), min_count=0).as_py())


def take_rows(arr: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """``arr.take(rows)`` for increasing ``rows``, chunk by chunk: Arrow's take on a chunked text array joins the
    chunks first, which copies every id to pick a third of them."""
    bounds = np.cumsum([0, *(len(c) for c in arr.chunks)])
    cut = np.searchsorted(rows, bounds)
    parts = [chunk.take(pa.array(rows[lo:hi] - start)) for chunk, start, lo, hi
             in zip(arr.chunks, bounds[:-1], cut[:-1], cut[1:]) if hi > lo]
    return pa.chunked_array(parts, type=arr.type)


def text_ids(values: pd.Series, starts: np.ndarray | None = None, *, ahead: Ahead | None = None) -> pd.Series:
    """:func:`as_text` of an id column; when its runs of equal values begin at ``starts``, computed on the runs'
    first rows. A pyarrow text column that needs no change (clean ids) is returned as it is, as ``string``."""
    return text_ids_runs(values, starts, ahead=ahead)[0]


def text_ids_runs(values: pd.Series, starts: np.ndarray | None = None, heads: np.ndarray | None = None, *,
                  clean: bool | None = None, ahead: Ahead | None = None) -> tuple[pd.Series, pa.ChunkedArray | None]:
    """:func:`text_ids`, and when runs are given the text of the runs' first rows (``heads``: their positions) as an
    Arrow array (None when the text is not Arrow-backed). ``clean`` (:func:`same_text` of the runs' first ids) may
    come computed (:func:`transportmon.layers.ahead.id_runs`); ``ahead`` may hold :func:`same_text` of the whole
    column."""
    if starts is not None and heads is None:
        heads = np.flatnonzero(starts)
    arr = arrow_text(values)
    if arr is None:
        text = as_text(values)
        return text, (arrow_text(text.iloc[heads]) if heads is not None else None)
    whole = heads is None or len(heads) == len(values)
    probe = arr if whole else take_rows(arr, heads)
    if clean is None:
        clean = ahead_call(ahead, same_text, probe)
    if clean:
        return values.astype("string"), (probe if heads is not None else None)
    if whole:
        text = as_text(values)
        return text, (arrow_text(text) if heads is not None else None)
    text = as_text(pd.Series(pd.arrays.ArrowStringArray(probe), copy=False))
    return pd.Series(text.array.take(np.cumsum(starts) - 1), index=values.index), arrow_text(text)


#: pandas' nullable integer dtypes (``Int64`` …), by their public names.
NULLABLE_INTS = (pd.Int8Dtype, pd.Int16Dtype, pd.Int32Dtype, pd.Int64Dtype, pd.UInt8Dtype, pd.UInt16Dtype,
                 pd.UInt32Dtype, pd.UInt64Dtype)


def nullable_ints(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A nullable integer column as (numpy values, 0 at the missing cells; the mask of the missing cells)."""
    missing = values.isna().to_numpy(dtype=bool)
    return values.to_numpy(dtype=values.dtype.numpy_dtype, na_value=0), missing


def cell_text(values: pd.Series, mask: np.ndarray) -> pd.Series:
    """``values.astype("string").fillna("")`` at the rows of ``mask``: converted there only when the conversion is
    cell by cell (text, integers, booleans, objects), else on the whole column (dates print alike as a column)."""
    dtype = values.dtype
    elementwise = (isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind in "iubO")
                   or isinstance(dtype, (pd.BooleanDtype, *NULLABLE_INTS)))
    cells = values[mask]
    if elementwise:
        return cells.astype("string").fillna("")
    if cells.isna().all():  # a missing value is empty text in any column
        return pd.Series("", index=cells.index, dtype="string")
    return values.astype("string").fillna("")[mask]


def ints_fast(values: pd.Series, wide: np.ndarray | None = None) -> tuple[pd.Series, np.ndarray] | None:
    """:func:`parse_ints` of an integer column (numpy or nullable), or of text that only holds plainly written whole
    numbers (:func:`plain_int_text`, a CSV's): (Int64 values, malformed = the missing cells); None when a value is
    too large to be read exactly, or the column is neither. ``wide``: the values as int64,
    made ahead (:mod:`transportmon.layers.ahead`), taken when equal to the column's (then owned by the result)."""
    dtype = values.dtype
    owned = False  # whether ``data`` is a fresh array, the result's to keep without a copy
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        data, missing = values.to_numpy(), None
    elif isinstance(dtype, NULLABLE_INTS):
        data, missing = nullable_ints(values)
    elif (data := plain_int_text(values)) is not None:
        missing, owned = None, bool(data.flags.writeable)  # a single chunk is a read-only view of Arrow's buffer
    else:
        return None
    if data.dtype.itemsize >= 8 and len(data):
        kept = data if missing is None or not missing.any() else data[~missing]
        if len(kept) and not (-_EXACT < int(kept.min()) and int(kept.max()) < _EXACT):
            return None
    # Two masks, so that neither the caller nor pandas can change the other's (zeros are not touched until read).
    bad = np.zeros(len(data), dtype=bool) if missing is None else missing
    mask = np.zeros(len(data), dtype=bool) if missing is None else missing.copy()
    same = missing is None and wide is not None and wide.dtype == np.int64 and np.array_equal(wide, data)
    out = pd.arrays.IntegerArray(wide if same else data.astype(np.int64, copy=not owned), mask)
    return pd.Series(out, index=values.index, copy=False), bad


def flags_fast(values: pd.Series) -> np.ndarray | None:
    """``pickup``/``dropoff`` of a numeric or boolean column whose every value is 0, 1 or missing (missing = 1), or
    of text that only holds ``0``, ``1`` and empty cells, as :func:`parse_bools` reads them; None otherwise (other values are malformed: the general path says how)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return values.to_numpy(dtype=bool, copy=True)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        data = values.to_numpy()
        if (data.view(f"u{data.dtype.itemsize}") <= 1).all():  # 0 or 1 (a negative value is a large unsigned)
            return data == 1
        return None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":  # 1.0 and 0.0 print as words parse_bools knows; -0.0 not
        data = values.to_numpy()
        missing = np.isnan(data)
        if ((data == 1) | ((data == 0) & ~np.signbit(data)) | missing).all():
            return (data == 1) | missing
        return None
    if isinstance(dtype, pd.BooleanDtype):
        return values.to_numpy(dtype=bool, na_value=True)
    if isinstance(dtype, NULLABLE_INTS):
        data, missing = nullable_ints(values)
        if (missing | (data == 0) | (data == 1)).all():
            return missing | (data == 1)
        return None
    arr = arrow_text(values)
    if arr is not None and len(arr):  # a CSV's text: exactly "0", "1" or empty, as parse_bools reads them
        encoded = pc.dictionary_encode(arr).combine_chunks()
        words = encoded.dictionary.to_pylist()
        if set(words) <= {"0", "1", ""}:
            truth = np.array([w != "0" for w in words] + [True])  # the last entry: a missing cell, which is 1
            return truth[encoded.indices.fill_null(len(words)).to_numpy()]
    return None


def plain_int_text(values: pd.Series) -> np.ndarray | None:
    """A text column (a CSV's) whose every cell is a whole number written plainly (``12``, ``-3``, ``0``: no sign
    ``+``, no leading zero, no space, no unit) as int64, all within ±2^53 so that :func:`parse_ints` reads the same;
    None for any other column. Arrow's cast and its text form back, compared: no text per row in Python."""
    arr = arrow_text(values)
    if arr is None or not len(arr) or arr.null_count:
        return None
    try:
        ints = pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not pc.all(pc.equal(pc.cast(ints, arr.type), arr)).as_py():
        return None
    data = ints.to_numpy() if ints.num_chunks != 1 else ints.chunk(0).to_numpy()
    if not (-_EXACT < int(data.min()) and int(data.max()) < _EXACT):
        return None
    return data


def increasing(arr: pa.ChunkedArray) -> bool:
    """Whether the non-missing values of a text array rise strictly (sorted and unique: no value repeats)."""
    values = arr.drop_null() if arr.null_count else arr
    n = len(values)
    return n < 2 or bool(pc.all(pc.less(values.slice(0, n - 1), values.slice(1))).as_py())


def duplicated_ids(ids: pd.Series, *, ahead: Ahead | None = None) -> np.ndarray:
    """``ids.notna() & ids.duplicated(keep="first")``; ids in strictly increasing order (sorted, unique: the common
    case) are seen to have no repeat by comparing neighbours (:func:`increasing`, which ``ahead`` may hold). Arrow
    text in another order (a GTFS feed lists trips by route) is hashed once by Arrow, which numbers the distinct ids
    as they first appear: a repeat is a row that is not the first of its number."""
    arr = arrow_text(ids)
    if arr is not None and ahead_call(ahead, increasing, arr):
        return np.zeros(len(ids), dtype=bool)
    if arr is not None:
        encoded = pc.dictionary_encode(arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0))
        repeat = np.zeros(len(ids), dtype=bool)
        if len(encoded.dictionary) < len(arr) - arr.null_count:
            codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            repeat[codes >= 0] = True
            repeat[first_rows(codes, len(encoded.dictionary))] = False
        return repeat
    return (ids.notna() & ids.duplicated(keep="first")).to_numpy(dtype=bool)


def duplicated_stops(trip: pd.Series, seq: pd.Series, starts: np.ndarray | None,
                     head_ids: pa.ChunkedArray | None = None, heads: np.ndarray | None = None, *,
                     rising: bool | None = None) -> np.ndarray:
    """``frame[["trip_id", "stop_sequence"]].duplicated(keep="first")`` on the rows where both are present (the
    others are rejected before), from integer keys: trip code × span + sequence.

    ``starts`` flags the runs of equal raw trip ids (rows of one trip are usually consecutive), ``heads`` are their
    positions and ``head_ids`` the text of each run's first row (Arrow); when each trip is one run and the sequence
    rises within each run there is no repeat, which two comparisons of neighbours show (``rising``: their result,
    :func:`rises_in_runs`, when known).
    """
    trip_arr = arrow_text(trip)
    sq, seq_missing = nullable_ints(seq)
    present = ~seq_missing
    if trip_arr is not None and trip_arr.null_count:
        present &= trip_arr.is_valid().to_numpy(zero_copy_only=False)
    elif trip_arr is None:
        present &= trip.notna().to_numpy(dtype=bool)
    if starts is None or trip_arr is None:
        pair = pd.DataFrame({"trip_id": trip, "stop_sequence": seq})
        return (pair.duplicated(keep="first").to_numpy(dtype=bool) & present)
    n = len(trip)
    if heads is None:
        heads = np.flatnonzero(starts)
    if head_ids is None:
        head_ids = take_rows(trip_arr, heads)
    sq = sq.astype(np.int64, copy=False)
    all_present = not seq_missing.any() and not trip_arr.null_count
    distinct_runs = increasing(head_ids)
    if distinct_runs and all_present and n and (rising if rising is not None else rises_in_runs(sq, starts)):
        return np.zeros(n, dtype=bool)
    if distinct_runs:
        codes = np.arange(len(heads), dtype=np.int64)
    else:  # any numbering of the distinct ids will do (rows of a missing id are not present)
        codes = pc.index_in(head_ids, value_set=pc.unique(head_ids)).fill_null(-1).to_numpy(
            zero_copy_only=False).astype(np.int64)
    run = np.cumsum(starts) - 1
    rows = np.flatnonzero(present)
    if not len(rows):
        return np.zeros(n, dtype=bool)
    code = codes[run[rows]]
    s = sq[rows]
    lo, hi = int(s.min()), int(s.max())
    span = hi - lo + 1
    if (int(code.max()) + 1) * span >= 2**62:
        pair = pd.DataFrame({"trip_id": trip, "stop_sequence": seq})
        return (pair.duplicated(keep="first").to_numpy(dtype=bool) & present)
    key = code * span + (s - lo)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    dup = np.zeros(n, dtype=bool)
    dup[rows[order[1:][ordered[1:] == ordered[:-1]]]] = True
    return dup


def rises_in_runs(seq: np.ndarray, starts: np.ndarray, block: int = 1 << 20) -> bool:
    """Whether ``seq`` rises strictly within each run (a run starts where ``starts`` holds), block by block (no
    temporary of the whole column)."""
    for lo in range(1, len(seq), block):
        hi = min(lo + block, len(seq))
        if not ((seq[lo:hi] > seq[lo - 1:hi - 1]) | starts[lo:hi]).all():
            return False
    return True


def stop_text(values: pd.Series) -> tuple[pd.Series, np.ndarray | None, pa.Array | None]:
    """:func:`as_text` of ``stop_id``, and for a dictionary column (Parquet read with ``read_dictionary``) its
    codes into the dictionary as text: (text, codes or None, dictionary or None). A column of ten million rows
    holds some thousands of stops; the text work is done on those."""
    if not isinstance(values.dtype, pd.CategoricalDtype) or pd.StringDtype().storage != "pyarrow":
        return text_ids(values), None, None
    cat = values.array
    if not isinstance(cat.categories.dtype, pd.StringDtype):
        return as_text(values), None, None  # numbers as categories: printed as the column prints them
    text = as_text(pd.Series(cat.categories, dtype="string"))
    dictionary = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    codes = np.asarray(cat.codes)
    indices = pa.array(codes, mask=codes < 0) if len(codes) and codes.min() < 0 else pa.array(codes)
    rows = pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()
    return pd.Series(pd.arrays.ArrowStringArray(rows), index=values.index), codes, dictionary


def missing_text(index: pd.Index) -> pd.Series:
    """An all-NA ``string`` column (from an Arrow null array when ``string`` is pyarrow-backed: millions of rows)."""
    if pd.StringDtype().storage == "pyarrow":
        return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(len(index), pa.large_string())), index=index)
    return pd.Series(pd.NA, index=index, dtype="string")


@on_distinct
def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse booleans written as true/false, 1/0, yes/no, 是/否, 有/无, √/×; empty is False. Returns (bools,
    malformed-mask)."""
    text = values.astype("string").str.normalize("NFKC").str.strip().str.lower().fillna("")
    is_true = text.isin(TRUE_WORDS)
    is_false = text.isin(FALSE_WORDS)
    return is_true.astype(bool), (~is_true & ~is_false).astype(bool)


@on_distinct
def text_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``pickup``/``dropoff`` cells as stripped text read by :func:`parse_bools`, an empty cell 1: (flags,
    malformed-mask)."""
    text = values.astype("string").str.strip()
    parsed, bad = parse_bools(text)
    return parsed.where(text.notna() & (text != ""), True).astype(bool), bad


_COUNT_UNIT = re.compile(r"\s*(?:座|人|位|个|名|席)$")


@on_distinct
def parse_ints(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse whole numbers; returns (Int64 values, malformed-mask). ``45.0`` is 45; ``45.5`` and ``abc`` are malformed.

    Full-width digits and a trailing count word (``45座``, ``23人``) are accepted, as Chinese sheets write them.
    """
    text = values.astype("string").str.normalize("NFKC").str.strip().str.replace(_COUNT_UNIT, "", regex=True)
    num = pd.to_numeric(text, errors="coerce").astype("Float64")
    finite = num.notna() & np.isfinite(num.fillna(0.0).to_numpy(dtype=float))
    whole = (finite & (num == num.round()) & (num.abs() < 2**53)).fillna(False).astype(bool)
    out = num.where(whole).round().astype("Int64")
    return out, ~whole


SERVICE_TYPES: dict[str, str] = {
    "scheduled": "scheduled", "班车": "scheduled", "定线": "scheduled", "班线": "scheduled", "regular": "scheduled",
    "charter": "charter", "包车": "charter", "chartered": "charter",
    "other": "other", "其他": "other", "公交": "other", "bus": "other",
}


#: Longer Chinese names are read by the word they contain: 省际班车, 市际班线, 定线客运 → scheduled; 旅游包车 →
#: charter; 城乡公交, 其他客运 → other. 包车 is checked first (班车 and 包车 never share a name).
SERVICE_TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("包车", "charter"), ("班车", "scheduled"), ("班线", "scheduled"), ("定线", "scheduled"),
    ("公交", "other"), ("其他", "other"), ("出租", "other"),
)


#: The kinds a ``service_type`` is read as (the values of :data:`SERVICE_TYPES`), the categories of the validated
#: column.
SERVICE_KINDS = tuple(dict.fromkeys(SERVICE_TYPES.values()))


@on_distinct
def service_types(values: pd.Series) -> pd.Series:
    """``service_type`` as a categorical of :data:`SERVICE_KINDS` (NA when not recognised); see
    :data:`SERVICE_TYPES`. Categorical: spread over millions of trips as codes, not as text."""
    text = values.astype("string").str.normalize("NFKC").str.strip()
    norm = text.str.lower().map(SERVICE_TYPES)
    for word, kind in SERVICE_TYPE_WORDS:
        hit = text.str.contains(word, regex=False).fillna(False).astype(bool)
        norm = norm.mask(norm.isna() & hit, kind)
    return pd.Series(pd.Categorical(norm, categories=SERVICE_KINDS), index=values.index)


@on_distinct
def stripped_service_types(values: pd.Series) -> pd.Series:
    """:func:`service_types` of the stripped text, per distinct value of the unstripped text."""
    return service_types(values.astype("string").str.strip())
