"""What every map and chart of :mod:`transportmon.maps` draws with: colours and symbols, and fonts.

The HTML map, the PNG map and the notebook charts use the same symbols (:data:`VERDICT_STYLE`, :data:`ROAD_STYLE`,
:data:`RISK_STYLE`), so a checkpoint is the same green on every one. Chinese labels need a CJK font
(:func:`cjk_font`); without one, images are labelled in English and Chinese characters in data become □.
"""

from __future__ import annotations

import os
import re
from typing import Any

# One palette for maps, xlsx and GeoPackage; the maps take it from here.
from ..palette import VERDICT_STYLE  # noqa: F401
from ..vocab import RISK_LEVEL_ZH, ROAD_CLASS_ZH

#: road class → (colour, line width in px, Chinese, covered by the clause by default).
ROAD_STYLE: dict[str, tuple[str, float, str]] = {
    cls: (colour, width, ROAD_CLASS_ZH[cls]) for cls, (colour, width) in {
        "expressway": ("#08306b", 3.5), "national": ("#2171b5", 2.8), "provincial": ("#4292c6", 2.2),
        "county": ("#6baed6", 1.6), "township": ("#9ecae1", 1.6), "village": ("#c6dbef", 1.3),
        "urban": ("#bdbdbd", 1.3), "other": ("#d9d9d9", 1.0)}.items()
}

#: designation level → (fill colour, fill opacity, Chinese).
RISK_STYLE: dict[str, tuple[str, float, str]] = {
    level: (colour, opacity, RISK_LEVEL_ZH[level] + "风险") for level, (colour, opacity) in {
        "high": ("#e31a1c", 0.40), "medium": ("#feb24c", 0.40), "low": ("#a1d99b", 0.15)}.items()
}

BORDER_COLOUR = "#e7298a"
TRIP_COLOUR = "#b10026"
OTHER_TRIP_COLOUR = "#737373"
OUTLINE_COLOUR = "#525252"
#: The dashed ring (a line: a dashed halo) around a subject with a waived violation (issue 14 waivers).
WAIVED_COLOUR = "#2166ac"

_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Noto Sans CJK JP", "Noto Sans CJK TC",
                 "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei",
                 "PingFang SC", "Heiti SC", "AR PL UMing CN")
_CJK_FILES = re.compile(r"(NotoSansCJK|NotoSansSC|SourceHanSans|wqy-|DroidSansFallback|simhei|msyh|PingFang)",
                        re.IGNORECASE)


def cjk_font() -> str | None:
    """A font family that has Chinese glyphs, or None (then maps are labelled in English only)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in names:
            return family
    # A font installed after matplotlib built its cache: add it by file.
    for path in sorted(font_manager.findSystemFonts()):
        if _CJK_FILES.search(os.path.basename(path)):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def new_figure(size: tuple[int, int], dpi: int) -> Any:
    """A matplotlib Figure outside pyplot (no global state); its canvas renders only when saved."""
    from matplotlib.figure import Figure

    return Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)


def bilingual(zh: str, en: str, cjk: bool) -> str:
    """``zh en`` when a CJK font draws the labels, else ``en``."""
    return f"{zh} {en}" if cjk else en


CJK_CHARS = re.compile(r"[\u2e80-\u303f\u3040-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
                       r"\U00020000-\U0003ffff]")


def drawable(text: str, cjk: str | None) -> str:
    """Text as a font without Chinese glyphs can draw it: each CJK character becomes □ (no missing-glyph warnings)."""
    return text if cjk else CJK_CHARS.sub("\u25a1", text)


def font_families(cjk: str | None) -> list[str]:
    """matplotlib ``fontfamily``: DejaVu Sans, then the CJK font for the glyphs it lacks."""
    return ["DejaVu Sans", cjk] if cjk else ["DejaVu Sans"]
