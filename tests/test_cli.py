"""The command line, run with typer's CliRunner: exit codes, the GeoJSON report, its metadata, determinism."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import world
from typer.testing import CliRunner, Result

from transportmon.cli import app
from transportmon.report import COLUMNS

AS_OF = "2020-03-16"

CPS = [
    {"checkpoint_id": "keep", "x": 30, "y": 98, "turn_back": ""},
    {"checkpoint_id": "remove", "x": 30, "y": 60, "turn_back": "true"},
    {"checkpoint_id": "express", "x": 20, "y": 99, "turn_back": ""},
    {"checkpoint_id": "river", "x": 45, "y": 99.2, "turn_back": ""},
    {"checkpoint_id": "nowhere", "x": 10, "y": 10, "turn_back": ""},
]
#: Rows appended to checkpoints.csv that are rejected: a duplicate id and a malformed flag.
BAD_ROWS = [
    {"checkpoint_id": "keep", "turn_back": "", "lon": "116.27", "lat": "30.26"},
    {"checkpoint_id": "maybe", "turn_back": "maybe", "lon": "116.27", "lat": "30.26"},
]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def text(result: Result) -> str:
    """stdout + stderr with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = world.write_world(tmp_path_factory.mktemp("cli") / "data", CPS)
    path = d / "checkpoints.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([frame, pd.DataFrame(BAD_ROWS)], ignore_index=True).to_csv(path, index=False)
    return d


def audit_args(data: Path, out: Path | str, *more: str) -> list[str]:
    return ["audit", "--data", str(data), "--as-of", AS_OF, "--out", str(out), *more]


@pytest.fixture(scope="module")
def report_path(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("out") / "report.geojson"
    return invoke(*audit_args(data, out, "--lang", "en")), out


@pytest.fixture(scope="module")
def report(report_path: tuple[Result, Path]) -> tuple[Result, dict]:
    result, out = report_path
    return result, json.loads(out.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------------------
# audit: exit codes


def test_audit_with_violations_exits_1(report: tuple[Result, dict]) -> None:
    result, _ = report
    assert result.exit_code == 1, result.stderr


def test_fail_on_never_exits_0(data: Path, tmp_path: Path) -> None:
    result = invoke(*audit_args(data, tmp_path / "r.geojson", "--fail-on", "never"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "r.geojson").is_file()


def test_only_keep_checkpoints_exits_0(tmp_path: Path) -> None:
    d = world.write_world(
        tmp_path / "data",
        [{"checkpoint_id": "a", "x": 30, "y": 98}, {"checkpoint_id": "b", "x": 30.001, "y": 99.5}],
    )
    out = tmp_path / "r.geojson"
    result = invoke(*audit_args(d, out))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metadata"]["counts"] == {"checkpoint": {"keep": 2}}
    assert doc["metadata"]["findings"]["violation"] == 0


def test_fail_on_warning(tmp_path: Path) -> None:
    d = world.write_world(
        tmp_path / "data",
        [{"checkpoint_id": "a", "x": 30, "y": 98}, {"checkpoint_id": "express", "x": 20, "y": 99}],
    )
    assert invoke(*audit_args(d, tmp_path / "r.geojson")).exit_code == 0
    assert invoke(*audit_args(d, tmp_path / "r.geojson", "--fail-on", "warning")).exit_code == 1


# ------------------------------------------------------------------------------------------------------------
# audit: the GeoJSON


def test_one_feature_per_input_row(report: tuple[Result, dict]) -> None:
    _, doc = report
    assert len(doc["features"]) == len(CPS) + len(BAD_ROWS)
    assert doc["metadata"]["rows"]["checkpoints"] == {"input": 7, "audited": 5, "rejected": 2}


def test_verdicts(report: tuple[Result, dict]) -> None:
    _, doc = report
    got = sorted(
        (f["properties"]["subject_id"], f["properties"]["verdict"], f["properties"]["reason"])
        for f in doc["features"]
    )
    assert got == [
        ("express", "review", "uncovered-road-class"),
        ("keep", "keep", None),
        ("keep", "rejected", "duplicate-id"),
        ("maybe", "rejected", "malformed-value"),
        ("nowhere", "review", "no-road"),
        ("remove", "remove", None),
        ("river", "remove", None),
    ]
    remove = next(f for f in doc["features"] if f["properties"]["subject_id"] == "remove")
    assert {x["rule_id"]: x["severity"] for x in remove["properties"]["findings"]} == {
        "TM101": "violation",
        "TM110": "violation",
    }


def test_every_feature_has_the_contract_properties(report: tuple[Result, dict]) -> None:
    _, doc = report
    for feat in doc["features"]:
        props = feat["properties"]
        for key in (
            "subject",
            "subject_id",
            "verdict",
            "reason",
            "findings",
            "policy",
            "road_id",
            "road_ref",
            "road_class",
            "distance_to_road_m",
            "distance_to_exempt_border_m",
            "distance_to_crossing_m",
        ):
            assert key in props, key
        assert props["subject"] == "checkpoint"
        assert props["policy"] == "九府发〔2020〕3号 (六)"
        assert list(props)[: len(COLUMNS)] == COLUMNS


def test_metadata(report: tuple[Result, dict], data: Path) -> None:
    _, doc = report
    md = doc["metadata"]
    assert md["as_of"] == AS_OF
    assert md["counts"] == {"checkpoint": {"keep": 1, "rejected": 2, "remove": 2, "review": 2}}
    assert md["findings"] == {"violation": 2, "warning": 4, "waived": 0, "info": 1}
    assert md["rules"]["snap_tolerance_m"] == 150.0
    assert md["tool"] == "transportmon" and md["version"]
    assert set(md["inputs"]) == {"roads", "checkpoints", "boundaries"}
    for name, ext in (("roads", "geojson"), ("checkpoints", "csv"), ("boundaries", "geojson")):
        entry = md["inputs"][name]
        path = data / f"{name}.{ext}"
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert Path(entry["path"]).resolve() == path.resolve()
    assert md["inputs"]["checkpoints"]["rows"] == 7


def test_summary_in_english(report: tuple[Result, dict]) -> None:
    result, _ = report
    out = text(result)
    assert "audit summary" in out and "subjects with violations: 2" in out
    assert "TM101" in out


# ------------------------------------------------------------------------------------------------------------
# determinism


def test_same_inputs_give_a_byte_identical_report(
    data: Path, tmp_path: Path, report_path: tuple[Result, Path]
) -> None:
    again = tmp_path / "again.geojson"
    result = invoke(*audit_args(data, again))  # a second run, summary in Chinese (the default)
    assert result.exit_code == 1
    assert again.read_bytes() == report_path[1].read_bytes()
    assert "核查摘要" in text(result) and "违规对象" in text(result)


def test_shuffled_rows_give_the_same_features(tmp_path: Path) -> None:
    """Row order of checkpoints and roads does not change any verdict, road or distance.

    The metadata differs (the inputs' SHA-256) and so does ``source_row`` (the row number in the input), so
    the comparison drops both; everything else must be identical — including checkpoints on a junction, which
    are snapped by class and road_id, not by row order.
    """
    cps = CPS + [
        {"checkpoint_id": "junction", "x": 30, "y": 50, "turn_back": ""},
        {"checkpoint_id": "junction2", "x": 50, "y": 50, "turn_back": ""},
        {"checkpoint_id": "junction3", "x": 50, "y": 99.2, "turn_back": ""},
    ]
    a = world.write_world(tmp_path / "a", cps)
    b = world.write_world(tmp_path / "b", cps[::-1])
    world.roads().iloc[::-1].to_file(b / "roads.geojson", driver="GeoJSON")
    docs = []
    for d in (a, b):
        out = d / "r.geojson"
        assert invoke(*audit_args(d, out)).exit_code == 1
        docs.append(json.loads(out.read_text(encoding="utf-8")))

    def strip(doc: dict) -> list[dict]:
        return [
            {**f, "properties": {k: v for k, v in f["properties"].items() if k != "source_row"}}
            for f in doc["features"]
        ]

    assert strip(docs[0]) == strip(docs[1])
    roads = {f["properties"]["subject_id"]: f["properties"]["road_ref"] for f in docs[0]["features"]}
    assert (roads["junction"], roads["junction2"], roads["junction3"]) == ("G105", "S304", "S303")
    assert docs[0]["metadata"]["counts"] == docs[1]["metadata"]["counts"]


# ------------------------------------------------------------------------------------------------------------
# arguments and outputs


def test_out_over_an_input_is_refused(data: Path) -> None:
    target = data / "roads.geojson"
    before = target.read_bytes()
    result = invoke(*audit_args(data, target, "--lang", "en"))  # errors in English (default: Chinese)
    assert result.exit_code == 2
    assert "never overwrites an input" in text(result)
    assert str(target) in text(result)
    assert target.read_bytes() == before


def test_out_in_a_missing_folder(data: Path, tmp_path: Path) -> None:
    result = invoke(*audit_args(data, tmp_path / "nope" / "r.geojson", "--lang", "en"))
    assert result.exit_code == 2
    assert "does not exist" in text(result)


def test_bad_out_prints_nothing_to_stdout(data: Path, tmp_path: Path) -> None:
    result = invoke(*audit_args(data, tmp_path / "nope" / "r.geojson", "--format", "geojson"))
    assert result.exit_code == 2
    assert result.stdout == ""


def test_unknown_output_extension(data: Path, tmp_path: Path) -> None:
    result = invoke(*audit_args(data, tmp_path / "r.docx"))
    assert result.exit_code == 2
    assert ".docx" in text(result) and ".xlsx" in text(result)  # names the file's extension and the ones that work


@pytest.mark.parametrize("bad", ["2020-13-16", "yesterday", "16/03/2020"])
def test_bad_as_of(data: Path, tmp_path: Path, bad: str) -> None:
    result = invoke("audit", "--data", str(data), "--as-of", bad, "--out", str(tmp_path / "r.geojson"))
    assert result.exit_code == 2
    assert bad in text(result) and "--as-of" in text(result)
    assert not (tmp_path / "r.geojson").exists()


def test_missing_data_folder(tmp_path: Path) -> None:
    result = invoke(*audit_args(tmp_path / "nope", tmp_path / "r.geojson"))
    assert result.exit_code == 2
    assert "nope" in text(result)


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "a", "x": 30, "y": 98}])
    (d / "roads.geojson").write_bytes(b'{"type": "FeatureCollection", "features": [')
    result = invoke(*audit_args(d, tmp_path / "r.geojson"))
    assert result.exit_code == 2
    assert "roads.geojson" in text(result)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_config_exits_2(data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "rules.toml"
    cfg.write_text("border_tolerance_m = 'far'\n", encoding="utf-8")
    result = invoke(*audit_args(data, tmp_path / "r.geojson", "--config", str(cfg)))
    assert result.exit_code == 2
    assert "border_tolerance_m" in text(result)


def test_config_file(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    cfg = tmp_path / "rules.toml"
    cfg.write_text("[rules]\nborder_tolerance_m = 1000\n", encoding="utf-8")
    out = tmp_path / "r.geojson"
    assert invoke(*audit_args(d, out)).exit_code == 0
    assert invoke(*audit_args(d, out, "--config", str(cfg))).exit_code == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["features"][0]["properties"]["verdict"] == "remove"
    assert doc["metadata"]["rules"]["border_tolerance_m"] == 1000.0


def test_format_json_prints_metadata(data: Path, tmp_path: Path) -> None:
    result = invoke(
        "audit",
        "--data",
        str(data),
        "--as-of",
        "2020年3月16日",
        "--out",
        str(tmp_path / "r.geojson"),
        "--format",
        "json",
    )
    assert result.exit_code == 1
    md = json.loads(result.stdout)
    assert md["as_of"] == AS_OF  # the Chinese date form is accepted
    assert md["counts"]["checkpoint"]["remove"] == 2


def test_out_dash_prints_the_geojson(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("audit", "--data", str(data), "--as-of", AS_OF, "--out", "-")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == 7
    assert list(tmp_path.iterdir()) == []  # nothing written to the working folder


def test_only_violation(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.geojson"
    assert invoke(*audit_args(data, out, "--only", "violation")).exit_code == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(f["properties"]["subject_id"] for f in doc["features"]) == ["remove", "river"]
    assert all(
        any(x["severity"] == "violation" for x in f["properties"]["findings"]) for f in doc["features"]
    )
    assert sum(doc["metadata"]["counts"]["checkpoint"].values()) == 7  # counts still cover every subject


def test_only_warning(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.geojson"
    invoke(*audit_args(data, out, "--only", "warning"))
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(f["properties"]["subject_id"] for f in doc["features"]) == [
        "express",
        "keep",
        "maybe",
        "nowhere",
        "remove",
        "river",
    ]  # "keep" here is the rejected duplicate


@pytest.mark.parametrize("ext", [".parquet", ".csv"])
def test_other_output_formats(data: Path, tmp_path: Path, report: tuple[Result, dict], ext: str) -> None:
    out = tmp_path / f"r{ext}"
    assert invoke(*audit_args(data, out)).exit_code == 1
    frame = (gpd.read_parquet(out) if ext == ".parquet"
             else pd.read_csv(out, dtype={"subject_id": str}, encoding="utf-8-sig"))  # CSV has a BOM, for Excel
    _, doc = report
    expected = [(f["properties"]["subject_id"], f["properties"]["verdict"]) for f in doc["features"]]
    assert list(zip(frame["subject_id"], frame["verdict"])) == expected
    assert list(frame.columns)[: len(COLUMNS)] == COLUMNS


def test_empty_checkpoints_layer(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "a", "x": 30, "y": 98}])
    (d / "checkpoints.csv").write_text("checkpoint_id,lon,lat\n", encoding="utf-8")
    out = tmp_path / "r.geojson"
    result = invoke(*audit_args(d, out))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["features"] == []
    assert doc["metadata"]["rows"]["checkpoints"]["input"] == 0


# ------------------------------------------------------------------------------------------------------------
# rules


def test_rules_lists_every_rule() -> None:
    result = invoke("rules")
    assert result.exit_code == 0
    for rid in ("TM101", "TM102", "TM103", "TM104", "TM105", "TM110", "TM111", "TM901", "TM902", "TM903"):
        assert rid in result.stdout


def test_rules_json() -> None:
    result = invoke("rules", "--format", "json")
    assert result.exit_code == 0
    docs = json.loads(result.stdout)
    ids = [d["id"] for d in docs]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert {"TM101", "TM102", "TM103", "TM104", "TM105", "TM110", "TM111"} <= set(ids)
    assert {i for i in ids if i.startswith("TM9")} >= {f"TM90{k}" for k in range(1, 8)}
    by_id = {d["id"]: d for d in docs}
    assert by_id["TM101"]["severity"] == "violation"
    assert by_id["TM101"]["clause"] == "九府发〔2020〕3号 (六)"
    assert "border_tolerance_m" in by_id["TM101"]["parameters"]
    assert all(d["summary"] and d["doc"] for d in docs if d["id"].startswith("TM1"))
