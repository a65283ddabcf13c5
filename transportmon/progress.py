"""The stages of a run, told to a callback the caller gives: the API never prints, the command line draws them.

``transportmon.audit(..., progress=callback)`` calls ``callback(stage)`` with a :class:`Stage` as each step begins:

====================  ================================================================================
``key``               what begins
====================  ================================================================================
``read``              reading and validating one layer file (``layer``; ``done`` of ``total`` files)
``check``             the cross-layer checks (trips ↔ stop_times ↔ stops, designations ↔ boundaries)
``roads``             the road network and the exempt border with its crossings
``checkpoints``       snapping checkpoints to roads and measuring along the network
``trips``             judging the coach trips (``total``: their number; ``done``: how many are judged, when the
                      report is written as they are)
``report``            assembling the report
====================  ================================================================================

The command line adds ``write`` (the report file) and ``map``. A callback must not raise; its return value is
ignored. Without one (the default) nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["STAGES", "Progress", "Stage", "tell"]

StageKey = Literal["read", "check", "roads", "checkpoints", "trips", "report", "write", "map"]
#: The stages in the order a run goes through them.
STAGES: tuple[StageKey, ...] = ("read", "check", "roads", "checkpoints", "trips", "report", "write", "map")


@dataclass(frozen=True)
class Stage:
    """A step that begins: its ``key`` (:data:`STAGES`), the layer it reads, and how far a counted step is."""

    key: StageKey
    layer: str | None = None
    done: int | None = None
    total: int | None = None


Progress = Callable[[Stage], object]


def tell(progress: Progress | None, key: StageKey, *, layer: str | None = None, done: int | None = None,
         total: int | None = None) -> None:
    """Call ``progress`` with the stage, when there is a callback."""
    if progress is not None:
        progress(Stage(key, layer=layer, done=done, total=total))
