"""Names of admin units for messages: the exempt neighbours a checkpoint finding speaks of.

A message names the configured neighbours, never a hard-coded one: ``exempt_neighbours = ["340000"]`` makes the
keep message speak of 安徽/Anhui. Province-level units are named from :data:`PROVINCES` (both languages, the short
form used in speech: 湖北, not 湖北省); any other unit by the ``name`` the boundaries in use give it, else by its adcode.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: The 34 province-level units (GB/T 2260): adcode → (Chinese short name, English name).
PROVINCES: dict[str, tuple[str, str]] = {
    "110000": ("北京", "Beijing"), "120000": ("天津", "Tianjin"), "130000": ("河北", "Hebei"),
    "140000": ("山西", "Shanxi"), "150000": ("内蒙古", "Inner Mongolia"), "210000": ("辽宁", "Liaoning"),
    "220000": ("吉林", "Jilin"), "230000": ("黑龙江", "Heilongjiang"), "310000": ("上海", "Shanghai"),
    "320000": ("江苏", "Jiangsu"), "330000": ("浙江", "Zhejiang"), "340000": ("安徽", "Anhui"),
    "350000": ("福建", "Fujian"), "360000": ("江西", "Jiangxi"), "370000": ("山东", "Shandong"),
    "410000": ("河南", "Henan"), "420000": ("湖北", "Hubei"), "430000": ("湖南", "Hunan"),
    "440000": ("广东", "Guangdong"), "450000": ("广西", "Guangxi"), "460000": ("海南", "Hainan"),
    "500000": ("重庆", "Chongqing"), "510000": ("四川", "Sichuan"), "520000": ("贵州", "Guizhou"),
    "530000": ("云南", "Yunnan"), "540000": ("西藏", "Xizang"), "610000": ("陕西", "Shaanxi"),
    "620000": ("甘肃", "Gansu"), "630000": ("青海", "Qinghai"), "640000": ("宁夏", "Ningxia"),
    "650000": ("新疆", "Xinjiang"), "710000": ("台湾", "Taiwan"), "810000": ("香港", "Hong Kong"),
    "820000": ("澳门", "Macao"),
}


def unit_name(adcode: str, boundaries: pd.DataFrame | None = None) -> tuple[str, str]:
    """(Chinese, English) name of one admin unit.

    A province-level unit from :data:`PROVINCES`; another unit from the ``name`` of its own row in ``boundaries``
    (the English text then carries the adcode too: no translation is guessed); else ``adcode 421100`` in both.
    """
    code = str(adcode).strip()
    if code in PROVINCES:
        return PROVINCES[code]
    if boundaries is not None and len(boundaries) and {"adcode", "name"} <= set(boundaries.columns):
        names = boundaries["name"][(boundaries["adcode"].astype(str).str.strip() == code).to_numpy()].dropna()
        names = names.astype(str).str.strip()
        names = names[names != ""]
        if len(names):
            return names.iloc[0], f"{names.iloc[0]} ({code})"
    return f"行政区划{code}", f"adcode {code}"


def neighbour_names(adcodes: Iterable[str], boundaries: pd.DataFrame | None = None) -> tuple[str, str]:
    """The exempt neighbours as message text: ``("湖北、安徽", "Hubei or Anhui")``; empty strings for none."""
    names = [unit_name(code, boundaries) for code in adcodes]
    zh = "、".join(dict.fromkeys(n[0] for n in names))
    en = list(dict.fromkeys(n[1] for n in names))
    if len(en) > 1:
        return zh, ", ".join(en[:-1]) + " or " + en[-1]
    return zh, "".join(en)
