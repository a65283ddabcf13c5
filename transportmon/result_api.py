"""What a notebook user does with an audit's result: look at it, its exit code, write it, draw it.

:class:`ResultAPI` is mixed into :class:`transportmon.pipeline.AuditResult`:

- ``repr(result)``: the as-of date, the subjects by verdict, the subjects with violations and warnings;
- ``result.exit_code``: the command line's exit code with the default ``--fail-on violation`` (0 no violation, 1
  violations), an ``int``; ``result.exit_code_for("warning")`` for another threshold. ``result.exit_code("warning")``,
  the earlier method form, still works (the code is a callable ``int``);
- ``result.write(path)``: any report form by its extension (``.geojson``, ``.parquet``, ``.csv``, ``.xlsx``,
  ``.gpkg``) with its metadata, as ``transportmon audit --out`` writes it;
- ``result.report.explore()``: GeoPandas' interactive map (folium, mapclassify), the nested ``findings`` and
  ``risk_stops`` shown as text.
"""

from __future__ import annotations

import os
from typing import Any

import geopandas as gpd

from .vocab import CHECKPOINT_VERDICTS, ROUTE_VERDICTS, TRIP_VERDICTS

__all__ = ["ExitCode", "ReportFrame", "ResultAPI", "exit_code_for"]

FAIL_ON = ("never", "warning", "violation")


def exit_code_for(findings: dict[str, int], fail_on: str = "violation") -> int:
    """0 when no subject has a finding at or above ``fail_on`` (never|warning|violation), else 1 (``findings``: the
    metadata's subjects per worst severity)."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on={fail_on!r}; use never, warning or violation")
    if fail_on == "never":
        return 0
    severe = findings.get("violation", 0) + (findings.get("warning", 0) if fail_on == "warning" else 0)
    return 1 if severe else 0


class ExitCode(int):
    """The exit code for ``--fail-on violation``; called with another ``fail_on``, the code for that one."""

    _findings: dict[str, int]

    def __new__(cls, findings: dict[str, int]) -> ExitCode:
        code = super().__new__(cls, exit_code_for(findings))
        code._findings = dict(findings)
        return code

    def __call__(self, fail_on: str = "violation") -> int:
        return exit_code_for(self._findings, fail_on)


class ReportFrame(gpd.GeoDataFrame):
    """The report frame (DESIGN §4). A GeoDataFrame in every way; :meth:`explore` draws the nested columns as text
    (folium cannot serialise Arrow lists). Slices and copies keep the class, as GeoPandas keeps a subclass."""

    def explore(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`geopandas.GeoDataFrame.explore` with ``findings`` and ``risk_stops`` as JSON text."""
        from .io.encode import flat_columns

        return gpd.GeoDataFrame.explore(gpd.GeoDataFrame(flat_columns(self)), *args, **kwargs)


def _ordered(verdicts: dict[str, int]) -> list[tuple[str, int]]:
    known = [v for v in dict.fromkeys([*CHECKPOINT_VERDICTS, *TRIP_VERDICTS, *ROUTE_VERDICTS]) if v != "rejected"]
    order = {v: i for i, v in enumerate([*known, "rejected"])}  # the verdicts as the rules decide them, rejected last
    return sorted(verdicts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


class ResultAPI:
    """The notebook face of an audit result (see the module docstring); needs ``report`` and ``metadata``."""

    report: gpd.GeoDataFrame
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        if type(self.report) is gpd.GeoDataFrame:  # a subclass given stays as it is
            self.report = ReportFrame(self.report, copy=False)

    @property
    def exit_code(self) -> ExitCode:
        """The command line's exit code with ``--fail-on violation``: 0 no violation, 1 violations found."""
        return ExitCode(self.metadata["findings"])

    def exit_code_for(self, fail_on: str = "violation") -> int:
        """The exit code with ``--fail-on`` ``never``, ``warning`` or ``violation``."""
        return exit_code_for(self.metadata["findings"], fail_on)

    def __repr__(self) -> str:
        md = self.metadata
        findings = md.get("findings", {})
        counts: dict[str, dict[str, int]] = md.get("counts", {})
        subjects = sum(n for verdicts in counts.values() for n in verdicts.values())
        head = (f"{type(self).__name__}(as_of={md.get('as_of')!r}, subjects={subjects}, "
                f"violations={findings.get('violation', 0)}, warnings={findings.get('warning', 0)})")
        width = max((len(s) for s in counts), default=0)
        lines = [f"  {subject:<{width}}  " + ", ".join(f"{v} {n}" for v, n in _ordered(verdicts))
                 for subject, verdicts in counts.items()]
        return "\n".join([head, *lines])

    def write(self, path: str | os.PathLike[str], *, lang: str = "zh", only: str | None = None) -> str:
        """Write the report to ``path`` in the form its extension names, with its metadata, atomically.

        Parameters
        ----------
        path
            ``.geojson``, ``.parquet``, ``.csv``, ``.xlsx`` or ``.gpkg`` (never one of the inputs).
        lang
            Language of the desk forms (xlsx sheets and headers, GeoPackage style labels): ``zh`` or ``en``.
        only
            ``violation`` or ``warning``: only the subjects with such findings; the metadata records it
            (``only``) and its counts still cover every subject.

        Returns
        -------
        The format written (``geojson``, ``parquet``, ``csv``, ``xlsx`` or ``gpkg``).
        """
        from .io.write import write_report
        from .report import filter_only

        metadata = dict(self.metadata, only=only) if only else self.metadata
        inputs = [m["path"] for m in self.metadata.get("inputs", {}).values() if m.get("path")]
        spilled = getattr(self, "spilled", None)
        if spilled is not None and spilled.folder is None:
            from ._errors import ConfigError

            raise ConfigError("the trips were written to the report file as they were judged and not kept "
                              "(audit(..., keep_trips=False)): audit again to write another report")
        if spilled is not None:  # a Dask audit's trips, in the workers' parts: merged in as they are written
            from .io.stream import write_spilled

            return write_spilled(self.report, metadata, spilled, os.fspath(path), inputs=inputs, lang=lang, only=only)
        return write_report(filter_only(self.report, only), metadata, os.fspath(path), inputs=inputs, lang=lang)
