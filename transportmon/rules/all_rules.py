"""The complete registry: every rule module imported, and what needs all of them — which rules run on the layers
present (:func:`plan`) and the README's rules table (:func:`markdown_table`)."""

from __future__ import annotations

from collections.abc import Collection

from . import checkpoints, inputs, trips, waivers  # noqa: F401  (each registers its rules)
from .registry import RULES, number_text

#: The input rules (TM9xx) run together on every layer's rejected rows: the report's ``rules_run`` names them once.
INPUT_FAMILY = "TM9xx"


def plan(present: Collection[str]) -> tuple[list[str], dict[str, str]]:
    """Which rules run and which are skipped (with why), given the layers ``present``.

    Parameters
    ----------
    present
        Names of the layers the rules can use: read, or left to another engine; a layer present but unusable
        (a roads layer without a road, risk areas without a designation) is left out by the caller.

    Returns
    -------
    (run, skipped): rule ids in id order, the input rules as :data:`INPUT_FAMILY` last; ``{rule id: reason}``.
    """
    run: list[str] = []
    skipped: dict[str, str] = {}
    for r in sorted(RULES.values(), key=lambda r: r.id):
        if r.subject == "input":
            continue
        why = next((w for w in (n.skip_reason(present) for n in r.needs) if w is not None), None)
        if why is None:
            run.append(r.id)
        else:
            skipped[r.id] = why
    return run + [INPUT_FAMILY], skipped



def markdown_table(defaults: dict[str, object] | None = None) -> str:
    """The README's rules table: one row per registered rule, its parameters with their ``defaults``."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    def param(name: str) -> str:
        if defaults is None or name not in defaults:
            return f"`{name}`"
        value = defaults[name]
        if isinstance(value, (list, tuple)):
            shown = ", ".join(map(str, value))
        else:
            shown = number_text(value) if isinstance(value, float) else str(value)
        return f"`{name}` ({shown})"

    lines = ["| id | name | flags | severity | parameters (default) |", "|---|---|---|---|---|"]
    for r in sorted(RULES.values(), key=lambda r: r.id):
        flags = r.summary + (f" Reasons: {', '.join(f'`{x}`' for x in r.reasons)}." if r.reasons else "")
        params = ", ".join(param(p) for p in r.parameters) or "—"
        lines.append(f"| {r.id} | `{r.name}` | {cell(flags)} | {cell(r.severity_text())} | {cell(params)} |")
    return "\n".join(lines) + "\n"
