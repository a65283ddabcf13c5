"""The words transportmon decides with, each defined once: the policy, verdicts, risk levels, road classes, datums
and the admin hierarchy. Every module imports them from here; none spells them out again.

The rejection reasons are not here: each is declared with the input rule that reports it, in
:mod:`transportmon.rules.inputs` (``Reason``).

This module imports nothing from the package, so any module may import it.
"""

from __future__ import annotations

from typing import Final, Literal

#: The clause every rule enforces and every finding cites (``policy`` in ``rules.toml`` may name another).
POLICY: Final = "九府发〔2020〕3号 (六)"

CheckpointVerdict = Literal["keep", "remove", "review", "inactive", "rejected"]
#: A checkpoint's verdicts, in the order maps and summaries list them.
CHECKPOINT_VERDICTS: Final[tuple[CheckpointVerdict, ...]] = ("keep", "remove", "review", "inactive", "rejected")

TripVerdict = Literal["over-cap", "compliant", "not-applicable", "rejected"]
#: A coach trip's verdicts; the first three are decided by the rules, in this order (categorical codes).
TRIP_VERDICTS: Final[tuple[TripVerdict, ...]] = ("over-cap", "compliant", "not-applicable", "rejected")

RouteVerdict = Literal["restored", "partial", "suspended", "new"]
ROUTE_VERDICTS: Final[tuple[RouteVerdict, ...]] = ("restored", "partial", "suspended", "new")

RiskLevel = Literal["low", "medium", "high"]
#: Designation levels, least severe first (the order of the ordered categorical of levels).
RISK_LEVELS: Final[tuple[RiskLevel, ...]] = ("low", "medium", "high")
#: Each level in Chinese, as messages say it (高风险地区).
RISK_LEVEL_ZH: Final[dict[RiskLevel, str]] = {"high": "高", "medium": "中", "low": "低"}
#: The levels that trigger the occupancy cap by default (中高风险地区).
CAPPED_RISK_LEVELS: Final[tuple[RiskLevel, ...]] = ("high", "medium")

RoadClass = Literal["expressway", "national", "provincial", "county", "township", "village", "urban", "other"]
#: Road classes, from the highest.
ROAD_CLASSES: Final[tuple[RoadClass, ...]] = (
    "expressway", "national", "provincial", "county", "township", "village", "urban", "other")
#: Each road class in Chinese (国道 …).
ROAD_CLASS_ZH: Final[dict[RoadClass, str]] = {
    "expressway": "高速公路", "national": "国道", "provincial": "省道", "county": "县道", "township": "乡道",
    "village": "村道", "urban": "城市道路", "other": "其他道路"}
#: Each road class as an English noun: "national road G105" with a ref, "a national road" without one.
ROAD_CLASS_EN: Final[dict[RoadClass, str]] = {
    "expressway": "expressway", "national": "national road", "provincial": "provincial road",
    "county": "county road", "township": "township road", "village": "village road", "urban": "urban street",
    "other": "road"}
#: The classes clause (六) names: 国道、省道、县道、乡道、村道.
COVERED_CLASSES: Final[tuple[RoadClass, ...]] = ("national", "provincial", "county", "township", "village")

Datum = Literal["wgs84", "gcj02", "bd09"]
#: Coordinate datums an input layer may be in; WGS-84 is what every layer is converted to.
DATUMS: Final[tuple[Datum, ...]] = ("wgs84", "gcj02", "bd09")

AdminLevel = Literal["province", "city", "county"]
#: The admin hierarchy, coarsest first.
ADMIN_LEVELS: Final[tuple[AdminLevel, ...]] = ("province", "city", "county")
#: Rank of each admin level: higher is more specific (a county designation beats its city's).
ADMIN_RANK: Final[dict[AdminLevel, int]] = {level: rank for rank, level in enumerate(ADMIN_LEVELS)}
