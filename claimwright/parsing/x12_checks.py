"""Checks of a parsed 835 transaction set as a whole: its SE trailer, and the balancing of its
claims and remittance, each problem carrying the segment it concerns."""

from __future__ import annotations

from ..balancing import check_claim, check_remittance
from ..models import Problem, Remittance
from .x12_segments import Segment, parse_int


def trailer_problems(st: Segment, se: Segment | None, count: int) -> list[Problem]:
    """SE01 must count the ``count`` segments from ST to SE; SE02 must repeat ST02."""
    if se is None:
        return []
    found = []
    if parse_int(se.get(1)) != count:
        found.append(Problem(
            "x12-se-count", f"segment {se.index}: SE01 says {se.get(1)!r} segments but the "
            f"transaction set has {count} (ST to SE): segments may be missing or extra",
            segment=se.index))
    if se.get(2) != st.get(2):
        found.append(Problem(
            "x12-control-number", f"segment {se.index}: SE02 {se.get(2)!r} does not match "
            f"ST02 {st.get(2)!r}", segment=se.index))
    return found


def balance_problems(remit: Remittance, claims: list, bpr_segment: int | None) -> list[Problem]:
    """Balancing problems with the segment of the CLP (claim) or SVC (line) concerned
    (``claims``: the parser's claim builds, with the segments of the claim and its lines)."""
    found: list[Problem] = []
    for build in claims:
        for problem in check_claim(build.claim):
            if problem.line is not None and problem.line <= len(build.lines):
                problem.segment = build.lines[problem.line - 1].segment
            else:
                problem.segment = build.segment
            found.append(problem)
    for problem in check_remittance(remit):
        if problem.claim is None:  # claim problems were attributed above
            problem.segment = bpr_segment
            found.append(problem)
    return found
