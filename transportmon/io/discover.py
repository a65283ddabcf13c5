"""Which file of a ``--data`` folder is which layer, and the folder's ``manifest.toml``.

A bureau names its files as it likes: ``Checkpoints.XLSX``, ``stop-times.csv``, ``检测点.xlsx``, ``班次.csv``. A
file is a layer when its name, without the extension, is one of the layer's names in :data:`FILE_NAMES` after
NFKC, case folding and dropping ``-``, ``_``, ``.`` and spaces (so ``Stop Times``, ``stop-times`` and ``StopTimes``
are ``stop_times``), and its extension (any case) is one of :data:`LAYER_EXTENSIONS`. The table is documented in
docs/chinese-files.md.

Nothing is dropped in silence: :func:`discover` says which file became which layer, which files were not used
(:attr:`Discovery.unused`, a warning), and which file was taken when two name the same layer (a warning, by the
documented preference of :func:`preference`). Files that are plainly not layers are passed over without a word:
``manifest.toml``, ``README*``, dot-files and Office lock files (``~$…``), the sidecar files of a Shapefile or a
GeoPackage that is there, the reports and maps the commands write (``report*``, ``map*.html``), and the names or
patterns of the manifest's ``ignore`` list. A folder that has files but none named after a layer cannot be audited:
:meth:`Discovery.nothing_found` is the error (exit 2) naming the files and the accepted names.
"""

from __future__ import annotations

import fnmatch
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["FILE_NAMES", "LAYER_EXTENSIONS", "LAYER_NAMES", "MANIFEST", "READ_ORDER", "Discovery", "discover",
           "find_layers", "is_osm", "layer_gaps", "preference", "read_manifest", "read_order", "sample_dir"]

LAYER_NAMES = ("roads", "checkpoints", "boundaries", "risk_areas", "stops", "trips", "stop_times", "waivers")
#: Extensions of layer files, in the order of preference when two files name the same layer (then an ``.xls``,
#: which cannot be read: taken only when it is the layer's one file, to say so).
LAYER_EXTENSIONS = (".geojson", ".gpkg", ".parquet", ".fgb", ".shp", ".csv", ".json", ".osm", ".osm.gz", ".osm.bz2",
                    ".osm.xml", ".xlsx", ".tsv", ".xlsm", ".geoparquet", ".pq", ".kml", ".gml", ".geojsonl", ".zip")
OLD_EXCEL = ".xls"
#: The names a bureau gives each layer's file (matched after :func:`name_key`): the contract name first, then
#: other English spellings, then Chinese. One table, documented in docs/chinese-files.md.
FILE_NAMES: dict[str, tuple[str, ...]] = {
    "roads": ("roads", "road", "道路", "路网", "公路"),
    "checkpoints": ("checkpoints", "checkpoint", "检测点", "防疫检测点", "卡点", "检查站", "检测站"),
    "boundaries": ("boundaries", "boundary", "行政区划", "行政边界", "行政区"),
    "risk_areas": ("risk_areas", "risk_area", "风险地区", "风险等级", "风险区域", "风险区"),
    "stops": ("stops", "stop", "站点", "车站", "客运站"),
    "trips": ("trips", "trip", "班次"),
    "stop_times": ("stop_times", "stop_time", "停靠站", "站点时刻", "经停", "经停站"),
    # hook, issue 14: approved exceptions (transportmon/waivers.py)
    "waivers": ("waivers", "waiver", "exceptions", "豁免", "豁免清单", "例外", "批准", "豁免批准"),
}
MANIFEST = "manifest.toml"
#: The embedded sample: a checkout's ``data/`` (or the copy installed beside the package).
SAMPLE_DIRS = (Path(__file__).resolve().parents[2] / "data" / "jiujiang-2020",
               Path(__file__).resolve().parents[1] / "_sample")
#: Files that travel with a Shapefile (``roads.shp``) or a GeoPackage and are read with it.
SHAPEFILE_SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".fix", ".qmd", ".aih", ".ain",
                      ".atx", ".ixs", ".mxs", ".shp.xml")
GEOPACKAGE_SIDECARS = (".gpkg-wal", ".gpkg-shm", ".gpkg-journal")
#: What the commands write (a report, a map) and files of the system: never layers, not worth a warning.
OUTPUT_PATTERNS = ("report*", "map*.html", "map*.png", "map*.svg", "map*.pdf", "thumbs.db", "desktop.ini")
#: Files of a GTFS feed, to point a folder holding one at ``--gtfs``.
GTFS_FILES = ("stops.txt", "trips.txt", "stop_times.txt")

_SEPARATORS = re.compile(r"[\s_\-.]+")


def name_key(stem: str) -> str:
    """A file name without its extension as it is matched: NFKC (full-width letters), case folded, without
    ``-``, ``_``, ``.`` and spaces."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", stem).casefold())


#: :func:`name_key` of every name in :data:`FILE_NAMES` → (layer, rank of the name: 0 the contract name, 1 another
#: English spelling, 2 Chinese).
_LAYER_OF: dict[str, tuple[str, int]] = {}
for _layer, _names in FILE_NAMES.items():
    for _name in _names:
        _rank = 0 if _name == _layer else (1 if _name.isascii() else 2)
        if _LAYER_OF.setdefault(name_key(_name), (_layer, _rank))[0] != _layer:  # pragma: no cover - table check
            raise RuntimeError(f"file name {_name!r} is given to two layers")


def _split(name: str) -> tuple[str, str]:
    """(stem, extension in lower case), with the compound extensions (``.osm.gz``, ``.shp.xml``) whole."""
    low = name.casefold()
    for ext in sorted({*LAYER_EXTENSIONS, *SHAPEFILE_SIDECARS}, key=len, reverse=True):
        if "." in ext[1:] and low.endswith(ext) and len(low) > len(ext):
            return name[: -len(ext)], ext
    p = Path(name)
    return (p.stem, p.suffix.casefold()) if p.suffix else (name, "")


def preference(path: Path, layer: str) -> tuple[int, int, str]:
    """Sort key among files naming one layer, smallest taken: the extension's place in :data:`LAYER_EXTENSIONS`
    (an ``.xls`` last), then the contract name (``roads``) before another English spelling before a Chinese name,
    then the file name."""
    stem, ext = _split(path.name)
    ext_rank = LAYER_EXTENSIONS.index(ext) if ext in LAYER_EXTENSIONS else len(LAYER_EXTENSIONS)
    name_rank = 0 if stem == layer else _LAYER_OF.get(name_key(stem), (layer, 3))[1] or 1
    return ext_rank, name_rank, path.name


@dataclass
class Discovery:
    """What a ``--data`` folder holds: the layer files, the files not taken, and what to say about them."""

    folder: Path
    layers: dict[str, Path] = field(default_factory=dict)
    """The file taken for each layer, in :data:`LAYER_NAMES` order."""
    unused: list[tuple[Path, str]] = field(default_factory=list)
    """Files not used, each with why when more can be said than "not named after a layer"."""
    not_taken: dict[str, list[Path]] = field(default_factory=dict)
    """Other files naming a layer that has its file (``roads.gpkg`` beside ``roads.geojson``)."""

    def warnings(self) -> list[str]:
        """One line per fact the user should know: each layer with two files, the files not used."""
        lines = []
        for layer, others in self.not_taken.items():
            lines.append(f"{len(others) + 1} files for the {layer} layer: took {self.layers[layer].name}, not "
                         f"{', '.join(p.name for p in others)} (preference: extension in the order "
                         f"{', '.join(LAYER_EXTENSIONS[:7])} …, then the English name; see docs/chinese-files.md)")
        plain = [p.name + ("/" if p.is_dir() else "") for p, why in self.unused if not why]
        if plain:
            lines.append(f"not used, not named after a layer: {', '.join(plain)} (accepted names: "
                         f"{accepted_names()}; see docs/chinese-files.md)")
        lines += [f"not used: {p.name}: {why}" for p, why in self.unused if why]
        return lines

    def nothing_found(self) -> InputError:
        """The error for a folder where no file became a layer."""
        names = [p.name + ("/" if p.is_dir() else "") for p, _ in self.unused]
        problem = ("holds no layer file" if not names else
                   f"no file is named after a layer ({', '.join(names)})")
        hints = [f"{p.name}: {why}" for p, why in self.unused if why]
        fix = (f"name each file after its layer: {accepted_names()}; any case, with - or _, as "
               f"{', '.join(LAYER_EXTENSIONS[:7])}, .xlsx (see docs/chinese-files.md)")
        return InputError(self.folder, problem + ("; " + "; ".join(hints) if hints else ""), fix)


def accepted_names() -> str:
    """The layers' file names, short: ``roads/道路/路网, checkpoints/检测点/卡点 …``."""
    return ", ".join("/".join(names[:1] + tuple(n for n in names if not n.isascii())[:3])
                     for names in FILE_NAMES.values())


def _ignored(name: str, ext: str, siblings: set[str], patterns: Iterable[str]) -> bool:
    low = name.casefold()
    if low.startswith((".", "~$")) or low == MANIFEST or low.startswith("readme"):
        return True
    if any(fnmatch.fnmatchcase(low, p.casefold()) for p in (*OUTPUT_PATTERNS, *patterns)):
        return True
    stem = low[: -len(ext)] if ext else low
    if ext in SHAPEFILE_SIDECARS:
        return stem + ".shp" in siblings
    if ext in GEOPACKAGE_SIDECARS:
        return stem + ".gpkg" in siblings
    return False


def discover(data_dir: str | Path, *, ignore: Iterable[str] = ()) -> Discovery:
    """The layer files of a folder, and the files not used.

    Parameters
    ----------
    data_dir
        The ``--data`` folder (not searched below its top level).
    ignore
        Further file names or patterns (``*.docx``) to pass over without a word: the manifest's ``ignore``.

    Returns
    -------
    Discovery

    Raises
    ------
    InputError
        When ``data_dir`` is not a folder.
    """
    d = Path(data_dir)
    if not d.is_dir():
        raise InputError(d, "is not a folder", "--data takes a folder of layer files named after the layers")
    entries = sorted(d.iterdir(), key=lambda p: p.name)
    siblings = {p.name.casefold() for p in entries}
    ignore = tuple(ignore)
    found = Discovery(folder=d)
    candidates: dict[str, list[Path]] = {}
    for p in entries:
        stem, ext = _split(p.name)
        if _ignored(p.name, ext, siblings, ignore):
            continue
        if p.is_dir():
            found.unused.append((p, ""))
            continue
        layer = _LAYER_OF.get(name_key(stem), (None, 0))[0]
        if layer is not None and (ext in LAYER_EXTENSIONS or ext == OLD_EXCEL):
            candidates.setdefault(layer, []).append(p)
        elif layer is not None:
            found.unused.append((p, f"named like the {layer} layer, but {ext or 'no extension'} is not a layer "
                                    f"format (use {', '.join(LAYER_EXTENSIONS[:7])}, .xlsx)"))
        elif ext == OLD_EXCEL:
            found.unused.append((p, "an old Excel workbook: save it as .xlsx or CSV, named after its layer"))
        else:
            found.unused.append((p, ""))
    for layer in LAYER_NAMES:
        if layer in candidates:
            ranked = sorted(candidates[layer], key=lambda p, n=layer: preference(p, n))
            found.layers[layer] = ranked[0]
            if len(ranked) > 1:
                found.not_taken[layer] = ranked[1:]
    if all(name in siblings for name in GTFS_FILES):
        gtfs = [(p, why) for p, why in found.unused if p.name.casefold() in GTFS_FILES]
        found.unused = [(p, why) for p, why in found.unused if p.name.casefold() not in GTFS_FILES]
        found.unused += [(p, "a GTFS feed's file: give the feed with --gtfs DIR --occupancy FILE")
                         for p, _ in gtfs]
    return found


def is_osm(path: Path) -> bool:
    """An OpenStreetMap XML file (roads through osmnx), by its name."""
    return path.name.lower().endswith((".osm", ".osm.xml", ".osm.gz", ".osm.bz2", ".xml"))


#: Layers in the order they are read: the small tables first, so that a broken one fails before a large file is
#: parsed; roads from OpenStreetMap (seconds of XML) last.
READ_ORDER = ("checkpoints", "waivers", "stops", "risk_areas", "boundaries", "roads", "trips", "stop_times")


def read_order(paths: dict[str, Path]) -> list[str]:
    """The layers of ``paths`` in :data:`READ_ORDER`, roads from an OSM file after all the others."""
    return sorted((n for n in READ_ORDER if n in paths),
                  key=lambda n: (n == "roads" and is_osm(paths[n]), READ_ORDER.index(n)))


def find_layers(data_dir: str | Path) -> dict[str, Path]:
    """Layer files in a folder, by layer (see :func:`discover`, which also says which files were not used)."""
    return discover(data_dir, ignore=read_manifest(Path(data_dir)).get("ignore", ())
                    if Path(data_dir).is_dir() else ()).layers


def layer_gaps(present: Iterable[str], *, roads_usable: bool = True) -> list[str]:
    """What the given layers cannot do for want of another: one line per gap, for the terminal and the report.

    ``present`` are the layers read (the default boundaries count: they always come).
    """
    have = set(present)
    lines = []
    if "checkpoints" in have and not ("roads" in have and roads_usable):
        what = "no roads layer" if "roads" not in have else "the roads layer has no usable rows"
        lines.append(f"checkpoints given but {what}: TM101, TM102, TM104 cannot run; every active checkpoint is "
                     "judged review (no road)")
    if "roads" in have and "checkpoints" not in have:
        lines.append("roads given but no checkpoints layer: the checkpoint rules (TM1xx) have nothing to judge")
    if "trips" in have:
        missing = [n for n in ("stop_times", "stops") if n not in have]
        if missing:
            reason = "trip-without-stops" if "stop_times" in missing else "unknown-stop"
            lines.append(f"trips given but no {' and no '.join(missing)} layer: the trip rules (TM201–TM203) cannot "
                         f"run; every trip is rejected ({reason})")
        elif "risk_areas" not in have:
            lines.append("no risk_areas layer: TM201 and TM202 cannot run; every trip is not-applicable "
                         "(no-risk-data)")
    elif "stop_times" in have:
        lines.append("stop_times given but no trips layer: every stop_times row is rejected (unknown-trip)")
    else:
        unused = [n for n in ("stops", "risk_areas") if n in have]
        if unused:
            lines.append(f"{' and '.join(unused)} given but no trips layer: the trip rules (TM2xx) have nothing to "
                         "judge")
    return lines


def read_manifest(data_dir: Path | None) -> dict[str, Any]:
    """``manifest.toml`` of a data folder: default ``as_of``, per-layer ``[datum]``, ``[rules]`` overrides, and
    ``ignore`` (file names or patterns of the folder that are not layers, passed over without a warning)."""
    if data_dir is None or not (data_dir / MANIFEST).is_file():
        return {}
    path = data_dir / MANIFEST
    try:
        with open(path, "rb") as fh:
            manifest = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(path, f"cannot read the manifest ({exc})", "fix the TOML or remove the file") from exc
    ignore = manifest.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(v, str) for v in ignore):
        raise InputError(path, f"ignore = {ignore!r} is not a list of file names",
                         'write e.g. ignore = ["expected.csv", "*.docx"]')
    return manifest


def sample_dir() -> Path:
    """Folder of the embedded Jiujiang sample."""
    for d in SAMPLE_DIRS:
        if d.is_dir():
            return d
    raise InputError(SAMPLE_DIRS[0], "the embedded sample is not installed",
                     "run from a checkout (pip install -e .) or give --data DIR")
