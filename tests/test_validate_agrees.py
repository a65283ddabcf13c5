"""``validate`` runs the audit's loading code: both reject the same rows, for the same reasons.

A GTFS feed (``tests/test_gtfs.py``) with two trips not in its calendar (T6, T7) and a stop ``EDGE`` 250 m east of
Jiujiang's eastern edge, where no boundary lies. Taken as WGS-84 the stop is outside every boundary and its trip T10
is rejected; taken as GCJ-02 (Amap) it converts ~500 m west, into 濂溪区, and T10 is audited. Either way ``validate``
and ``audit`` must list the same rejected rows, also when another file of the folder cannot be read.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import world
from test_gtfs import FEED_TRIPS, OCCUPANCY, data_folder, write_csv, write_feed, write_occupancy
from test_trips import AS_OF

import transportmon
from transportmon._errors import InputError
from transportmon.validate import validate_inputs

EDGE_TRIP = ("T10", "2020-02-05", 45, 10)


@pytest.fixture(scope="module")
def world_with_edge(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("agree")
    feed = write_feed(base / "feed")
    edge = world.checkpoints([{"stop_id": "EDGE", "x": 100.25, "y": 50.0}]).geometry.iloc[0]
    with open(feed / "stops.txt", "a", encoding="utf-8") as fh:
        fh.write(f"EDGE,站EDGE,{edge.y:.9f},{edge.x:.9f},0\n")
    with open(feed / "trips.txt", "a", encoding="utf-8") as fh:
        fh.write("R1,WK,T10\n")
    with open(feed / "stop_times.txt", "a", encoding="utf-8") as fh:
        fh.write("T10,08:00:00,08:00:00,JA,1,0,1\nT10,09:00:00,09:00:00,EDGE,2,1,0\n")
    occupancy = write_occupancy(base / "occupancy.csv", [r for r, _ in OCCUPANCY] + [EDGE_TRIP])
    return data_folder(base / "data"), feed, occupancy


def audited_rejections(result: transportmon.AuditResult) -> Counter[tuple[str, str, str]]:
    rep = result.report[result.report["verdict"] == "rejected"]
    return Counter(zip(rep["subject_id"].astype(str), rep["reason"].astype(str), rep["detail"].astype(str)))


def validated_rejections(found: object) -> Counter[tuple[str, str, str]]:
    rj = found.rejected  # type: ignore[attr-defined]
    return Counter(zip(rj["subject_id"].astype(str), rj["reason"].astype(str), rj["detail"].astype(str)))


@pytest.mark.parametrize(("datum", "edge_trip_rejected"), [("wgs84", True), ("gcj02", False)])
def test_validate_and_audit_reject_the_same_rows(world_with_edge: tuple[Path, Path, Path], datum: str,
                                                  edge_trip_rejected: bool) -> None:
    data, feed, occupancy = world_with_edge
    kwargs = {"gtfs": feed, "occupancy": occupancy, "datums": {"stops": datum}}
    audited = audited_rejections(transportmon.audit(data, as_of=AS_OF, **kwargs))
    found = validate_inputs(data, **kwargs)
    assert found.problems == []
    assert validated_rejections(found) == audited
    reasons = Counter(reason for _, reason, _ in audited.elements())
    assert reasons["not-in-calendar"] == 2  # T6, T7
    assert reasons["stop-outside-boundaries"] == (1 if edge_trip_rejected else 0)
    assert ("T10" in {i for i, _, _ in audited}) is edge_trip_rejected
    assert len(FEED_TRIPS) + 2 == found.to_dict()["layers"]["trips"]["rows"] == len(OCCUPANCY) + 1


def test_an_unreadable_file_does_not_change_the_other_rejections(world_with_edge: tuple[Path, Path, Path],
                                                                tmp_path: Path) -> None:
    data, feed, occupancy = world_with_edge
    kwargs = {"gtfs": feed, "occupancy": occupancy, "datums": {"stops": "wgs84"}}
    want = validated_rejections(validate_inputs(data, **kwargs))
    assert any(i == "T10" and reason == "stop-outside-boundaries" for i, reason, _ in want)
    broken = tmp_path / "data"
    broken.mkdir()
    for f in data.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    write_csv(broken / "checkpoints.csv", "name,lon,lat", [("A", 116, 29)])  # no checkpoint_id column
    with pytest.raises(InputError, match="checkpoints.csv"):
        transportmon.audit(broken, as_of=AS_OF, **kwargs)
    found = validate_inputs(broken, **kwargs)
    assert [Path(p.path).name for p in found.problems] == ["checkpoints.csv"]
    assert validated_rejections(found) == want  # the cross-layer checks of the other layers still ran
    assert found.exit_code == 2
