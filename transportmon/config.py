"""Every rule parameter with its default, and loading them from ``rules.toml``.

Another city, another exempt border, another cap are configuration, not code: everything a rule compares against
lives here.

Example ``rules.toml``::

    jurisdiction = "360400"          # Jiujiang
    exempt_neighbours = ["420000"]   # Hubei
    snap_tolerance_m = 150
    border_tolerance_m = 3000
    border_epsilon_m = 250
    occupancy_cap = "1/2"            # a fraction, compared in integer arithmetic
    covered_classes = ["national", "provincial", "county", "township", "village"]
    policy = "九府发〔2020〕3号 (六)"
    effective = 2020-03-04           # the clause's date; checkpoints to remove are due by
    rectify_days = 0                 # effective + rectify_days
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from ._errors import ConfigError
from .vocab import CAPPED_RISK_LEVELS, COVERED_CLASSES, POLICY, ROAD_CLASSES

__all__ = ["DEFAULT", "POLICY", "ROAD_CLASSES", "RuleConfig", "load_config", "make_config"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib



@dataclass(frozen=True)
class RuleConfig:
    """The parameters of every rule. Defaults are the Jiujiang 2020 reading of clause (六)."""

    jurisdiction: str = "360400"
    """adcode of the auditing jurisdiction (Jiujiang City)."""
    exempt_neighbours: tuple[str, ...] = ("420000",)
    """adcodes whose shared boundary exempts checkpoints (Hubei)."""
    snap_tolerance_m: float = 150.0
    """A checkpoint farther than this from every road cannot be placed on a road: ``review``."""
    border_tolerance_m: float = 3000.0
    """Along-network distance to a border crossing within which a checkpoint is "at the border" (inclusive)."""
    border_epsilon_m: float = 250.0
    """How far the neighbour's polygon may be from the jurisdiction's boundary and still count as shared.

    Boundaries from different sources never share vertices; the GCJ-02 inverse leaves ~20 m, source
    generalisation a few hundred metres."""
    occupancy_cap: Fraction = Fraction(1, 2)
    """Seat-occupancy cap for coaches touching high/medium-risk areas; compared exactly: ``passengers > cap × seats``."""
    covered_classes: tuple[str, ...] = COVERED_CLASSES
    """Road classes clause (六) names (国道、省道、县道、乡道、村道)."""
    capped_service_types: tuple[str, ...] = ("scheduled", "charter")
    """班车 and 包车."""
    risk_levels: tuple[str, ...] = CAPPED_RISK_LEVELS
    """Designation levels that trigger the cap."""
    metric_crs: str | None = None
    """CRS for distances; default: the UTM zone of the jurisdiction (EPSG:326xx)."""
    policy: str = POLICY
    """The clause cited in every finding."""
    effective: date = date(2020, 3, 4)
    """The date the clause takes effect (九府发〔2020〕3号 is dated 2020-03-04)."""
    rectify_days: int = 0
    """Days allowed after ``effective`` to remove a checkpoint: a ``remove`` checkpoint is overdue from
    :attr:`due` on."""

    @property
    def due(self) -> date:
        """The day a checkpoint to remove should be gone by: ``effective + rectify_days``."""
        return self.effective + timedelta(days=self.rectify_days)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the report's metadata (fractions as ``"1/2"``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Fraction):
                value = f"{value.numerator}/{value.denominator}"
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def _fraction(value: Any) -> Fraction:
    try:
        frac = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"occupancy_cap: {value!r} is not a number or fraction (use 0.5 or \"1/2\")") from exc
    if not 0 < frac <= 1:
        raise ConfigError(f"occupancy_cap: {value!r} must be in (0, 1]")
    return frac


def _day(key: str, value: Any) -> date:
    """A date given in TOML (``2020-03-04``, read as a date) or as text ``"2020-03-04"``."""
    if isinstance(value, datetime):  # a TOML date-time: the day is meant, a time of day would be dropped silently
        raise ConfigError(f"{key}: {value!r} has a time of day; give the date alone (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{key}: {value!r} is not a date (use YYYY-MM-DD, e.g. 2020-03-04)") from exc


def _days(key: str, value: Any) -> int:
    """A whole number of days ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not re.fullmatch(r"\s*\d+\s*", value)):
        raise ConfigError(f"{key}: {value!r} is not a whole number of days (use 0, 7, …)")
    if int(value) < 0:
        raise ConfigError(f"{key}: {value!r} must be ≥ 0 days")
    return int(value)


def make_config(**values: Any) -> RuleConfig:
    """Build a :class:`RuleConfig` from plain values, checking names, types and ranges."""
    known = {f.name: f for f in dataclasses.fields(RuleConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown rule parameter {key!r}; allowed: {', '.join(sorted(known))}")
        if key == "occupancy_cap":
            kwargs[key] = _fraction(value)
        elif key in ("exempt_neighbours", "covered_classes", "capped_service_types", "risk_levels"):
            if isinstance(value, str):
                value = [value]
            kwargs[key] = tuple(str(v) for v in value)
        elif key in ("snap_tolerance_m", "border_tolerance_m", "border_epsilon_m"):
            try:
                number = float(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{key}: {value!r} is not a number of metres") from exc
            if not number >= 0:
                raise ConfigError(f"{key}: {value!r} must be ≥ 0 metres")
            kwargs[key] = number
        elif key == "effective":
            kwargs[key] = _day(key, value)
        elif key == "rectify_days":
            kwargs[key] = _days(key, value)
        else:
            kwargs[key] = None if value is None else str(value)
    bad = [c for c in kwargs.get("covered_classes", ()) if c not in ROAD_CLASSES]
    if bad:
        raise ConfigError(f"covered_classes: {bad} unknown; allowed: {', '.join(ROAD_CLASSES)}")
    return RuleConfig(**kwargs)


def load_config(path: str | Path | None, **overrides: Any) -> RuleConfig:
    """Read ``rules.toml`` (a flat table, or a ``[rules]`` table) and apply ``overrides`` on top."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the rule configuration ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        values.update(data.get("rules", data))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(**values)


DEFAULT = RuleConfig()
