"""Re-audit whenever an input's content changes (DESIGN §8 ``transportmon watch``): the loop, without printing.

Every ``every`` seconds the SHA-256 of each input file is taken — every file in the data folder and its
sub-folders, and each layer, feed or ``rules.toml`` given by path — and when any differs from the last audit's (a file
changed, appeared or went), the inputs are audited again, the report is written atomically to ``out`` (a reader never
sees half a report) and compared with the previous one (:func:`transportmon.changes.compare`). Content decides, not
modification times: a file rewritten with the same bytes starts no audit, and a changed file whose time was kept
(``cp -p``, ``rsync -t``) still does. Every poll reads every input in full, so for inputs of hundreds of megabytes
choose ``every`` in minutes.

Skipped: hidden files (names starting with ``.``: the temporary files of an atomic write, editors' swap files),
office lock files (``~$…``) and ``out`` itself, whose writing must not start the next audit.

:func:`runs` yields one :class:`WatchRun` per audit; the command renders them. An audit that cannot run (a file
unreadable, half-written, or removed) is a run with its ``error``: the last good report stays as it was, and the
next change of content is audited again. The loop ends after ``max_runs`` audits (counting those that could not
run), or when the caller stops iterating (``KeyboardInterrupt`` from Ctrl-C leaves the last report intact: the write
is atomic).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import sleep
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._errors import InputError, TransportmonError

if TYPE_CHECKING:
    from .changes import ReportDiff
    from .pipeline import AuditResult

__all__ = ["WatchRun", "fingerprint", "runs", "sleep", "watched_files"]

#: Errors of an audit that could not run this time. Besides the project's own, a file caught mid-write can fail
#: inside a reader before it is recognised as unreadable; the watch says so and waits for the next change.
RUN_ERRORS = (TransportmonError, OSError, ValueError)


@dataclass
class WatchRun:
    """One audit of the watch."""

    number: int
    """1 for the first audit, then 2, 3 …"""
    changed: list[str]
    """Files changed, added or removed since the previous audit (every file on the first)."""
    result: AuditResult | None = None
    """The audit, or None when it could not run."""
    diff: ReportDiff | None = None
    """This report against the previous one (see :attr:`previous`); against an empty report when there is none."""
    previous: str | None = None
    """What :attr:`diff` compared with: ``"run N"``, the report found at ``out`` when the watch started, or None."""
    error: Exception | None = None
    """Why the audit could not run or its report could not be written; the last good report stays."""
    notes: list[str] = field(default_factory=list)
    """Lines to show: a file at ``out`` that is not a report, replaced by the first audit."""

    @property
    def exit_code(self) -> int:
        """The diff's alerting rule (1 when this run brought a finding at or above ``fail_on`` that the previous
        report did not have), 2 when the audit could not run."""
        if self.error is not None or self.diff is None:
            return 2
        return self.diff.exit_code


def watched_files(paths: Iterable[str | os.PathLike[str]], skip: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """The files a watch hashes: each file given, and every file under each folder given (see the module's note on
    what is skipped), sorted."""
    skipped = {Path(os.path.abspath(p)) for p in skip}
    found: set[Path] = set()
    for given in paths:
        p = Path(os.path.abspath(given))
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.update(Path(root) / f for f in files if not f.startswith((".", "~$")))
        else:
            found.add(p)  # a given file that is missing counts too: its coming back is a change
    return sorted(f for f in found if f not in skipped)


def fingerprint(files: Iterable[Path]) -> dict[str, str]:
    """``{path: SHA-256}`` of the files that can be read now (one removed or unreadable is left out)."""
    from .io.read import sha256

    out: dict[str, str] = {}
    for f in files:
        try:
            out[str(f)] = sha256(f)
        except OSError:  # removed since it was listed, or not readable: absent, so its return is a change
            pass
    return out


def _changed(before: dict[str, str] | None, now: dict[str, str]) -> list[str]:
    if before is None:
        return sorted(now)
    return sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))


def runs(watch: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], *, every: float = 60.0,
         max_runs: int | None = None, fail_on: str = "violation", inputs: Iterable[str | os.PathLike[str]] = (),
         **audit_args: Any) -> Iterator[WatchRun]:
    """Audit, write ``out`` and compare, once at the start and again after each change of the inputs' content.

    Parameters
    ----------
    watch
        Files and folders whose content starts an audit (the data folder, layers, a GTFS feed, ``rules.toml``).
    out
        The report (``.geojson``, ``.parquet`` or ``.csv``), replaced atomically after each audit. A report already
        there when the watch starts is what the first audit is compared with.
    every
        Seconds between two looks at the inputs.
    max_runs
        End after this many audits (those that could not run count); None: until the caller stops.
    fail_on
        The alerting severity of each diff (:func:`transportmon.changes.compare`).
    inputs
        The files given on the command line, never written over (the report's own inputs are added per audit).
    audit_args
        What :func:`transportmon.audit` takes (``data``, layer paths, ``as_of``, ``config`` …).
    """
    from .changes import compare
    from .io.report import read_report
    from .io.write import write_report
    from .pipeline import audit

    if every < 0:
        raise ValueError(f"every={every}: give a number of seconds ≥ 0")
    given = [Path(p) for p in inputs]
    previous: tuple[pd.DataFrame, dict[str, Any]] | None = None
    label: str | None = None
    notes: list[str] = []
    if Path(out).is_file():
        try:
            previous, label = read_report(out), f"{out} (written before this watch)"
        except InputError as exc:
            notes.append(f"the file at {out} is not a report that can be compared ({exc.problem}); it is replaced")
    last: dict[str, str] | None = None
    number = 0
    while max_runs is None or number < max_runs:
        now = fingerprint(watched_files(watch, skip=[out]))
        if now != last:
            changed, last = _changed(last, now), now
            number += 1
            run = WatchRun(number=number, changed=changed, notes=notes)
            notes = []
            try:
                result = audit(keep_layers=False, **audit_args)
                used = given + [Path(m["path"]) for m in result.metadata.get("inputs", {}).values() if m.get("path")]
                write_report(result.report, result.metadata, str(out), inputs=used)
            except RUN_ERRORS as exc:
                run.error = exc
                yield run
                continue
            old = previous if previous is not None else (result.report.iloc[:0], {})
            run.result, run.previous = result, label
            # A policy changed between runs is the user's own rules.toml: compared anyway, the diff shows both.
            run.diff = compare(old[0], result.report, old[1], result.metadata, force=True, fail_on=fail_on,
                               names=(label or "nothing", str(out)))
            previous, label = (result.report, result.metadata), f"run {number}"
            yield run
            if max_runs is not None and number >= max_runs:
                return
        sleep(every)
