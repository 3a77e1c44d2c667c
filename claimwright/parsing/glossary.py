"""The glossary page of a remittance, cross-checked against Claimwright's code tables.

Paper remittances (the Medicare Standard Paper Remittance and its look-alikes) end with a
glossary listing every group, reason (CARC), remark (RARC) and provider adjustment (PLB) code the
document uses, with the payer's description. A code the tables do not know, or a description
clearly different from the table's meaning (a shifted or stale glossary, a code listed under the
wrong heading), is a ``Problem`` with the glossary page: the pipeline turns it into a review item,
because the payer and Claimwright then do not mean the same thing by that code.

"Clearly different": the two texts share less than ``min_overlap`` of the content words of the
shorter one (lower case, punctuation and short filler words dropped, plural ``s`` ignored). Payers
word their descriptions differently from our tables; sharing half the words of the shorter text
is what "the same meaning, other words" looks like in practice, sharing none is a different code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import Problem

_WORD = re.compile(r"[a-z0-9]+")
# a reason code listed with its group ("CO-11"): the group is a group code, the rest the CARC
_GROUP_PREFIXED = re.compile(r"(?P<group>[A-Z]{2})-(?P<carc>[A-Z0-9]{1,4})")
_FILLER = {"a", "an", "the", "of", "or", "and", "to", "for", "on", "in", "is", "be", "by", "this",
           "that", "with", "not", "as", "at", "it", "its", "may", "are", "was", "has", "have",
           "from", "no", "any", "other", "than", "which", "been", "were", "if", "we", "you",
           "your", "our"}
_LABELS = {"groups": "group code", "carc": "reason code (CARC)", "rarc": "remark code (RARC)",
           "plb": "provider adjustment reason (PLB)", "claim_status": "claim status code"}


@dataclass(frozen=True)
class GlossaryEntry:
    table: str  # the code table its heading names: groups, carc, rarc, claim_status, plb
    code: str
    description: str  # wrapped rows joined with one space
    page: int  # 1-based

    def to_json(self) -> dict:
        return {"table": self.table, "code": self.code, "description": self.description,
                "page": self.page}


def _words(text: str) -> set[str]:
    out = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or word in _FILLER:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


def overlap(a: str, b: str) -> float:
    """Share of the shorter text's content words that the other text also has (0..1)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 1.0 if wa == wb else 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def check_glossary(entries: list[GlossaryEntry], *, min_overlap: float = 0.5,
                   code_tables=None) -> list[Problem]:
    """Problems for glossary entries the code tables do not know or describe otherwise."""
    if not entries:
        return []
    if code_tables is None:
        from ..codes import tables

        code_tables = tables()
    problems = []
    for entry in entries:
        label = _LABELS.get(entry.table, entry.table)
        table = code_tables.table(entry.table)
        code = entry.code
        prefixed = _GROUP_PREFIXED.fullmatch(code) if entry.table == "carc" else None
        if prefixed:  # "CO-11": the CARC 11, and CO must be a group code
            code = prefixed["carc"]
            if code_tables.table("groups").get(prefixed["group"]) is None:
                problems.append(Problem(
                    "glossary-unknown-code",
                    f"the glossary on page {entry.page} lists {entry.code!r} under the "
                    f"reason codes; {prefixed['group']!r} is not a group code",
                    page=entry.page))
                continue
        known = table.get(code)
        if known is None:
            problems.append(Problem(
                "glossary-unknown-code",
                f"the glossary on page {entry.page} lists {label} {entry.code!r} "
                f"({entry.description[:60]!r}), which the code tables do not know",
                page=entry.page))
        elif overlap(entry.description, known.meaning) < min_overlap:
            problems.append(Problem(
                "glossary-description-mismatch",
                f"the glossary on page {entry.page} describes {label} {entry.code} as "
                f"{entry.description[:80]!r}; the code table says {known.meaning[:80]!r}",
                page=entry.page))
    return problems
