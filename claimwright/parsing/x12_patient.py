"""Loop 2100 patient details a few payers add to their 835s: DMG (birth date) and HI (diagnoses).

Neither segment is part of the 835 implementation guide (005010X221A1): they belong to the 837
claim (loop 2010BA DMG, loop 2300 HI), and some payers copy them into the 835's claim loop.
Claimwright reads them where present -- after the CLP, before the first SVC, like NM1*82 -- and
does without them otherwise. Damage is a :class:`Problem` of the claim, never a crash; no
problem quotes a birth date.

- ``DMG*D8*CCYYMMDD*...``: the claim's ``patient_dob``. DMG01 other than ``D8``, a date that
  does not exist, or one after the claim's first date of service: not used, a problem.
- ``HI*ABK:E119*ABF:I10*...``: the claim's ``diagnoses``, principal (``ABK``, legacy ``BK``)
  first, then the others (``ABF``, legacy ``BF``) in order, each once; components split on
  ISA16. Other qualifiers (admitting ``ABJ``, reason for visit ``APR``, external cause ``ABN``,
  procedure and value codes) are not diagnoses of the model and are read past. A code that is
  not shaped like an ICD-10-CM code (a legacy ICD-9 ``25000`` under ``BK``, say) is not used.
"""

from __future__ import annotations

import datetime as dt
import re

from ..models import Problem, add_diagnoses
from .x12_segments import Segment

PRINCIPAL_QUALIFIERS = frozenset({"ABK", "BK"})
OTHER_QUALIFIERS = frozenset({"ABF", "BF"})
HI_COMPOSITES = 12  # HI01 .. HI12
_DATE = re.compile(r"[0-9]{8}")


class PatientSegments:
    """``on_DMG`` / ``on_HI`` of :class:`~.x12_transaction.TransactionParser` (a mixin: it uses
    the parser's ``current``, ``loop``, ``problem``, ``out_of_place`` and ``composite``)."""

    def on_DMG(self, seg: Segment) -> None:
        build = self.current
        if build is None or self.loop != "claim":
            self.out_of_place(seg, "(patient birth date) is not inside a claim (CLP) before its "
                              "service lines")
            return
        if seg.get(1) != "D8":
            self.problem("x12-invalid-element", f"segment {seg.index}: DMG01 "
                         f"{seg.get(1)[:10]!r} is not D8 (a CCYYMMDD date); the patient's birth "
                         "date was not used", seg)
            return
        born = _birth_date(seg.get(2))
        if born is None:
            self.problem("x12-invalid-date", f"segment {seg.index}: DMG02 is not a CCYYMMDD "
                         "date; the patient's birth date was not used", seg)
            return
        claim = build.claim
        if claim.patient_dob is not None and claim.patient_dob != born:
            self.problem("x12-invalid-element", f"segment {seg.index}: a second DMG gives "
                         "another birth date; the first was kept", seg)
            return
        claim.patient_dob = born
        build.dob_segment = seg.index

    def on_HI(self, seg: Segment) -> None:
        build = self.current
        if build is None or self.loop != "claim":
            self.out_of_place(seg, "(diagnosis codes) is not inside a claim (CLP) before its "
                              "service lines")
            return
        for position in range(1, HI_COMPOSITES + 1):
            raw = seg.get(position)
            if not raw:
                continue
            parts = self.composite(seg, position, frozenset())
            qualifier, code = parts[0], parts[1] if len(parts) > 1 else ""
            if not code:
                self.problem("x12-invalid-element", f"segment {seg.index}: HI{position:02d} "
                             f"{raw[:20]!r} is not a qualifier and a code", seg)
                continue
            if qualifier in PRINCIPAL_QUALIFIERS:
                into = build.principal_diagnoses
            elif qualifier in OTHER_QUALIFIERS:
                into = build.other_diagnoses
            else:
                continue
            for bad in add_diagnoses(into, [code]):
                self.problem("x12-invalid-element", f"segment {seg.index}: HI{position:02d}-2 "
                             f"{bad[:20]!r} is not an ICD-10-CM code (a letter, a digit, then "
                             "1-5 letters or digits); it was not used", seg)
        extra = [e for e in seg.elements[HI_COMPOSITES + 1:] if e.strip()]
        if extra:
            self.problem("x12-syntax", f"segment {seg.index}: HI has more than "
                         f"{HI_COMPOSITES} composites; the extra elements were not read", seg)

    def close_patient(self, build) -> None:
        """At the end of a claim (its line dates known): principal diagnoses first, and a birth
        date after the first date of service dropped with a problem."""
        claim = build.claim
        add_diagnoses(claim.diagnoses, build.principal_diagnoses + build.other_diagnoses)
        dates = claim.dates_of_service
        if claim.patient_dob is not None and dates and claim.patient_dob > dates[0]:
            claim.patient_dob = None
            self.problems.append(Problem(
                "x12-invalid-date", f"segment {build.dob_segment}: DMG02, the patient's birth "
                "date, is after the claim's first date of service; it was not used",
                segment=build.dob_segment, claim=claim.patient_account or None))


def _birth_date(raw: str) -> dt.date | None:
    if not _DATE.fullmatch(raw):
        return None
    try:
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None
