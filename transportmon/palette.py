"""The verdict colours, defined once for every output that draws or fills them: the HTML and PNG maps, the xlsx
report's verdict cells and the GeoPackage's QGIS styles. A verdict looks the same wherever the bureau meets it.

The hex values are those of the maps (ColorBrewer RdYlGn-like: green may stay, red must go, orange needs a look,
grey is out of scope, purple is bad data).
"""

from __future__ import annotations

#: verdict → (fill colour, Chinese, English) for checkpoint and trip verdicts (DESIGN §4).
VERDICT_STYLE: dict[str, tuple[str, str, str]] = {
    "keep": ("#1a9641", "保留", "keep"),
    "remove": ("#d7191c", "撤除", "remove"),
    "review": ("#fd8d3c", "待核查", "review"),
    "inactive": ("#969696", "未启用", "inactive"),
    "rejected": ("#7b3294", "数据无效", "rejected"),
    "over-cap": ("#b10026", "超客座率", "over the cap"),
    "compliant": ("#1a9641", "符合", "compliant"),
    "not-applicable": ("#969696", "不适用", "not applicable"),
}

#: Route verdicts (DESIGN §9), kept apart so that code listing :data:`VERDICT_STYLE` (the maps' legends) is not
#: changed by them: restored green, partial orange, suspended red, new blue.
ROUTE_VERDICT_STYLE: dict[str, tuple[str, str, str]] = {
    "restored": ("#1a9641", "已恢复", "restored"),
    "partial": ("#fd8d3c", "部分恢复", "partly restored"),
    "suspended": ("#d7191c", "停运", "suspended"),
    "new": ("#2c7bb6", "新开线路", "new"),
}


#: Colour of a verdict no table above knows (drawn, never hidden).
OTHER_COLOUR = "#000000"


def verdict_style(verdict: str) -> tuple[str, str, str]:
    """``(colour, Chinese, English)`` of a verdict; an unknown verdict is black and labelled with itself."""
    return VERDICT_STYLE.get(verdict) or ROUTE_VERDICT_STYLE.get(verdict) or (OTHER_COLOUR, verdict, verdict)


def verdict_label(verdict: str, lang: str) -> str:
    """The verdict in words, in ``lang`` (``zh`` or ``en``)."""
    _, zh, en = verdict_style(verdict)
    return zh if lang == "zh" else en


def rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` → ``(r, g, b)``."""
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def text_colour(colour: str) -> str:
    """Black or white, whichever reads better on a fill of ``colour`` (WCAG relative luminance)."""
    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb(colour))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if luminance > 0.179 else "#ffffff"
