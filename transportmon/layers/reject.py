"""Rejected rows: collected while a layer is validated (:class:`Rejector`) or moved out of a validated layer by a
cross-layer check (:func:`reject_rows`). A rejected row keeps its input row number, its id, a reason and a detail."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from ..source_rows import first_occurrence, source_rows
from .cells import text_ids
from .geometry import in_lonlat, present
from .schema import KEPT_WHEN_REJECTED, REJECTED_COLUMNS, SUBJECT, Layer

#: The detail of rejected rows, computed for the rows of a boolean mask only.
Detail = Callable[[np.ndarray], pd.Series]


class Rejector:
    """Collects rejected rows of a layer, first reason wins (a row is rejected once).

    The state is a numpy flag per row and, per :meth:`reject` call, the positions it rejected with their details:
    nothing is built per row for a layer of ten million rows where few or none are rejected.
    """

    def __init__(self, layer: str, frame: pd.DataFrame, id_col: str | None, ids: pd.Series | None = None) -> None:
        self.layer = layer
        self.frame = frame
        if ids is not None:
            self.ids = ids
        else:
            self.ids = text_ids(frame[id_col]) if id_col and id_col in frame.columns else pd.Series(
                pd.NA, index=frame.index, dtype="string")
        self.usable = np.ones(len(frame), dtype=bool)  # per row: not rejected (yet)
        self._parts: list[tuple[np.ndarray, str, pd.Series | str]] = []

    def reject(self, mask: pd.Series | np.ndarray, reason: str, detail: pd.Series | str | Detail = "") -> None:
        """Reject the rows of ``mask`` not rejected yet. ``detail`` is text, a Series aligned with the frame, or a
        callable that gives the detail of the rows of a boolean mask (called only for the rows rejected here)."""
        mask = np.asarray(mask, dtype=bool) & self.usable
        if not mask.any():  # also spares an empty layer's details, which may not be Series-shaped
            return
        self.usable &= ~mask
        if callable(detail):
            detail = detail(mask)
            text: pd.Series | str = pd.Series(detail, dtype="string") if not isinstance(detail, pd.Series) else \
                detail.astype("string")
        elif isinstance(detail, pd.Series):
            text = detail[pd.Series(mask, index=self.frame.index)].astype("string")
        else:
            text = detail
        self._parts.append((np.flatnonzero(mask), reason, text))

    def rejected(self) -> pd.DataFrame:
        bad = pd.Series(~self.usable, index=self.frame.index)
        positions = np.flatnonzero(~self.usable)
        reasons = np.empty(len(positions), dtype=object)
        details = np.full(len(positions), None, dtype=object)
        for where, reason, text in self._parts:
            at = np.searchsorted(positions, where)
            reasons[at] = reason
            details[at] = text if isinstance(text, str) else text.to_numpy(dtype=object, na_value=None)
        index = self.frame.index[bad.to_numpy()]
        shown = pd.Series(source_rows(self.frame, bad.to_numpy()), index=index)  # i16: rows as the user sees them
        ids = self.ids[bad].fillna("row " + shown.astype("string"))
        out = pd.DataFrame({
            "subject": SUBJECT.get(self.layer, self.layer),
            "subject_id": ids.astype(str),
            "reason": pd.Series(reasons, index=index, dtype="string").astype(str),
            "detail": pd.Series(details, index=index, dtype="string").fillna("").astype(str),
            "row": self.frame.loc[bad, "row"].astype("int64"),
            "source_row": shown,
        }, index=index)
        for col in KEPT_WHEN_REJECTED.get(self.layer, ()):
            if col in self.frame.columns:
                out[col] = self.frame.loc[bad, col]
        if isinstance(self.frame, gpd.GeoDataFrame):
            geoms = self.frame.geometry[bad]
            # Only a usable geometry goes to the report; an invalid one, or one outside lon/lat (projected
            # coordinates, swapped lon/lat), would make the GeoJSON invalid.
            b = geoms.bounds
            in_range = in_lonlat(b)
            keep = present(geoms) & geoms.is_valid & in_range
            return gpd.GeoDataFrame(out, geometry=geoms.where(keep, None), crs="EPSG:4326")
        return out


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("row", "source_row") else "object")
                         for c in REJECTED_COLUMNS})


def same_as(frame: pd.DataFrame, mask: np.ndarray, *keys: pd.Series, what: str) -> pd.Series:
    """``same {what} as row 7`` for the rows of ``mask`` (a duplicate's detail): the first row with the same key(s),
    numbered as the user sees it (:mod:`transportmon.source_rows`)."""
    first = first_occurrence(*keys)[mask]
    rows = source_rows(frame)[first]
    return pd.Series([f"same {what} as row {r}" for r in rows], dtype="string")


def concat_rejected(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """All rejected rows of all layers in one frame (geometry where a layer had one)."""
    frames = [p for p in parts if len(p)]
    if not frames:
        return empty_rejected()
    return pd.concat(frames, ignore_index=True)


def reject_rows(layer: Layer, mask: pd.Series | np.ndarray, reason: str,
                detail: pd.Series | str | Detail = "") -> None:
    """Move rows of ``layer.frame`` where ``mask`` holds into ``layer.rejected`` (cross-layer checks).

    ``detail``: text, a Series aligned with the frame, or a callable giving the details of the rows of a boolean
    mask (computed for the rejected rows only)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    bad = layer.frame[mask]
    id_col = {"trips": "trip_id", "stop_times": "trip_id", "stops": "stop_id", "checkpoints": "checkpoint_id"}[layer.name]
    if callable(detail):
        detail = detail(mask)
        det = (detail if isinstance(detail, pd.Series) else pd.Series(detail, dtype=object)).astype(str).to_numpy()
    else:
        det = detail[mask].astype(str).to_numpy() if isinstance(detail, pd.Series) else detail
    layer.codes.keep(~mask)
    moved = pd.DataFrame({
        "subject": SUBJECT.get(layer.name, layer.name), "subject_id": bad[id_col].astype(str).to_numpy(),
        "reason": reason, "detail": det, "row": bad["row"].astype("int64").to_numpy(),
        "source_row": source_rows(bad),
    })
    for col in KEPT_WHEN_REJECTED.get(layer.name, ()):
        if col in bad.columns:
            moved[col] = bad[col].to_numpy()
    if isinstance(bad, gpd.GeoDataFrame):
        moved = gpd.GeoDataFrame(moved, geometry=bad.geometry.to_numpy(), crs="EPSG:4326")
    layer.rejected = pd.concat([layer.rejected, moved], ignore_index=True) if len(layer.rejected) else moved
    layer.frame = layer.frame[~mask]
