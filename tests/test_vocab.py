"""One definition per concept: the policy's name, the verdicts, risk levels, road classes, datums and admin levels
are spelled out in :mod:`transportmon.vocab` only; every other module imports them.

The check reads the package's source: no other module holds the policy string, or a tuple, list or set literal
whose words are one of the vocabularies (in any order).
"""

from __future__ import annotations

import ast
from pathlib import Path

import transportmon
from transportmon import config, vocab
from transportmon.rules import checkpoints, trips

ROOT = Path(transportmon.__file__).parent

VOCABULARIES = {
    "CHECKPOINT_VERDICTS": set(vocab.CHECKPOINT_VERDICTS), "TRIP_VERDICTS": set(vocab.TRIP_VERDICTS),
    "RISK_LEVELS": set(vocab.RISK_LEVELS), "ROAD_CLASSES": set(vocab.ROAD_CLASSES),
    "COVERED_CLASSES": set(vocab.COVERED_CLASSES), "DATUMS": set(vocab.DATUMS),
    "ADMIN_LEVELS": set(vocab.ADMIN_LEVELS),
}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _spelled_out_in(name: str, source: str) -> list[tuple[str, int, str]]:
    """(module, line, what) of every vocabulary spelled out in ``source`` (docstrings aside)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docs and node.value == vocab.POLICY:
            found.append((name, node.lineno, "POLICY"))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            words = {e.value for e in node.elts}  # type: ignore[attr-defined]
            found += [(name, node.lineno, k) for k, v in VOCABULARIES.items() if words == v]
    return found


def _spelled_out() -> list[tuple[str, int, str]]:
    """Every vocabulary spelled out in the package outside vocab.py."""
    return [hit for path in sorted(ROOT.rglob("*.py")) if path.name != "vocab.py"
            for hit in _spelled_out_in(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))]


def test_no_module_spells_out_a_vocabulary_of_its_own() -> None:
    assert _spelled_out() == []


def test_the_modules_use_the_one_definition() -> None:
    assert config.POLICY is vocab.POLICY
    assert checkpoints.CLAUSE == trips.CLAUSE == config.RuleConfig().policy == vocab.POLICY
    assert config.RuleConfig().covered_classes == vocab.COVERED_CLASSES
    assert config.RuleConfig().risk_levels == vocab.CAPPED_RISK_LEVELS
    assert list(trips.LEVEL_ORDER.categories) == list(vocab.RISK_LEVELS)
    assert set(vocab.ROAD_CLASS_ZH) == set(vocab.ROAD_CLASS_EN) == set(vocab.ROAD_CLASSES)
    assert set(vocab.RISK_LEVEL_ZH) == set(vocab.RISK_LEVELS)
    assert [vocab.ADMIN_RANK[lv] for lv in vocab.ADMIN_LEVELS] == [0, 1, 2]


def test_the_check_finds_a_vocabulary_spelled_out() -> None:
    """The scan is not vacuous: a module spelling the datums, the levels and the policy again is caught; the policy
    quoted in a docstring is not code."""
    src = ('"""Audits against 九府发〔2020〕3号 (六)."""\nDATUMS = ("bd09", "wgs84", "gcj02")\n'
           'for level in ["high", "medium", "low"]:\n    pass\nCLAUSE = "九府发〔2020〕3号 (六)"\n')
    assert sorted(_spelled_out_in("fake.py", src)) == [("fake.py", 2, "DATUMS"), ("fake.py", 3, "RISK_LEVELS"),
                                               ("fake.py", 5, "POLICY")]
