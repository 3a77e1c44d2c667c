"""The monthly feedback report for clinical leadership (claimwright/reports, docs/reports.md).

The figures are checked against a hand count of a small ledger built below (``hand_ledger``):
every expected number in these tests can be counted by reading that fixture.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal as D

import pytest

from claimwright.rules.documentation import load_documentation, parse_documentation
from claimwright.rules.source import RulesError

# ---------------------------------------------------------------------------------------------
# The documentation elements file


def _doc_file(tmp_path, body: str):
    from claimwright import datafiles

    path = tmp_path / "documentation.yaml"
    path.write_text(textwrap.dedent(body))
    return parse_documentation(datafiles.read_yaml(path, RulesError))


GOOD_HEAD = """\
    version: 1
    default: No element is on file for this reason yet.
    elements:
"""


def test_the_most_specific_entry_wins(tmp_path):
    doc = _doc_file(tmp_path, GOOD_HEAD + """\
      - carc: "50"
        element: Any medical necessity denial.
      - carc: "50"
        procedure: ["992*"]
        element: Visit codes, any remark.
      - carc: "50"
        rarc: N115
        element: The LCD indication, any service.
      - carc: "50"
        rarc: [N115, N386]
        procedure: ["99214"]
        element: The findings that support the visit level.
      - carc: 97
        group: CO
        element: Bundled, contractual group only.
    """)
    def pick(*args):
        return doc.element_for(*args).text

    assert pick("CO", "50", ["N115"], "99214") == "The findings that support the visit level."
    assert pick("CO", "50", ["N386"], "99214") == "The findings that support the visit level."
    assert pick("CO", "50", ["N115"], "99213") == "The LCD indication, any service."  # rarc > proc
    assert pick("CO", "50", [], "99213") == "Visit codes, any remark."
    assert pick("CO", "50", ["MA01"], "") == "Any medical necessity denial."  # claim level
    assert pick("CO", "50", [], "71046") == "Any medical necessity denial."
    assert pick("CO", "97", [], "93000") == "Bundled, contractual group only."  # bare 97 is "97"
    assert pick("OA", "97", [], "93000") == "No element is on file for this reason yet."
    assert not doc.element_for("CO", "45").specific
    assert doc.element_for("CO", "50", ["N115"], "99214").entry.line == 12


@pytest.mark.parametrize("body, where", [
    # a code the tables do not know
    ("""\
      - carc: "50"
        element: Fine entry text here.
      - carc: "50"
        rarc: [N115, N9999]
        element: Unknown remark code.
    """, r"documentation\.yaml:7: elements\[1\]\.rarc\[1\]: RARC 'N9999' is not in the code"),
    ("""\
      - carc: Z98
        element: Unknown reason code.
    """, r"documentation\.yaml:4: elements\[0\]\.carc: CARC 'Z98' is not in the code tables"),
    # a key that does not exist
    ("""\
      - carc: "11"
        procedures: ["71046"]
        element: Misspelled key.
    """, r"documentation\.yaml:5: elements\[0\]\.procedures: Extra inputs are not permitted"),
    # the element text is missing or too short to say anything
    ("""\
      - carc: "11"
        rarc: N657
    """, r"documentation\.yaml:4: elements\[0\]\.element: Field required"),
    ("""\
      - carc: "11"
        element: short
    """, r"documentation\.yaml:5: elements\[0\]\.element: String should have at least 10"),
    # two entries with the same conditions: one would never be used
    ("""\
      - carc: "4"
        procedure: ["20610"]
        element: Laterality modifier on joint injections.
      - carc: "4"
        procedure: 20610
        element: The same conditions again, in other words.
    """, r"documentation\.yaml:7: elements\[1\]\.carc: the same conditions as the entry on line 4"),
])
def test_mistakes_are_refused_with_file_line_and_field(tmp_path, body, where):
    with pytest.raises(RulesError, match=where):
        _doc_file(tmp_path, GOOD_HEAD + body)


def test_a_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(RulesError, match=r"documentation\.yaml:5: not valid YAML: mapping"):
        _doc_file(tmp_path, GOOD_HEAD + """\
      - carc: "4"
        element: the modifier: RT or LT
    """)


def test_an_edit_counts_from_the_next_load(tmp_path):
    from claimwright import datafiles

    path = tmp_path / "documentation.yaml"
    path.write_text(textwrap.dedent(GOOD_HEAD + """\
      - carc: "50"
        element: First wording of the element.
    """))
    assert load_documentation(path).element_for("CO", "50").text == "First wording of the element."
    path.write_text(path.read_text().replace("First", "Second, longer"))
    datafiles.forget()  # the same second and size would look unchanged to the stamp
    assert load_documentation(path).element_for("CO", "50").text.startswith("Second")


# The CARCs the research table (shared/reference/carc-research.csv) files under coding/bundling,
# modifier, medical necessity and documentation, plus 16 (its RARC names the field) and 55.
COMMON_DOCUMENTATION_AND_CODING = [
    "4", "5", "6", "7", "9", "10", "11", "12", "16", "40", "50", "54", "55", "56", "58", "97",
    "107", "112", "146", "150", "151", "152", "163", "164", "167", "173", "181", "182", "189",
    "199", "226", "231", "234", "236", "250", "251", "252", "272", "273", "282", "B12", "B14",
    "B15", "B16", "B22",
]


def test_the_shipped_file_covers_the_synthetic_denials_and_the_common_reasons():
    from claimwright.rules.engine import Context, decide
    from fixtures.remittances import emitted_codes

    doc = load_documentation()
    denials = [(g, c, r) for g, c, r in emitted_codes() if c != "Z98"
               and decide(Context(group=g, carc=c, rarcs=(r,) if r else ())).is_denial]
    assert len(denials) >= 15
    for group, carc, rarc in denials:
        match = doc.element_for(group, carc, [rarc] if rarc else [], "")
        assert match.specific, (group, carc, rarc)
        if rarc and any(rarc in e.rarcs for e in doc.entries if e.carc == carc):
            assert rarc in match.entry.rarcs, (group, carc, rarc)  # the remark's own entry
    for carc in COMMON_DOCUMENTATION_AND_CODING:
        assert doc.element_for("CO", carc, [], "").specific, carc
    # the non-denials have none: they are never patterns
    assert not doc.element_for("CO", "45").specific and not doc.element_for("PR", "2").specific
    # a procedure can matter: the visit-level wording for an E/M code
    visit = doc.element_for("CO", "50", ["N115"], "99214")
    assert "findings that support the visit level" in visit.text
    assert visit.text != doc.element_for("CO", "50", ["N115"], "97140").text
