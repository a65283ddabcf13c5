"""A bulletin's two dates: when it was published (发布日期) and when its designations take effect (生效日期).

Risk designations come in two forms (:mod:`transportmon.designations`): dated snapshots (``as_of``, the bulletin's
date; Chinese headers 发布日期, 公布日期, 通报日期) or intervals (``valid_from`` [``valid_to``]; 生效日期, 失效日期).
A table that has both an ``as_of`` and a ``valid_from`` column is read as follows:

- ``valid_from`` (生效日期) is the day a designation takes effect: the table is in the interval form, each row holding
  from its ``valid_from`` to its ``valid_to`` (inclusive; empty or absent = open). Among the designations of a unit
  in effect on a day the latest ``valid_from`` wins, so a later bulletin naming the unit again replaces the earlier
  one, as in the snapshot form;
- ``as_of`` (发布日期) is kept as the column ``published``: information, never used for dating. A row without a
  ``valid_from`` is rejected as ``malformed-date``, as in any interval table (its publication date does not stand in
  for the effective date: they often differ by a day, and the day decides trips).

What was decided is a note of the layer (``metadata.inputs.risk_areas.notes``, shown by ``transportmon validate``).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["PUBLISHED", "published_and_effective"]

#: The column the publication date is kept in when a table also has an effective date.
PUBLISHED = "published"

NOTE = ("both a publication date (as_of: 发布日期/公布日期/通报日期) and an effective date (valid_from: 生效日期): each "
        "designation holds from its valid_from; the publication date is kept as `published` and not used for dating "
        "(docs/chinese-files.md)")


def published_and_effective(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The frame (contract column names) in the interval form when it has both ``as_of`` and ``valid_from``, with
    ``as_of`` renamed ``published`` (``published.1`` if that name is taken), and the note saying so; otherwise the
    frame as it is and None."""
    columns = {str(c) for c in frame.columns}
    if not {"as_of", "valid_from"} <= columns:
        return frame, None
    target, k = PUBLISHED, 0
    while target in columns:
        k += 1
        target = f"{PUBLISHED}.{k}"
    return frame.rename(columns={"as_of": target}), NOTE
