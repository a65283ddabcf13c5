"""Maps: the HTML map is self-contained, escapes what the data says, and draws in a real browser with no network;
the PNG is written at the size asked; a saved report maps with its context re-derived from its inputs.

The world is ``tests/world.py`` (UTM metres, km in the checkpoint rows), with a checkpoint whose name is markup.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import world

import transportmon
from transportmon import maps
from transportmon._errors import ConfigError, InputError
from transportmon.designations import normalize_designations
from transportmon.io.write import write_report
from transportmon.maps.layers import map_date

AS_OF = "2020-03-16"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"
BREAKOUT = "</script><script>document.title='pwned2'</script>"
TITLE = "transportmon map"

CHECKPOINTS = [
    {"checkpoint_id": "keep", "x": 30, "y": 98, "name": "九江长江大桥 bridge"},
    {"checkpoint_id": "remove", "x": 30, "y": 60, "name": "G105 south"},
    {"checkpoint_id": "review", "x": 20, "y": 80, "name": "G70 toll"},
    {"checkpoint_id": "inactive", "x": 30, "y": 70, "name": "closed one", "closed": "2020-03-01"},
    {"checkpoint_id": "hostile", "x": 80, "y": 60, "name": HOSTILE},
    {"checkpoint_id": "breakout", "x": 80, "y": 70, "name": BREAKOUT},
    {"checkpoint_id": "baddate", "x": 80, "y": 80, "name": "bad date", "opened": "2020-13-01"},
]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = world.write_world(tmp_path_factory.mktemp("mapworld"), CHECKPOINTS)
    world.write_coach_layers(d)
    return d


@pytest.fixture(scope="module")
def result(world_dir: Path) -> transportmon.pipeline.AuditResult:
    return transportmon.audit(world_dir, as_of=AS_OF)


@pytest.fixture(scope="module")
def page(result: transportmon.pipeline.AuditResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = maps.html_map(result, tmp_path_factory.mktemp("html") / "map.html")
    return out.read_text(encoding="utf-8")


def layers_of(text: str) -> dict[str, dict]:
    """The GeoJSON of every vector layer in the page, by the first CSS class of its styles (``tm-checkpoint`` …)."""
    dec = json.JSONDecoder()
    out: dict[str, dict] = {}
    for m in re.finditer(r"var (\w+)_styles = ", text):
        styles, end = dec.raw_decode(text, m.end())
        start = text.index("L.geoJSON(", end) + len("L.geoJSON(")
        data, _ = dec.raw_decode(text, start)
        first = next(iter(styles.values()))["className"].split()[0]
        out[first] = data
    return out


def checkpoint_rows(result: transportmon.pipeline.AuditResult) -> pd.DataFrame:
    return result.report[(result.report["subject"] == "checkpoint").to_numpy()]


# --------------------------------------------------------------------------------------------------------------------
# HTML, structurally


def test_world_has_every_checkpoint_verdict(result: transportmon.pipeline.AuditResult) -> None:
    verdicts = dict(zip(checkpoint_rows(result)["subject_id"], checkpoint_rows(result)["verdict"]))
    assert verdicts == {"keep": "keep", "remove": "remove", "review": "review", "inactive": "inactive",
                        "hostile": "remove", "breakout": "remove", "baddate": "rejected"}


def test_one_marker_per_checkpoint(page: str, result: transportmon.pipeline.AuditResult) -> None:
    feats = layers_of(page)["tm-checkpoint"]["features"]
    assert len(feats) == len(checkpoint_rows(result)) == len(CHECKPOINTS)
    assert sorted(f["properties"]["k"] for f in feats) == sorted(checkpoint_rows(result)["verdict"])
    assert all(f["geometry"]["type"] == "Point" for f in feats)
    keep = next(f for f in feats if f["properties"]["k"] == "keep")["properties"]["p"]
    # the popup carries id, name, road, distances and the findings in both languages
    for text in ("keep", "九江长江大桥 bridge", "G105", "距边界路口", "to crossing, by road", "2,000 m", "TM102"):
        assert text in keep
    assert "overdue" not in keep  # a checkpoint that stays is never overdue


def test_a_remove_checkpoint_popup_says_how_many_days_overdue(page: str,
                                                               result: transportmon.pipeline.AuditResult) -> None:
    rows = checkpoint_rows(result)
    overdue = rows[rows["overdue_days"].notna()]
    assert len(overdue) and set(overdue["verdict"]) == {"remove"}
    popups = {f["properties"]["p"] for f in layers_of(page)["tm-checkpoint"]["features"]}
    for _, row in overdue.iterrows():
        days = int(row["overdue_days"])
        popup = next(p for p in popups if f">{row['subject_id']} " in p)
        assert f"逾期 overdue</th><td>{days:,} 天 day{'' if days == 1 else 's'}</td>" in popup


def test_border_crossings_roads_risk_and_trips_are_drawn(page: str) -> None:
    found = layers_of(page)
    border = found["tm-border"]["features"]
    assert len(border) == 1 and border[0]["geometry"]["type"] in ("LineString", "MultiLineString")
    assert len(found["tm-crossing"]["features"]) == 2  # G105 and G70 cross into Hubei
    assert {f["properties"]["k"] for f in found["tm-road"]["features"]} >= {"national", "expressway", "provincial"}
    over = found["tm-trip"]["features"]
    assert any(f["properties"]["k"] == "over-cap" and "51.1%" in f["properties"]["p"] for f in over)
    assert "tm-risk" not in found  # Hubei's designation ended on 2020-03-10


def test_risk_areas_on_a_date(result: transportmon.pipeline.AuditResult, tmp_path: Path) -> None:
    text = maps.html_map(result, tmp_path / "m.html", date="2020-03-10").read_text(encoding="utf-8")
    risk = layers_of(text)["tm-risk"]["features"]
    assert [(f["properties"]["k"]) for f in risk] == ["high"]
    assert "湖北省" in risk[0]["properties"]["p"]


def test_no_external_assets(page: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.IGNORECASE)
    assert "sourceMappingURL" not in page
    assert 'version="1.9.3"' in page or "1.9.3" in page  # Leaflet itself is inline
    assert "cdn.jsdelivr" not in page and "code.jquery" not in page


def test_hostile_names_are_escaped(page: str) -> None:
    assert HOSTILE not in page and "<img src=x" not in page
    assert BREAKOUT not in page and "</script><script>" not in page
    feats = layers_of(page)["tm-checkpoint"]["features"]
    popup = next(f["properties"]["p"] for f in feats if "hostile" in f["properties"]["p"])
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in popup
    tip = next(f["properties"]["t"] for f in feats if "breakout" in f["properties"]["t"])
    assert "&lt;/script&gt;" in tip


def test_same_result_same_html(result: transportmon.pipeline.AuditResult) -> None:
    assert maps.html_text(result) == maps.html_text(result)


@pytest.mark.parametrize("bad", ["2020-02-30", "10/03/2020", "March 10", "2020-13-01"])
def test_bad_date_is_a_config_error(result: transportmon.pipeline.AuditResult, tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="not a date"):
        maps.html_map(result, tmp_path / "m.html", date=bad)


@pytest.mark.parametrize("day", ["2020-03-10", "2020/3/10", "2020年3月10日", "20200310", pd.Timestamp("2020-03-10")])
def test_map_date_reads_the_layers_date_forms(day: str | pd.Timestamp) -> None:
    assert map_date(day, AS_OF) == "2020-03-10"
    assert map_date(None, AS_OF) == map_date("", AS_OF) == AS_OF


def test_no_tiles_option(result: transportmon.pipeline.AuditResult) -> None:
    text = maps.html_text(result, tiles=False)
    assert "tile.openstreetmap.org" not in text
    assert "tile.openstreetmap.org" in maps.html_text(result)


# --------------------------------------------------------------------------------------------------------------------
# HTML in a real browser, offline

HARNESS = """
<script>
window.addEventListener("load", function () {
  var texts = [], imgs = 0;
  document.querySelectorAll("path.tm-checkpoint").forEach(function (p) {
    p.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window}));
    var open = document.querySelectorAll(".leaflet-popup-content");  // a closed popup fades out for a while
    var c = open[open.length - 1];
    texts.push(c ? c.textContent : "NO POPUP");
    imgs += c ? c.querySelectorAll("img, script").length : 0;
  });
  var pre = document.createElement("pre");
  pre.id = "tm-test";
  pre.setAttribute("data-markup", String(imgs));
  pre.textContent = texts.join("\\n----\\n");
  document.body.appendChild(pre);
});
</script>
"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (the browser test must run, not skip)")
    return exe


def browse(html_file: Path, tmp_path: Path, *extra: str) -> str:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-default-apps", "--disable-extensions",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=5000", "--window-size=1200,900", *extra, html_file.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_browser_draws_markers_border_and_runs_no_name(page: str, tmp_path: Path) -> None:
    f = tmp_path / "map.html"
    f.write_text(page.replace("</html>", HARNESS + "</html>"), encoding="utf-8")
    dom = browse(f, tmp_path, "--dump-dom")
    markers = re.findall(r'<path[^>]*class="tm-checkpoint tm-(\w+) leaflet-interactive"', dom)
    assert sorted(markers) == sorted(["keep", "remove", "review", "inactive", "remove", "remove", "rejected"])
    assert len(re.findall(r'<path[^>]*class="tm-border', dom)) == 1
    assert len(re.findall(r'<path[^>]*class="tm-crossing', dom)) == 2
    assert re.search(r'<path[^>]*class="tm-road tm-road-national', dom)
    assert re.search(r"<title>(.*?)</title>", dom).group(1) == TITLE  # no onerror, no injected script ran
    test = re.search(r'<pre id="tm-test" data-markup="(\d+)">(.*?)</pre>', dom, re.DOTALL)
    assert test is not None, "the map's script did not run"
    assert test.group(1) == "0"
    shown = test.group(2)
    assert "NO POPUP" not in shown
    assert "&lt;img src=x onerror=\"document.title='pwned'\"&gt;" in shown  # shown as text
    assert "&lt;/script&gt;&lt;script&gt;document.title='pwned2'&lt;/script&gt;" in shown
    assert 'class="tm-legend' in dom and "tm-sw" in dom


def test_browser_screenshot(page: str, tmp_path: Path) -> None:
    f = tmp_path / "map.html"
    f.write_text(page, encoding="utf-8")
    browse(f, tmp_path, f"--screenshot={tmp_path / 'shot.png'}")
    from PIL import Image

    with Image.open(tmp_path / "shot.png") as im:
        assert im.size == (1200, 900)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # a drawn map, not a blank page


# --------------------------------------------------------------------------------------------------------------------
# PNG


def test_png_map_size_and_content(result: transportmon.pipeline.AuditResult, tmp_path: Path) -> None:
    from PIL import Image

    out = maps.png_map(result, tmp_path / "map.png")
    assert out.stat().st_size > 30_000
    with Image.open(out) as im:
        assert im.size == (1600, 1200)
    small = maps.png_map(result, tmp_path / "small.png", size=(800, 600), dpi=100)
    with Image.open(small) as im:
        assert im.size == (800, 600)


def test_png_map_without_cjk_font(result: transportmon.pipeline.AuditResult, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bilingual = maps.png_map(result, tmp_path / "zh.png", size=(900, 700), dpi=100).read_bytes()
    monkeypatch.setattr(maps.png, "cjk_font", lambda: None)
    out = maps.png_map(result, tmp_path / "en.png", size=(900, 700), dpi=100)  # warnings are errors here
    assert out.stat().st_size > 10_000
    assert out.read_bytes() != bilingual  # labelled in English only


def test_png_map_is_reproducible(result: transportmon.pipeline.AuditResult, tmp_path: Path) -> None:
    a = maps.png_map(result, tmp_path / "a.png", size=(600, 450), dpi=75).read_bytes()
    b = maps.png_map(result, tmp_path / "b.png", size=(600, 450), dpi=75).read_bytes()
    assert a == b


# --------------------------------------------------------------------------------------------------------------------
# From a saved report


@pytest.mark.parametrize("ext", [".geojson", ".parquet", ".gpkg"])
def test_report_map_rederives_context(result: transportmon.pipeline.AuditResult, tmp_path: Path, ext: str) -> None:
    report = tmp_path / f"report{ext}"
    write_report(result.report, result.metadata, str(report))
    text = maps.report_map(report, tmp_path / "m.html").read_text(encoding="utf-8")
    found = layers_of(text)
    assert len(found["tm-checkpoint"]["features"]) == len(CHECKPOINTS)
    assert len(found["tm-border"]["features"]) == 1
    assert len(found["tm-crossing"]["features"]) == 2
    assert HOSTILE not in text
    png = maps.report_map(report, tmp_path / "m.png")
    assert png.stat().st_size > 30_000


def test_parquet_report_loads_with_native_lists(result: transportmon.pipeline.AuditResult, tmp_path: Path) -> None:
    report = tmp_path / "report.parquet"
    write_report(result.report, result.metadata, str(report))
    loaded = maps.load_report(report).report
    assert loaded["subject_id"].tolist() == result.report["subject_id"].tolist()
    assert isinstance(loaded["findings"].dtype, pd.ArrowDtype)  # as in the report frame: a cell reads as a list
    assert loaded["findings"].tolist() == result.report["findings"].tolist()
    assert loaded["risk_stops"].tolist() == result.report["risk_stops"].tolist()
    over = loaded.set_index("subject_id").loc["over"]
    assert over["risk_stops"] == ["HB1"] and over["findings"][0]["severity"] == "violation"
    text = maps.report_map(report, tmp_path / "m.html").read_text(encoding="utf-8")
    trips = layers_of(text)["tm-trip"]["features"]
    assert any("TM201" in f["properties"]["p"] and "HB1" in f["properties"]["p"] for f in trips)


def test_older_parquet_report_with_json_text_still_loads(result: transportmon.pipeline.AuditResult,
                                                         tmp_path: Path) -> None:
    from transportmon.io.encode import flat_columns as _flat

    report = tmp_path / "old.parquet"
    _flat(result.report).to_parquet(report, index=False)  # findings and risk_stops as JSON text, as before
    loaded = maps.load_report(report).report
    assert loaded["findings"].tolist() == result.report["findings"].tolist()
    stops = dict(zip(loaded["subject_id"], loaded["risk_stops"]))
    assert stops["over"] == ["HB1"] and stops["keep"] is pd.NA  # an Arrow list column, as the native form reads
    assert loaded["risk_stops"].tolist() == result.report["risk_stops"].tolist()


def test_report_map_when_inputs_are_gone(world_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "data"
    shutil.copytree(world_dir, d)
    res = transportmon.audit(d, as_of=AS_OF)
    report = tmp_path / "report.geojson"
    write_report(res.report, res.metadata, str(report))
    (d / "roads.geojson").unlink()
    (d / "risk_areas.csv").write_text("adcode,level,valid_from\n420000,medium,2020-01-01\n", encoding="utf-8")
    text = maps.report_map(report, tmp_path / "m.html", date="2020-03-16").read_text(encoding="utf-8")
    found = layers_of(text)
    assert len(found["tm-checkpoint"]["features"]) == len(CHECKPOINTS)
    assert "tm-border" not in found and "tm-road" not in found
    assert "not found; not drawn" in text and "changed since the report" in text
    assert [f["properties"]["k"] for f in found["tm-risk"]["features"]] == ["medium"]  # drawn as it is now


def test_report_map_refuses_csv_and_unknown_formats(result: transportmon.pipeline.AuditResult,
                                                    tmp_path: Path) -> None:
    csv = tmp_path / "report.csv"
    write_report(result.report, result.metadata, str(csv))
    with pytest.raises(InputError, match="no geometry"):
        maps.report_map(csv, tmp_path / "m.html")
    with pytest.raises(InputError, match="unknown map format"):
        maps.report_map(csv, tmp_path / "m.jpg")
    with pytest.raises(InputError, match="does not exist"):
        maps.report_map(tmp_path / "nope.geojson", tmp_path / "m.html")


# --------------------------------------------------------------------------------------------------------------------
# Risk areas and the timeline


def test_risk_areas_most_specific_wins_and_dates_are_inclusive() -> None:
    bounds = world.boundaries()
    intervals, rejected = normalize_designations(pd.DataFrame({
        "adcode": ["420000", "360400", "360000"], "level": ["high", "low", "medium"],
        "valid_from": ["2020-02-01", "2020-03-01", "2020-02-01"], "valid_to": ["2020-03-10", "", ""]}))
    assert not len(rejected)
    bounds = pd.concat([bounds, bounds.iloc[[0]].assign(adcode="360000", name="江西省", level="province")],
                       ignore_index=True)

    def levels(day: str) -> dict[str, str]:
        got = maps.risk_areas_on(bounds, intervals, day)
        return dict(zip(got["adcode"], got["level"]))

    assert levels("2020-02-15") == {"420000": "high", "360400": "medium"}  # Jiangxi's level reaches Jiujiang
    assert levels("2020-03-10") == {"420000": "high", "360400": "low"}  # the city's own designation wins
    assert levels("2020-03-11") == {"360400": "low"}  # valid_to is inclusive


def test_risk_timeline(result: transportmon.pipeline.AuditResult) -> None:
    tl = maps.risk_timeline(result, "2020-03-09", "2020-03-12", units=["420000", "360400"])
    hubei = tl[tl["adcode"] == "420000"].set_index("date")["level"]
    assert list(hubei.fillna("none")) == ["high", "high", "none", "none"]
    assert len(tl) == 8


def test_legend_names_the_default_exempt_neighbour(page: str) -> None:
    assert "与湖北交界线 border with Hubei" in page


def test_legend_names_the_configured_exempt_neighbour_not_hubei(tmp_path: Path) -> None:
    from transportmon.config import make_config

    d = world.write_world(tmp_path, [{"checkpoint_id": "anhui", "x": 80, "y": 99}])
    result = transportmon.audit(d, as_of=AS_OF, boundaries=d / "boundaries.geojson",
                                config=make_config(exempt_neighbours=["340000"]))
    text = maps.html_map(result, tmp_path / "m.html").read_text(encoding="utf-8")
    assert "与安徽交界线 border with Anhui" in text
    assert "湖北" not in text and "Hubei" not in text


@pytest.mark.parametrize(("value", "shown"), [(12, "12 天 days"), (12.0, "12 天 days"), (1, "1 天 day"),
                                              (0, "0 天 days"), (1200, "1,200 天 days"), (None, None),
                                              (float("nan"), None), (pd.NA, None)])
def test_overdue_days_in_a_popup_read_back_from_any_report_form(value: object, shown: str | None) -> None:
    from transportmon.maps.popups import checkpoint_popup

    popup = checkpoint_popup({"subject_id": "CP1", "verdict": "remove", "overdue_days": value})
    if shown is None:
        assert "overdue" not in popup
    else:
        assert f"逾期 overdue</th><td>{shown}</td>" in popup
