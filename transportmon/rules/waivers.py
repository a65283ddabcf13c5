"""Waiver rules (TM12x): approved exceptions (豁免) that have lapsed or have not begun.

A waiver (the ``waivers`` layer, DESIGN §8) is the epidemic command's written approval to keep, for a stated period,
something clause (六) forbids: a checkpoint away from the exempt border, a coach over the cap. While it is in effect
the violation it names is ``waived`` (:mod:`transportmon.waivers`); these rules speak when it is not. Both fire on the
subject the waiver names (a checkpoint, a trip or a route), whatever its kind, and at most once per subject: the
waivers of several of its violations are said in one message (``rules_zh``: ``TM101、TM110``; ``violations_en``:
``the TM101 violation stands``, ``the TM101 and TM110 violations stand``). Nothing here reads files or the clock: the subject's
date (the as-of date, a trip's service date) is in the evidence.
"""

from __future__ import annotations

from .registry import Needs, Rule, rule

CLAUSE = "九府发〔2020〕3号 (六); DESIGN §8 waivers"
WAIVERS = Needs(("waivers",))

TM120 = rule(Rule(
    id="TM120", name="waiver-expired", subject="any", severity="warning", clause=CLAUSE,
    summary="A violation had an approved waiver that has expired: the violation stands again.",
    message_zh="豁免批准文件{document}已于{valid_until}到期，{rules_zh}违规不再豁免。",
    message_en="The waiver {document} expired on {valid_until}: {violations_en}.",
    doc="""
    What it checks: a ``violation`` finding of the subject whose rule a waiver names, on a date after the waiver's
    ``valid_until`` (inclusive: the waiver still holds on that day), with no other waiver of it in effect that day.
    The date is the as-of date for checkpoints and routes, the service date for trips.
    Why: an exception is approved for a period; once it lapses, the clause applies again and the bureau must act or
    renew the approval. The violation keeps its severity; this warning says why it is back.
    Violating: waiver 九防指〔2020〕12号 of TM101 on CP08, valid 2020-03-01 … 2020-03-10, audited as of 2020-03-11 →
    TM101 violation and TM120.
    Compliant: audited as of 2020-03-10 → TM101 ``waived``, no TM120.
    """,
    needs=(WAIVERS,),
))

TM121 = rule(Rule(
    id="TM121", name="waiver-not-yet-in-effect", subject="any", severity="info", clause=CLAUSE,
    summary="A violation has an approved waiver that only takes effect later: until then the violation stands.",
    message_zh="豁免批准文件{document}自{valid_from}起生效，此前{rules_zh}违规仍然成立。",
    message_en="The waiver {document} takes effect on {valid_from}: until then {violations_en}.",
    doc="""
    What it checks: a ``violation`` finding whose rule a waiver of the subject names, on a date before the waiver's
    ``valid_from``, with no waiver of it in effect that day and none expired (an expired one is TM120).
    Why: a waiver changes nothing before it begins, but the bureau should see that one is on its way rather than
    act on a violation that has been approved from a known date.
    Violating: valid 2020-03-17 … 2020-03-31, audited as of 2020-03-16 → TM101 violation and TM121.
    Compliant: audited as of 2020-03-17 → TM101 ``waived``, no TM121.
    """,
    needs=(WAIVERS,),
))

#: The rules of this module, in id order.
WAIVER_RULES = (TM120, TM121)
