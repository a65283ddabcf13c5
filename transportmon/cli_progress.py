"""The command line's drawing of a run's stages (:mod:`transportmon.progress`) on stderr.

Drawn only when stderr is a terminal and ``--quiet`` is not given: a spinner with the stage in the language of
``--lang``, a bar while layers are read (and while trips are judged as the report is written), the time elapsed; it
disappears when the run ends, so the summary stands alone. Redirected to a file or a pipe, or with ``--quiet``,
nothing extra is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .progress import Progress as Callback
from .progress import Stage

__all__ = ["STAGE_TEXT", "progress_display", "stage_text"]

#: Each stage as the line says it (``{layer}``, ``{done}``, ``{total}`` filled in).
STAGE_TEXT = {
    "zh": {"read": "读取图层 {layer}", "check": "交叉核对图层", "roads": "构建路网、豁免边界与路口",
           "checkpoints": "核查检测点", "trips": "核查班次", "report": "汇总报告", "write": "写出报告 {layer}",
           "map": "绘制地图 {layer}"},
    "en": {"read": "reading {layer}", "check": "cross-checking the layers", "roads": "roads, exempt border, crossings",
           "checkpoints": "judging checkpoints", "trips": "judging coach trips", "report": "assembling the report",
           "write": "writing {layer}", "map": "drawing {layer}"},
}


def stage_text(stage: Stage, lang: str = "zh") -> str:
    """The line of a stage: ``读取图层 stops 2/6``, ``judging coach trips (32)``, ``judging coach trips 16/32``."""
    text = STAGE_TEXT.get(lang, STAGE_TEXT["en"])[stage.key].format(layer=stage.layer or "").strip()
    if stage.key == "read" and stage.total and stage.done is not None:
        text += f" {stage.done + 1}/{stage.total}"
    elif stage.key == "trips" and stage.total and stage.done is not None:
        text += f" {stage.done:,}/{stage.total:,}"
    elif stage.total is not None:
        text += f"（{stage.total:,}）" if lang == "zh" else f" ({stage.total:,})"
    return text


@contextmanager
def progress_display(console: Console, lang: str = "zh", *, quiet: bool = False) -> Iterator[Callback | None]:
    """A callback drawing the stages on ``console`` while the block runs, or None when nothing is to be drawn
    (``quiet``, or ``console`` is not a terminal)."""
    if quiet or not console.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=24), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(stage_text(Stage("read"), lang), total=None)

        def draw(stage: Stage) -> None:
            counted = stage.key in ("read", "trips") and stage.total is not None and stage.done is not None
            bar.update(task, description=stage_text(stage, lang), total=stage.total if counted else None,
                       completed=stage.done if counted else 0, refresh=True)  # each stage drawn as it begins

        yield draw
