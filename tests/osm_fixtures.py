"""Small hand-built OSM XML files for the osmnx front door (tests/test_osm.py).

``border_town_osm`` is a town on a pretend provincial border at ``lon = BORDER_LON``::

      9 ====ferry 104==== 10                                   lat 29.72
      |                    \\  106 (10→11) + 107 (11→4), same name: merged "106;107"
     105                    11
      |                      \\
  1 --2------3------|----4-------5=========6         lat 29.70   101 trunk G105 (1-2-3-4-5), two-way
                   |    :            102 primary ``G105;S303`` (5-6)
                   12 footway 108    103 tertiary one-way 6 → 7 → 5 (7 below the line)
                        (dropped)    109 a building (dropped)

Node 3 is a junction only with the footway, so once the footway is dropped the trunk runs 2 → 4 as one edge.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path

#: The pretend provincial border (a meridian) the ferry and the G-road cross.
BORDER_LON = 115.95

Node = tuple[float, float]  # (lon, lat)
Way = tuple[int, list[int], Mapping[str, str]]  # (id, node ids, tags)


def write_osm_xml(
    path: str | os.PathLike[str],
    nodes: Mapping[int, Node],
    ways: Iterable[Way],
    *,
    generator: str = "transportmon tests",
) -> Path:
    """Write a valid OSM XML (API 0.6) file with these nodes (id → (lon, lat)) and ways; return its path."""
    root = ET.Element("osm", version="0.6", generator=generator)
    for node_id, (lon, lat) in nodes.items():
        ET.SubElement(root, "node", id=str(node_id), version="1", lat=f"{lat:.7f}", lon=f"{lon:.7f}")
    for way_id, refs, tags in ways:
        way = ET.SubElement(root, "way", id=str(way_id), version="1")
        for ref in refs:
            ET.SubElement(way, "nd", ref=str(ref))
        for key, value in tags.items():
            ET.SubElement(way, "tag", k=key, v=value)
    ET.indent(root)
    out = Path(path)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return out


BORDER_TOWN_NODES: dict[int, Node] = {
    1: (115.90, 29.70),
    2: (115.93, 29.70),
    3: (115.94, 29.70),
    4: (115.97, 29.70),
    5: (116.00, 29.70),
    6: (116.05, 29.70),
    7: (116.025, 29.69),
    9: (115.93, 29.72),
    10: (115.97, 29.72),
    11: (115.975, 29.71),
    12: (115.94, 29.69),
    13: (115.91, 29.68),
    14: (115.911, 29.68),
    15: (115.911, 29.681),
}

BORDER_TOWN_WAYS: list[Way] = [
    (101, [1, 2, 3, 4, 5], {"highway": "trunk", "ref": "G105", "name": "105国道"}),
    (102, [5, 6], {"highway": "primary", "ref": "G105;S303", "name": "105国道"}),
    (103, [6, 7, 5], {"highway": "tertiary", "oneway": "yes", "name": "滨江路"}),
    (104, [9, 10], {"route": "ferry", "name": "九江轮渡", "motor_vehicle": "yes"}),
    (105, [2, 9], {"highway": "residential", "name": "码头路"}),
    (106, [10, 11], {"highway": "residential", "name": "江边路"}),
    (107, [11, 4], {"highway": "residential", "name": "江边路"}),
    (108, [3, 12], {"highway": "footway"}),
    (109, [13, 14, 15, 13], {"building": "yes"}),
]


def border_town_osm(path: str | os.PathLike[str]) -> Path:
    """Write the border-town network (see the module docstring) to ``path``."""
    return write_osm_xml(path, BORDER_TOWN_NODES, BORDER_TOWN_WAYS)
