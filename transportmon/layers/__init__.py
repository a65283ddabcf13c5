"""Validated layers, and the rows that could not be used with the reason why.

The flow: :mod:`~transportmon.layers.schema` (the contract: columns, header aliases, geometry types),
:mod:`~transportmon.layers.cells` (cell parsers), :mod:`~transportmon.layers.geometry` (geometry checks and repair),
:mod:`~transportmon.layers.reject` (rejected rows), :mod:`~transportmon.layers.validators` (one ``validate_*`` per
layer) and :mod:`~transportmon.layers.references` (checks across layers: stop_times → trips and stops).
"""

from ..dates import parse_dates
from .cells import (
    FALSE_WORDS,
    SERVICE_TYPE_WORDS,
    SERVICE_TYPES,
    TRUE_WORDS,
    arrow_text,
    as_text,
    parse_bools,
    parse_ints,
    run_starts,
    service_types,
)
from .geometry import in_lonlat, present, repair
from .references import TRIP_REASONS, check_trip_references
from .reject import Rejector, concat_rejected, empty_rejected, reject_rows
from .schema import (
    ALIASES,
    CONTRACT_COLUMNS,
    GEOMETRY_TYPES,
    KEPT_WHEN_REJECTED,
    LAT_NAMES,
    LON_NAMES,
    REJECTED_COLUMNS,
    REQUIRED,
    SUBJECT,
    Layer,
    StopTimesCodes,
    TripRuns,
    alias_mapping,
    column_key,
    is_known_column,
    rename_aliases,
    require_columns,
)
from .validators import (
    LEVEL_WORDS,
    risk_detail,
    validate_boundaries,
    validate_checkpoints,
    validate_risk_areas,
    validate_roads,
    validate_stop_times,
    validate_stops,
    validate_trips,
)

__all__ = [
    "ALIASES", "CONTRACT_COLUMNS", "FALSE_WORDS", "GEOMETRY_TYPES", "KEPT_WHEN_REJECTED", "LAT_NAMES", "LEVEL_WORDS", "LON_NAMES",
    "REJECTED_COLUMNS", "REQUIRED", "SERVICE_TYPES", "SERVICE_TYPE_WORDS", "SUBJECT", "TRIP_REASONS",
    "TRUE_WORDS", "Layer", "StopTimesCodes", "TripRuns", "Rejector", "alias_mapping", "arrow_text", "as_text", "check_trip_references", "column_key",
    "concat_rejected", "empty_rejected", "in_lonlat", "is_known_column", "parse_bools", "parse_dates", "parse_ints",
    "present", "reject_rows", "rename_aliases", "repair", "require_columns", "risk_detail", "run_starts",
    "service_types", "validate_boundaries", "validate_checkpoints", "validate_risk_areas", "validate_roads",
    "validate_stop_times", "validate_stops", "validate_trips",
]
