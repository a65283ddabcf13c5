"""Faults: files that cannot be read, a run killed while writing, outputs that must be refused, and determinism.

- Every unreadable file is exit 2 with one line naming the file and the problem (the entity-expansion bombs and the
  deeply nested GeoJSON also in a child process limited to 4 GiB of address space, so that a runaway expansion fails
  it rather than the machine). How long a refusal takes and how much memory it needs is measured by
  ``benchmarks/bench_refusals.py``, not asserted here.
- An empty layer (a GeoJSON with no features, a CSV with only a header) is audited as empty: exit 0, rows 0.
- The report is written to a temporary file and renamed: a run killed with SIGKILL while writing leaves the old
  report (or none), never half of one.
- The same inputs in any row order give the same features (checkpoints and trips; ``source_row`` and the row
  numbers in rejected rows' messages aside).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
import world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import transportmon
from transportmon.cli import app
from transportmon.io.write import geojson_chunks

AS_OF = "2020-03-16"
ROOT = Path(__file__).resolve().parent.parent
BOMB_PROLOG = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
               + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10))
               + "]>\n")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world.write_world(tmp_path_factory.mktemp("faults") / "data",
                             [{"checkpoint_id": "keep", "x": 30, "y": 98}, {"checkpoint_id": "remove", "x": 30, "y": 60}])


# ------------------------------------------------------------------------------------------------------------
# files that cannot be read


def _shapefile(tmp: Path, drop: str) -> Path:
    frame = gpd.GeoDataFrame({"checkpoint": ["a"]}, geometry=[shapely.Point(116, 29.7)], crs="EPSG:4326")
    path = tmp / "cp.shp"
    frame.to_file(path, engine="pyogrio")
    path.with_suffix(drop).unlink()
    return path


def _workbook_bomb(tmp: Path) -> Path:
    good, path = tmp / "good.xlsx", tmp / "bomb.xlsx"
    openpyxl.Workbook().save(good)
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = (BOMB_PROLOG + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>'
                        "</worksheet>").encode()
            zout.writestr(item, data)
    return path


def _not_a_workbook(tmp: Path) -> Path:
    path = tmp / "cp.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "这不是工作簿")
    return path


def _empty_workbook(tmp: Path) -> Path:
    path = tmp / "cp.xlsx"
    openpyxl.Workbook().save(path)
    return path


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path
    return make


TRUNCATED = (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"checkpoint_id": "a"}, '
             b'"geometry": {"type": "Point", "coordinates": [116.')
JUNK = random.Random(8).randbytes(4096)

#: (case, how to make it, what the message must say)
UNREADABLE: list[tuple[str, Callable[[Path], Path], str]] = [
    ("truncated GeoJSON", _bytes("cp.geojson", TRUNCATED), "cannot be read as a vector layer"),
    ("binary junk named .geojson", _bytes("cp.geojson", JUNK), "cannot be read as a vector layer"),
    ("empty file", _bytes("cp.geojson", b""), "the file is empty"),
    ("empty CSV", _bytes("cp.csv", b""), "the file is empty"),
    ("whitespace-only CSV", _bytes("cp.csv", b"\n\n  \n"), "not a readable CSV"),
    ("deeply nested GeoJSON", _bytes("cp.geojson", b'{"type": "FeatureCollection", "features": ['
                                     + b"[" * 100_000 + b"]" * 100_000 + b"]}"), "Too many nested"),
    ("shapefile without .dbf", lambda t: _shapefile(t, ".dbf"), ".dbf (attribute table) is missing"),
    ("shapefile without .shx", lambda t: _shapefile(t, ".shx"), ".shx (index) is missing"),
    ("KML entity bomb", _bytes("cp.kml", (BOMB_PROLOG + '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                                          "<Placemark><name>&lol9;</name><Point><coordinates>116,29</coordinates>"
                                          "</Point></Placemark></Document></kml>").encode()), "cannot be read"),
    ("binary junk named .csv", _bytes("cp.csv", JUNK), "binary data"),
    ("UTF-16 without BOM", _bytes("cp.csv", "checkpoint_id,lon,lat\n甲,116,29.7\n".encode("utf-16-le")),
     "binary data"),
    ("GBK read as --encoding utf-8", _bytes("cp.csv", "检测点编号,经度,纬度\n甲,116,29.7\n".encode("gbk")),
     "cannot decode the text as utf-8"),
    ("unterminated quote", _bytes("cp.csv", b'checkpoint_id,lon,lat\n"a,116,29.7\n'), "not a readable CSV"),
    ("junk named .xlsx", _bytes("cp.xlsx", JUNK), "not an .xlsx workbook"),
    ("zip that is not a workbook", _not_a_workbook, "not a readable .xlsx workbook"),
    ("workbook with only empty sheets", _empty_workbook, "every sheet of the workbook is empty"),
    ("workbook entity bomb", _workbook_bomb, "not a readable .xlsx workbook"),
    ("old .xls", _bytes("cp.xls", b"\xd0\xcf\x11\xe0" + JUNK[:500]), "old binary Excel workbook"),
    ("junk named .parquet", _bytes("cp.parquet", JUNK), "not a readable Parquet file"),
    ("unknown extension", _bytes("cp.xyz", b"x"), "unknown file type"),
    ("missing required column", _bytes("cp.csv", "名称,经度,纬度\n甲,116,29.7\n".encode()), "no column 'checkpoint_id'"),
    ("table without coordinates", _bytes("cp.csv", b"checkpoint_id,name\na,A\n"), "has no geometry"),
]


@pytest.mark.parametrize(("case", "make", "says"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_file_is_exit_2_naming_it(folder: Path, tmp_path: Path, case: str,
                                            make: Callable[[Path], Path], says: str) -> None:
    path = make(tmp_path)
    out = tmp_path / "report.geojson"
    more = ["--encoding", "utf-8"] if "--encoding" in case else []
    more += ["--lang", "en"]  # the English wording (the default, --lang zh, says it in Chinese: tests/test_desk.py)
    audit = invoke("audit", "--data", str(folder), "--checkpoints", str(path), "--as-of", AS_OF, "--out", str(out),
                   *more)
    check = invoke("validate", "--data", str(folder), "--checkpoints", str(path), *more)
    for result in (audit, check):
        assert result.exit_code == 2, result.output
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, lines  # one line
        assert lines[0].startswith(f"error: {path}: ") and says in lines[0], lines[0]
    assert not out.exists()
    chinese = invoke("validate", "--data", str(folder), "--checkpoints", str(path), *more[:-2])
    lines = [ln for ln in chinese.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"错误: {path}：") and "——" in lines[0], lines  # in Chinese


def test_osm_entity_bomb_is_refused(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "roads.osm"
    path.write_text(BOMB_PROLOG + '<osm version="0.6"><node id="1" lat="29" lon="116"><tag k="name" v="&lol9;"/>'
                    "</node></osm>\n", encoding="utf-8")
    result = invoke("audit", "--data", str(folder), "--roads", str(path), "--as-of", AS_OF,
                    "--out", str(tmp_path / "r.geojson"))
    assert result.exit_code == 2
    assert str(path) in result.stderr and "ENTITY" in result.stderr


def test_bombs_are_refused_in_a_memory_limited_child(tmp_path: Path) -> None:
    """Read every bomb in a child process limited to 4 GiB of address space: each is refused with its reason (an
    expansion that ran away would end the child with a MemoryError instead)."""
    paths = {}
    for case, make, _ in UNREADABLE:
        if "bomb" in case or "nested" in case:
            sub = tmp_path / re.sub(r"\W+", "-", case)
            sub.mkdir()
            paths[case] = str(make(sub))
    osm = tmp_path / "bomb.osm"
    osm.write_text(BOMB_PROLOG + '<osm version="0.6"><node id="1" lat="29" lon="116"><tag k="name" v="&lol9;"/>'
                   "</node></osm>\n", encoding="utf-8")
    script = textwrap.dedent(f"""
        import json, sys
        try:
            import resource
        except ImportError:
            pass
        else:
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        from transportmon.io.read import read_table
        from transportmon.io.osm import roads_from_osm_file
        from transportmon._errors import TransportmonError
        out = {{}}
        for case, path in {json.dumps(paths)}.items():
            try:
                read_table(path)
                out[case] = "read"
            except TransportmonError as exc:
                out[case] = str(exc)
        try:
            roads_from_osm_file({str(osm)!r})
            out["osm"] = "read"
        except TransportmonError as exc:
            out["osm"] = str(exc)
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert set(results) == {*paths, "osm"} and "read" not in results.values()
    assert all(p in results[c] for c, p in paths.items())
    assert "ENTITY" in results["osm"]


# ------------------------------------------------------------------------------------------------------------
# empty layers are audited as empty


@pytest.mark.parametrize(("name", "text"), [
    ("cp.geojson", '{"type": "FeatureCollection", "features": []}'),
    ("cp.csv", "checkpoint_id,lon,lat\n"),
    ("cp.csv", "检测点编号,经度,纬度\n,,\n  ,,\n"),
])
def test_zero_feature_layer_is_audited_as_empty(folder: Path, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "r.geojson"
    result = invoke("audit", "--data", str(folder), "--checkpoints", str(path), "--as-of", AS_OF, "--out", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["features"] == []
    assert doc["metadata"]["rows"]["checkpoints"] == {"input": 0, "audited": 0, "rejected": 0}
    check = invoke("validate", "--data", str(folder), "--checkpoints", str(path), "--format", "json")
    assert check.exit_code == 0
    assert json.loads(check.stdout)["layers"]["checkpoints"]["rows"] == 0


# ------------------------------------------------------------------------------------------------------------
# a run killed while writing


OLD = '{"type": "FeatureCollection", "features": [], "metadata": {"old": true}}\n'


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40,000 checkpoints without roads: quick to audit, a report of ~30 MB that takes a while to write."""
    d = tmp_path_factory.mktemp("big") / "data"
    d.mkdir()
    world.boundaries().to_file(d / "boundaries.geojson", driver="GeoJSON")
    rng = np.random.default_rng(7)
    n = 40_000
    pd.DataFrame({"checkpoint_id": [f"CP{i:06d}" for i in range(n)], "lon": rng.uniform(115.9, 116.9, n).round(6),
                  "lat": rng.uniform(29.3, 30.2, n).round(6), "turn_back": rng.choice(["是", "否"], n)}).to_csv(
        d / "checkpoints.csv", index=False)
    return d


def _run_and_kill(data: Path, out: Path, delay: float) -> tuple[int, list[Path]]:
    """Start an audit, SIGKILL it ``delay`` seconds after its temporary report appears; the exit status and the
    temporary files it left."""
    proc = subprocess.Popen([sys.executable, "-m", "transportmon.cli", "audit", "--data", str(data), "--as-of", AS_OF,
                             "--out", str(out), "--format", "json"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            tmp = [p for p in out.parent.glob(f".{out.name}.*.tmp") if p.stat().st_size > 0]
            if tmp:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, list(out.parent.glob(f".{out.name}.*.tmp"))


def test_killed_while_writing_leaves_the_old_report(big: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.geojson"
    out.write_text(OLD, encoding="utf-8")
    mid_write = 0
    for delay in (0.0, 0.0, 0.2):
        code, leftovers = _run_and_kill(big, out, delay)
        text = out.read_text(encoding="utf-8")
        doc = json.loads(text)  # never partial: always valid JSON, the old report or the complete new one
        assert text == OLD or len(doc["features"]) == 40_000
        if leftovers:  # killed while the temporary report was being written: the old report stays
            assert code == -signal.SIGKILL
            assert text == OLD, "a run killed mid-write replaced the report"
            mid_write += 1
            for p in leftovers:
                p.unlink()
        out.write_text(OLD, encoding="utf-8")
    assert mid_write >= 2, "no kill landed while the report was being written"
    # An unkilled run replaces the report with the complete new one, and leaves no temporary file.
    assert invoke("audit", "--data", str(big), "--as-of", AS_OF, "--out", str(out)).exit_code in (0, 1)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["features"]) == 40_000 and "old" not in doc["metadata"]
    assert not list(tmp_path.glob(".report.geojson.*.tmp"))


def test_killed_before_any_report_leaves_none(big: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.geojson"
    code, leftovers = _run_and_kill(big, out, 0.0)
    assert code == -signal.SIGKILL
    assert not out.exists()
    assert leftovers


# ------------------------------------------------------------------------------------------------------------
# outputs that must be refused


@pytest.mark.parametrize("which", ["data-folder layer", "layer flag", "symlink to an input"])
def test_out_equal_to_an_input_is_refused(folder: Path, tmp_path: Path, which: str) -> None:
    target = folder / "checkpoints.csv"
    before = target.read_bytes()
    if which == "data-folder layer":
        args = ["--data", str(folder), "--out", str(target)]
    elif which == "layer flag":
        copy = tmp_path / "cp.csv"
        copy.write_bytes(before)
        target = copy
        args = ["--data", str(folder), "--checkpoints", str(copy), "--out", str(copy)]
    else:
        link = tmp_path / "link.csv"
        link.symlink_to(target)
        args = ["--data", str(folder), "--out", str(link)]
    result = invoke("audit", "--as-of", AS_OF, *args, "--lang", "en")  # the English wording
    assert result.exit_code == 2
    assert "never overwrites an input" in result.stderr
    assert target.read_bytes() == before


def test_missing_output_folder_is_a_clear_error(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "report.geojson"
    result = invoke("audit", "--data", str(folder), "--as-of", AS_OF, "--out", str(out), "--lang", "en")
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(out.parent) in lines[0] and "does not exist" in lines[0]
    assert not out.parent.exists()


# ------------------------------------------------------------------------------------------------------------
# determinism: the same inputs in any row order give the same features


def _features(result: transportmon.pipeline.AuditResult) -> list[str]:
    """Features as canonical JSON, with what may depend on the row order taken out: ``source_row``, and for a
    rejected row its message text (which names the row), the row a duplicate repeats ("same id as row 3"), when it
    has no id its subject_id ("row 3"), and the finding id made of it (or numbered ``#2`` among rows sharing an id,
    in row order)."""
    doc = json.loads("".join(geojson_chunks(result.report, result.metadata)))
    out = []
    for f in doc["features"]:
        p = f["properties"]
        p.pop("source_row")
        if p["verdict"] == "rejected":
            p["findings"] = [{k: v for k, v in x.items() if not k.startswith("message")} for x in p["findings"]]
            if re.fullmatch(r"row \d+", p["subject_id"]):
                p["subject_id"] = "row ?"
            p["detail"] = re.sub(r"(as row) \d+$", r"\1 ?", p["detail"] or "")
            for x in p["findings"]:
                assert re.fullmatch(rf"{x['rule_id']}:{p['subject']}:.*", x.pop("finding_id"))
        out.append(json.dumps(f, sort_keys=True, ensure_ascii=False))
    return sorted(out)


CPS = [
    {"checkpoint_id": "keep", "x": 30, "y": 98, "turn_back": "是"},
    {"checkpoint_id": "remove", "x": 30, "y": 60, "turn_back": "true"},
    {"checkpoint_id": "express", "x": 20, "y": 99, "turn_back": ""},
    {"checkpoint_id": "river", "x": 45, "y": 99.2, "turn_back": ""},
    {"checkpoint_id": "nowhere", "x": 10, "y": 10, "turn_back": ""},
    {"checkpoint_id": "junction", "x": 30, "y": 50, "turn_back": ""},
    {"checkpoint_id": "junction2", "x": 50, "y": 50, "turn_back": ""},
    {"checkpoint_id": "bad-flag", "x": 30, "y": 70, "turn_back": "maybe"},
    {"checkpoint_id": "", "x": 30, "y": 80, "turn_back": ""},
    {"checkpoint_id": "", "x": 30, "y": 81, "turn_back": "x"},
]
CP_EXTRA = ["checkpoint_id,lon,lat,turn_back", "dup,116.1,29.5,", "dup,116.1,29.5,", "swapped,29.5,116.1,",
            "projected,430000,3300000,", "nolon,,29.5,"]

DETERMINISM = settings(derandomize=True, database=None, deadline=None, max_examples=4,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _checkpoint_world(d: Path, order: list[int], road_order: list[int]) -> Path:
    world.write_world(d, [CPS[i] for i in order])
    roads = world.roads().iloc[road_order]
    roads.to_file(d / "roads.geojson", driver="GeoJSON")
    return d


@pytest.fixture(scope="module")
def checkpoint_reference(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    d = tmp_path_factory.mktemp("det") / "ref"
    _checkpoint_world(d, list(range(len(CPS))), list(range(len(world.roads()))))
    _append_extra(d / "checkpoints.csv", list(range(len(CP_EXTRA) - 1)))
    return _features(transportmon.audit(d, as_of=AS_OF))


def _append_extra(path: Path, order: list[int]) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    extra = pd.DataFrame([r.split(",") for r in CP_EXTRA[1:]], columns=CP_EXTRA[0].split(","))
    rows = pd.concat([frame, extra.iloc[order]], ignore_index=True)
    rows.to_csv(path, index=False)


@settings(DETERMINISM)
@given(order=st.permutations(range(len(CPS))), road_order=st.permutations(range(7)),
       extra=st.permutations(range(len(CP_EXTRA) - 1)), seed=st.integers(0, 2**16))
def test_checkpoints_in_any_order_give_the_same_features(
        checkpoint_reference: list[str], tmp_path_factory: pytest.TempPathFactory, order: list[int],
        road_order: list[int], extra: list[int], seed: int) -> None:
    d = tmp_path_factory.mktemp("perm") / "data"
    _checkpoint_world(d, order, road_order)
    _append_extra(d / "checkpoints.csv", extra)
    frame = pd.read_csv(d / "checkpoints.csv", dtype=str, keep_default_na=False)
    frame.sample(frac=1.0, random_state=seed).to_csv(d / "checkpoints.csv", index=False)  # interleave the bad rows
    assert _features(transportmon.audit(d, as_of=AS_OF)) == checkpoint_reference


# trips: counties so that scope and designations matter (see tests/test_trips.py for the same world, drawn larger)

STOPS = {"JA": (25, 50), "JB": (75, 50), "NC": (50, -50), "HM": (25, 150), "HZ": (75, 150), "FAR": (500, 500)}


def _trip_world(d: Path, perm: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    units = [((0, 0, 100, 100), "360400", "city"), ((0, 0, 50, 100), "360403", "county"),
             ((50, 0, 100, 100), "360402", "county"), ((0, -100, 100, 0), "360100", "city"),
             ((0, -100, 100, 0), "360102", "county"), ((-50, 100.05, 150, 300), "420000", "province"),
             ((0, 100.05, 100, 200), "421100", "city"), ((0, 100.05, 50, 200), "421127", "county"),
             ((50, 100.05, 100, 200), "421102", "county")]
    bounds = world.to_wgs([world.box(*b) for b, *_ in units], adcode=[u[1] for u in units],
                          name=[u[1] for u in units], level=[u[2] for u in units])
    perm(bounds).to_file(d / "boundaries.geojson", driver="GeoJSON")
    pts = world.checkpoints([{"stop_id": s, "x": x, "y": y} for s, (x, y) in STOPS.items()])
    stops = pd.DataFrame(pts.assign(lon=pts.geometry.x, lat=pts.geometry.y).drop(columns="geometry"))
    stops = pd.concat([stops, pd.DataFrame([{"stop_id": "SWAP", "lon": stops["lat"][0], "lat": stops["lon"][0]},
                                            {"stop_id": "JA", "lon": stops["lon"][0], "lat": stops["lat"][0]}])])
    perm(stops).to_csv(d / "stops.csv", index=False)
    trips = pd.DataFrame([
        ("T-over", "2020-02-05", "班车", 45, 23), ("T-ok", "2020/2/5", "scheduled", 45, 22),
        ("T-charter", "20200205", "包车", 45, 30), ("T-other", "2020-02-05", "other", 45, 40),
        ("T-pass", "2020-02-05", "scheduled", 45, 40), ("T-intra", "2020-02-05", "scheduled", 45, 40),
        ("T-late", "2020-03-20", "scheduled", 45, 40), ("T-far", "2020-02-05", "scheduled", 45, 10),
        ("T-unknown", "2020-02-05", "scheduled", 45, 10), ("T-badseq", "2020-02-05", "scheduled", 45, 10),
        ("T-full", "2020-02-05", "scheduled", 45, 50), ("T-date", "2020-02-30", "scheduled", 45, 10),
        ("T-none", "2020-02-05", "scheduled", 45, 10), ("", "2020-02-05", "scheduled", 45, 10),
        ("T-swap", "2020-02-05", "scheduled", 45, 10), ("T-dup", "2020-02-05", "scheduled", 45, 10),
        ("T-dup", "2020-02-05", "scheduled", 45, 10),
    ], columns=["trip_id", "service_date", "service_type", "seats", "passengers"])
    perm(trips).to_csv(d / "trips.csv", index=False)
    legs = []
    for trip, stops_ in {"T-over": "JA HM", "T-ok": "JA HM", "T-charter": "HM JA", "T-other": "JA HM",
                         "T-pass": "JA ~HM NC", "T-intra": "JA JB", "T-late": "JA HM", "T-far": "JA FAR",
                         "T-unknown": "JA XX", "T-badseq": "JA HM", "T-full": "JA HM", "T-date": "JA HM",
                         "T-swap": "JA SWAP", "T-ghost": "JA HM", "T-dup": "JA HM"}.items():
        names = stops_.split()
        for i, s in enumerate(names, start=1):
            through = s.startswith("~")
            legs.append({"trip_id": trip, "stop_sequence": str(i), "stop_id": s.lstrip("~"),
                         "pickup": 0 if through else int(i < len(names)), "dropoff": 0 if through else int(i > 1)})
    legs.append({"trip_id": "T-badseq", "stop_sequence": "x", "stop_id": "JA", "pickup": 1, "dropoff": 1})
    legs.append({"trip_id": "T-dup", "stop_sequence": "1", "stop_id": "JA", "pickup": 1, "dropoff": 0})  # repeat
    perm(pd.DataFrame(legs)).to_csv(d / "stop_times.csv", index=False)
    pd.DataFrame([("421127", "high", "2020-02-01", "2020-03-10"), ("420000", "medium", "2020-01-23", ""),
                  ("360402", "中风险", "2020-02-01", ""), ("bad", "high", "2020-02-01", "")],
                 columns=["adcode", "level", "valid_from", "valid_to"]).pipe(perm).to_csv(d / "risk_areas.csv",
                                                                                         index=False)
    return d


@pytest.fixture(scope="module")
def trip_reference(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    d = _trip_world(tmp_path_factory.mktemp("det") / "trips", lambda f: f)
    result = transportmon.audit(d, as_of=AS_OF)
    verdicts = set(result.report["verdict"])
    assert {"over-cap", "compliant", "not-applicable", "rejected"} <= verdicts  # the world exercises every verdict
    return _features(result)


@settings(DETERMINISM)
@given(seed=st.integers(0, 2**32 - 1))
def test_trips_in_any_order_give_the_same_features(
        trip_reference: list[str], tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    rng = np.random.default_rng(seed)

    def perm(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[rng.permutation(len(frame))]

    d = _trip_world(tmp_path_factory.mktemp("perm") / "trips", perm)
    assert _features(transportmon.audit(d, as_of=AS_OF)) == trip_reference


def test_stale_temporary_files_of_killed_runs_are_swept(tmp_path: Path) -> None:
    """A run killed mid-write leaves ``.report.geojson.*.tmp``; the next write removes it once it is an hour old,
    and leaves a young one alone (it may belong to a run still writing)."""
    import os
    import time

    import geopandas as gpd

    from transportmon.io.write import STALE_TMP_SECONDS, write_report
    from transportmon.report import assemble

    old = tmp_path / ".report.geojson.abc123.tmp"
    young = tmp_path / ".report.geojson.def456.tmp"
    other = tmp_path / ".other.geojson.abc123.tmp"
    for p in (old, young, other):
        p.write_text("{partial", encoding="utf-8")
    past = time.time() - STALE_TMP_SECONDS - 60
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    write_report(assemble([gpd.GeoDataFrame({"subject": []}, geometry=[], crs="EPSG:4326")], "p"), {},
                 str(tmp_path / "report.geojson"))
    assert not old.exists()
    assert young.exists()
    assert other.exists()  # another target's leftovers are not this write's business
    assert (tmp_path / "report.geojson").exists()
