"""The monthly feedback report for clinical leadership (claimwright/reports, docs/reports.md).

The figures are checked against a hand count of a small ledger built below (``hand_ledger``):
every expected number in these tests can be counted by reading that fixture.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
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


# ---------------------------------------------------------------------------------------------
# A ledger small enough to count by hand
#
# Report month 2026-10; previous month 2026-09; the same month last year, 2025-10, has no data.
# Two clinicians; every amount below is what the figures are checked against.

from claimwright.models import Adjustment, Claim, Party, Payment, Remittance, ServiceLine  # noqa
from claimwright.reports import Month  # noqa: E402
from fixtures.reports import record_appeal, record_remittance  # noqa: E402

DR_A = Party("Rivera, Ana MD", "1234567893")
DR_B = Party("Okafor, Ben DO", "1987654321")
NWHP = Party("Northwind Health Plan", "NWHP1")
ACME = Party("Acme Mutual", "ACME9")
OCT = Month(2026, 10)
DOS = dt.date(2026, 9, 2)
PATIENTS = {  # payer claim number -> (patient name, member id, patient account)
    "C1": ("DOE, JANE", "NWH100000001", "CR1000001"),
    "C2": ("SMITH, JOHN", "NWH100000002", "CR1000002"),
    "C3": ("GARCIA, MARIA", "NWH100000003", "CR1000003"),
    "C4": ("NGUYEN, DAVID", "NWH100000004", "CR1000004"),
    "C5": ("LOPEZ, SUSAN", "ACM100000005", "CR1000005"),
    "C6": ("LOPEZ, SUSAN", "ACM100000005", "CR1000006"),
    "S1": ("MILLER, LINDA", "NWH100000011", "CR1000011"),
    "S2": ("DAVIS, ROBERT", "NWH100000012", "CR1000012"),
    "S3": ("WILSON, ELENA", "NWH100000013", "CR1000013"),
    "S4": ("MOORE, KAREN", "NWH100000014", "CR1000014"),
}


def ln(procedure, billed, *adjs, mods=(), remarks=(), dos=DOS):
    billed = D(billed)
    adjustments = [Adjustment(code.split("-")[0], code.split("-")[1], D(amount))
                   for code, amount in adjs]
    paid = billed - sum((a.amount for a in adjustments), D("0.00"))
    return ServiceLine(dos, procedure, billed, paid, list(mods), adjustments=adjustments,
                       remarks=list(remarks))


def cl(claim_id, provider, *lines, status="1"):
    name, member, account = PATIENTS[claim_id]
    return Claim(account, claim_id, status, sum((x.billed for x in lines), D("0.00")),
                 sum((x.paid for x in lines), D("0.00")), patient_name=name, member_id=member,
                 lines=list(lines), rendering_provider=provider)


def rm(payer, day, *claims):
    return Remittance("x12-835", payer, Party("Cedar Ridge Family Medicine", "1093817465"),
                      Payment("ACH", f"T{day:%m%d}", day, sum((c.paid for c in claims),
                                                              D("0.00"))), claims=list(claims))


def hand_remittances():
    sep = rm(NWHP, dt.date(2026, 9, 15),
             cl("S1", DR_A, ln("99214", "245.00", ("CO-50", "245.00"), remarks=["N115"])),
             cl("S2", DR_A, ln("99213", "165.00", ("CO-45", "72.53"))),
             cl("S3", DR_B, ln("99213", "165.00", ("CO-45", "72.53"))),
             cl("S4", DR_B, ln("99213", "165.00", ("CO-45", "72.53"))))
    oct_nw = rm(NWHP, dt.date(2026, 10, 5),
                cl("C1", DR_A, ln("99214", "245.00", ("CO-50", "245.00"), remarks=["N115"]),
                   ln("36415", "25.00", ("CO-45", "22.00"))),
                cl("C2", DR_A, ln("99214", "245.00", ("CO-50", "245.00"), remarks=["N115"])),
                cl("C3", DR_B, ln("20610", "210.00", ("CO-4", "210.00"), mods=["RT"],
                                  remarks=["N519"]),
                   ln("J3301", "36.00", ("CO-45", "30.00"))),
                cl("C4", DR_B, ln("99213", "165.00", ("CO-45", "72.53"), ("PR-3", "25.00"))))
    oct_acme = rm(ACME, dt.date(2026, 10, 20),
                  cl("C5", DR_A, ln("93000", "85.00", ("CO-97", "85.00"), remarks=["M15"]),
                     ln("99214", "245.00", ("CO-45", "113.80"), mods=["25"])),
                  # a reversal (status 22) of an earlier claim: left out of every figure
                  cl("C6", DR_B, ln("99213", "-165.00", ("CO-50", "-165.00")), status="22"))
    # November: the payers pay C1's visit (at 131.20) and C3's injection, corrected to LT
    # (at 62.94): the recoveries of October's denials. C2's appeal is overturned but unpaid.
    nov = rm(NWHP, dt.date(2026, 11, 10),
             cl("C1", DR_A, ln("99214", "245.00", ("CO-45", "113.80"))),
             cl("C3", DR_B, ln("20610", "210.00", ("CO-45", "147.06"), mods=["LT"])))
    return {"sep": sep, "oct-nw": oct_nw, "oct-acme": oct_acme, "nov": nov}


@pytest.fixture
def hand_ledger(workspace):
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    for name, remit in hand_remittances().items():
        record_remittance(ledger, remit, name)
    record_appeal(ledger, "S9", "overturned", dt.date(2026, 9, 30))   # September: 1 of 1
    record_appeal(ledger, "C2", "overturned", dt.date(2026, 10, 25))  # October: 1 of 2
    record_appeal(ledger, "S1", "upheld", dt.date(2026, 10, 12))
    record_appeal(ledger, "C3", "under-review", dt.date(2026, 10, 28), final=False)  # open
    yield ledger
    ledger.close()


def _figures(report, month):
    return {t.kpi.name: v for t in report.trends()
            for v in [{OCT: t.current, OCT.previous: t.previous,
                       OCT.minus(12): t.last_year}[month]]}


def test_the_figures_match_the_hand_count(hand_ledger):
    from claimwright.reports import build_feedback

    report = build_feedback(hand_ledger, OCT)
    oct_, sep = _figures(report, OCT), _figures(report, OCT.previous)
    # October: C1-C5 (C6 is a reversal); C1, C2, C3, C5 carry denials; C4 only CO-45 and PR-3
    assert oct_ == {
        "Claims": 5, "Denied claims": 4, "Denial rate by count": D("0.8000"),
        "Billed": D("1256.00"),            # 270 + 245 + 246 + 165 + 330
        "Denied": D("785.00"),             # 245 + 245 + 210 + 85
        "Denial rate by dollars": D("0.6250"),
        "Service lines": 8, "Denied service lines": 4,
        "Coding-related denied claims": 2,  # C3 (CO-4, modifier), C5 (CO-97, bundling)
        "Coding-related denied": D("295.00"), "Coding-related share of denied dollars":
            D("0.3758"),                   # 295 / 785
        "Recovered so far": D("194.14"),   # November: 131.20 on C1's visit, 62.94 on C3
        "Recovery rate": D("0.2473"),
        "Appeals decided": 2, "Appeals overturned": 1, "Appeal overturn rate": D("0.5000"),
        "Rework cost estimate": D("100.00"),  # 4 denied claims x $25.00
    }
    # September: S1 denied of S1-S4; 245 of 740 billed; S9's appeal overturned
    assert {k: sep[k] for k in ("Claims", "Denied claims", "Denial rate by count", "Billed",
                                "Denied", "Denial rate by dollars", "Recovered so far",
                                "Appeal overturn rate", "Rework cost estimate")} == {
        "Claims": 4, "Denied claims": 1, "Denial rate by count": D("0.2500"),
        "Billed": D("740.00"), "Denied": D("245.00"), "Denial rate by dollars": D("0.3311"),
        "Recovered so far": D("0.00"), "Appeal overturn rate": D("1.0000"),
        "Rework cost estimate": D("25.00")}
    # October 2025: no remittance, no appeal decision: no data
    assert set(_figures(report, OCT.minus(12)).values()) == {None}
    trends = {t.kpi.name: t for t in report.trends()}
    assert trends["Denial rate by count"].change_from_previous == D("0.5500")
    assert trends["Denied"].change_from_previous == D("540.00")
    assert trends["Claims"].change_from_previous == 1
    assert trends["Appeal overturn rate"].change_from_previous == D("-0.5000")
    assert trends["Denied"].change_from_last_year is None
    assert report.data_through == dt.date(2026, 11, 10)
    assert report.chart_months == [OCT.previous, OCT]


def test_patterns_are_provider_procedure_and_reason_with_their_element(hand_ledger):
    from claimwright.reports import build_feedback

    report = build_feedback(hand_ledger, OCT)
    got = [(p.key.provider, p.key.service, p.key.reason, p.category, p.count, p.claims,
            p.lines_billed, p.denied, p.recovered) for p in report.patterns]
    assert got == [
        # two visits denied the same way: one pattern; Dr A's 99214-25 on C5 is another service
        ("Rivera, Ana MD (NPI 1234567893)", "99214", "CO-50 N115", "medical necessity", 2, 2, 2,
         D("490.00"), D("131.20")),
        ("Okafor, Ben DO (NPI 1987654321)", "20610-RT", "CO-4 N519", "modifier", 1, 1, 1,
         D("210.00"), D("62.94")),  # paid once corrected to 20610-LT: the same service
        ("Rivera, Ana MD (NPI 1234567893)", "93000", "CO-97 M15", "coding/bundling", 1, 1, 1,
         D("85.00"), D("0.00")),
    ]
    visit, modifier, bundled = report.patterns
    assert "findings that support the visit level" in visit.element.text
    assert visit.element.entry.rarcs == {"N115"} and "992*" in visit.element.entry.procedures
    assert "cannot be used together" in modifier.element.text      # the N519 entry
    assert bundled.element.entry.rarcs == {"M15"}                   # remark beats procedure


def test_rates_by_payer_reason_and_category(hand_ledger):
    from claimwright.reports import build_feedback

    cur = build_feedback(hand_ledger, OCT).current
    payers = {k: (r.denied_count, r.total_count, r.by_count, r.denied_amount, r.billed_amount,
                  r.by_dollars) for k, r in cur.by_payer.items()}
    assert payers == {
        "NWHP1": (3, 4, D("0.7500"), D("700.00"), D("926.00"), D("0.7559")),
        "ACME9": (1, 1, D("1.0000"), D("85.00"), D("330.00"), D("0.2576")),  # C6 reversed
    }
    reasons = {k: (r.denied_count, r.total_count, r.by_count, r.denied_amount, r.by_dollars)
               for k, r in cur.by_reason.items()}
    assert reasons == {"CO-50": (2, 5, D("0.4000"), D("490.00"), D("0.3901")),
                       "CO-4": (1, 5, D("0.2000"), D("210.00"), D("0.1672")),
                       "CO-97": (1, 5, D("0.2000"), D("85.00"), D("0.0677"))}
    assert {k: (t.count, t.denied) for k, t in cur.by_category.items()} == {
        "medical necessity": (2, D("490.00")), "modifier": (1, D("210.00")),
        "coding/bundling": (1, D("85.00"))}
    assert cur.payer_label("ACME9") == "Acme Mutual (ACME9)"


def test_rework_cost_follows_the_setting(hand_ledger):
    from claimwright.reports import build_feedback

    report = build_feedback(hand_ledger, OCT, rework_cost=D("31.50"))
    assert report.current.rework_cost == D("126.00") and report.previous.rework_cost == \
        D("31.50")


def _decided_appeal(ledger, payer_id, claim, denied, category, outcome, on, recovered=None):
    key = ledger.prepare_appeal(
        payer="northwind", payer_id=payer_id, payer_claim_id=claim,
        patient_account=PATIENTS[claim][2], level=1, categories=[category],
        denied_amount=D(denied), denial_date=dt.date(2026, 10, 5), appeal_due=None,
        packet_path="p", inputs_hash="h", complete=True, missing=[],
        prepared_on=dt.date(2026, 10, 6)).key
    ledger.record_decision(key, outcome=outcome, decided_on=on, recovered=recovered)
    return key


def test_appeal_measures_come_from_the_appeals_ledger_where_it_has_records(hand_ledger,
                                                                           workspace):
    from claimwright.reports import build_feedback, write_feedback_report

    # C2: the status check saw it overturned; its record says partial ($100 of $245): the
    # record wins. C5 (Acme) overturned for its $85. C3 upheld at level 1 (its status check
    # still said under review), level 2 proposed and not decided. S1 has no record: its status
    # check's decision (upheld) still counts.
    L = hand_ledger
    _decided_appeal(L, "NWHP1", "C2", "245.00", "medical necessity", "partial",
                    dt.date(2026, 10, 25), D("100.00"))
    _decided_appeal(L, "ACME9", "C5", "85.00", "coding/bundling", "overturned",
                    dt.date(2026, 10, 28))
    c3 = _decided_appeal(L, "NWHP1", "C3", "210.00", "modifier", "upheld",
                         dt.date(2026, 10, 20))
    L.propose_next_level(c3, on=dt.date(2026, 10, 21))
    decisions = L.appeal_decisions()
    assert [(d.payer_claim_id, d.status, d.level, d.source) for d in decisions
            if d.decided_on.month == 10] == [
        ("S1", "upheld", 1, "status check"), ("C3", "upheld", 1, "appeals"),
        ("C2", "partial", 1, "appeals"), ("C5", "overturned", 1, "appeals")]

    report = build_feedback(L, OCT)
    figures = _figures(report, OCT)
    assert (figures["Appeals decided"], figures["Appeals overturned"],
            figures["Appeal overturn rate"]) == (4, 1, D("0.2500"))
    assert _figures(report, OCT.previous)["Appeal overturn rate"] == D("1.0000")  # S9, as before
    rows = [(c, p, t.decided, t.overturned, t.partial, t.upheld, t.overturn_rate,
             t.any_recovery_rate, t.recovered) for c, p, t in report.current.appeal_rows()]
    assert rows == [
        ("medical necessity", "NWHP1", 2, 0, 1, 1, D("0.0000"), D("0.5000"), D("100.00")),
        ("coding/bundling", "ACME9", 1, 1, 0, 0, D("1.0000"), D("1.0000"), D("85.00")),
        ("modifier", "NWHP1", 1, 0, 0, 1, D("0.0000"), D("0.0000"), D("0.00"))]

    files = write_feedback_report(workspace, L, OCT, today=dt.date(2026, 11, 15))
    text = " ".join(_pdf_text(files.pdf))
    assert "Appeals decided in 2026-10, by category and payer" in text
    assert "medical necessity Northwind Health Plan (NWHP1) 2 0 1 1 0.0% 50.0% $100.00" in text
    assert "coding/bundling Acme Mutual (ACME9) 1 1 0 0 100.0% 100.0% $85.00" in text
    assert not any(p[2] in text or p[1] in text or p[0] in text for p in PATIENTS.values())


def test_recovery_counts_only_later_payments_of_the_same_service(workspace):
    from claimwright.reports import build_feedback
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    denied = rm(NWHP, dt.date(2026, 10, 5),
                cl("C1", DR_A, ln("99214", "245.00", ("CO-50", "245.00"), remarks=["N115"]),
                   ln("36415", "25.00", ("CO-45", "22.00"))))
    record_remittance(ledger, denied, "denied")
    # the same day: not later; another procedure and another claim: not the same service;
    # a payment later reversed nets to nothing; then 300.00 paid: capped at the 245.00 denied
    record_remittance(ledger, rm(NWHP, dt.date(2026, 10, 5),
                                 cl("C1", DR_A, ln("99214", "245.00"))), "same-day")
    record_remittance(ledger, rm(NWHP, dt.date(2026, 10, 9),
                                 cl("C1", DR_A, ln("36415", "25.00")),
                                 cl("C2", DR_A, ln("99214", "245.00"))), "other-services")
    record_remittance(ledger, rm(ACME, dt.date(2026, 10, 9),
                                 cl("C1", DR_A, ln("99214", "245.00"))), "other-payer")
    record_remittance(ledger, rm(NWHP, dt.date(2026, 10, 12),
                                 cl("C1", DR_A, ln("99214", "100.00"))), "paid")
    record_remittance(ledger, rm(NWHP, dt.date(2026, 10, 14),
                                 cl("C1", DR_A, ln("99214", "-100.00"), status="22")),
                      "reversed")
    assert build_feedback(ledger, OCT).current.recovered == D("0.00")
    record_remittance(ledger, rm(NWHP, dt.date(2026, 11, 2),
                                 cl("C1", DR_A, ln("99214", "300.00"))), "repaid")
    assert build_feedback(ledger, OCT).current.recovered == D("245.00")
    ledger.close()


def test_adjustments_without_a_decision_are_counted_and_left_out(workspace):
    from claimwright.reports import build_feedback
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    record_remittance(ledger, rm(NWHP, dt.date(2026, 10, 5),
                                 cl("C1", DR_A, ln("99214", "245.00", ("CO-50", "245.00")),
                                    ln("36415", "25.00", ("CO-45", "22.00")))),
                      "not-yet-decided", decide=False)
    cur = build_feedback(ledger, OCT).current
    assert (cur.claims, cur.undecided, cur.denied_claims, cur.denied) == (1, 2, 0, D("0.00"))
    ledger.close()


@pytest.mark.parametrize("text, problem", [
    ("2026-13", "01 to 12"), ("2026-00", "01 to 12"), ("26-10", "YYYY-MM"),
    ("2026/10", "YYYY-MM"), ("October", "YYYY-MM"), ("", "YYYY-MM"), ("2026-1", "YYYY-MM"),
])
def test_a_month_is_yyyy_mm(text, problem):
    from claimwright.reports import MonthError

    with pytest.raises(MonthError, match=problem):
        Month.parse(text)


def test_month_arithmetic():
    assert Month.parse(" 2026-01 ") == Month(2026, 1)
    assert Month(2026, 1).previous == Month(2025, 12) and Month(2026, 3).minus(12) == \
        Month(2025, 3)
    assert Month.before(dt.date(2026, 1, 1)) == Month(2025, 12)
    assert (Month(2024, 2).first, Month(2024, 2).last) == (dt.date(2024, 2, 1),
                                                          dt.date(2024, 2, 29))
    assert str(Month(2026, 10)) == "2026-10" and Month(2026, 10).label() == "Oct 2026"


# ---------------------------------------------------------------------------------------------
# The files: workbook, PDF, charts


def _png_stats(png: bytes, box=None):
    """(pixel variance, distinct colours) of a PNG, or of the ``box`` fraction of it
    (left, top, right, bottom in 0..1)."""
    import io

    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if box:
        w, h = image.size
        image = image.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    pixels = np.asarray(image).astype(np.uint32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    return float(pixels.var()), len(np.unique(packed))


def _pdf_text(path) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        return [" ".join(page.get_textpage().get_text_bounded().split()) for page in doc]
    finally:
        doc.close()


def _xlsx_text(path) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    return "\n".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row
                     if c.value is not None)


@pytest.fixture
def written(hand_ledger, workspace):
    from claimwright.reports import write_feedback_report

    return write_feedback_report(workspace, hand_ledger, OCT, today=dt.date(2026, 11, 15))


def test_the_files_are_written_where_settings_say_and_owner_only(written, workspace):
    assert written.xlsx == workspace.out / "reports" / "feedback-2026-10.xlsx"
    assert written.pdf == workspace.out / "reports" / "feedback-2026-10.pdf"
    assert sorted(p.name for p in written.charts.values()) == [
        "feedback-2026-10-categories.png", "feedback-2026-10-patterns.png"]
    assert sorted(p.name for p in (workspace.out / "reports").iterdir()) == sorted(
        p.name for p in written.paths)  # no temporary file left behind
    for path in written.paths:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_the_workbook_opens_with_its_sheets_formats_and_figures(written):
    from openpyxl import load_workbook

    wb = load_workbook(written.xlsx)
    # "Appeals" (the month's decided appeals by category and payer) came with the appeals ledger
    assert wb.sheetnames == ["KPIs", "Patterns", "By payer", "By reason", "By category",
                             "Appeals"]
    kpis = wb["KPIs"]
    assert [c.value for c in kpis[1]] == ["Measure", "2026-10", "2026-09", "Change from 2026-09",
                                          "2025-10", "Change from 2025-10", "Definition"]
    assert all(c.font.bold for c in kpis[1]) and kpis.freeze_panes == "A2"
    assert kpis.column_dimensions["A"].width == 36
    rows = {r[0].value: r for r in kpis.iter_rows(min_row=2) if r[0].value}
    rate = rows["Denial rate by count"]
    assert (rate[1].value, rate[2].value, rate[3].value) == (0.8, 0.25, 0.55)
    assert rate[1].number_format == "0.0%" and "pts" in rate[3].number_format
    assert rate[4].value == "no data" and rate[5].value == "no data"
    denied = rows["Denied"]
    assert denied[1].value == 785 and "$" in denied[1].number_format
    assert rows["Recovered so far"][1].value == 194.14
    assert rows["Rework cost estimate"][1].value == 100

    patterns = wb["Patterns"]
    head = [c.value for c in patterns[1]]
    first = dict(zip(head, [c.value for c in patterns[2]]))
    assert {k: first[k] for k in ("Rank", "Provider", "Provider NPI", "Procedure", "Modifiers",
                                  "Group-CARC", "RARCs", "Denials", "Denied",
                                  "Recovered so far")} == {
        "Rank": 1, "Provider": "Rivera, Ana MD", "Provider NPI": "1234567893",
        "Procedure": "99214", "Modifiers": None, "Group-CARC": "CO-50", "RARCs": "N115",
        "Denials": 2, "Denied": 490, "Recovered so far": 131.2}
    assert "visit level" in first["Documentation or coding element"]
    assert first["Element entry (documentation.yaml)"].startswith("CARC 50 with N115 on 992*")
    assert patterns.max_row == 4 and patterns.auto_filter.ref == "A1:O4"
    payers = {r[1].value: [c.value for c in r] for r in wb["By payer"].iter_rows(min_row=2)}
    assert payers["NWHP1"] == ["Northwind Health Plan", "NWHP1", 3, 4, 0.75, 700, 926, 0.7559]
    reasons = [[c.value for c in r][:4] for r in wb["By reason"].iter_rows(min_row=2)]
    assert reasons[0][:3] == ["CO-50", "Payer judges the service not medically necessary", 2]
    months = {(r[0].value, r[1].value): r[3].value for r in wb["By category"].iter_rows(
        min_row=2)}
    assert months == {("2026-09", "medical necessity"): 245, ("2026-10", "coding/bundling"): 85,
                      ("2026-10", "medical necessity"): 490, ("2026-10", "modifier"): 210}
    # October's two decisions (C2 overturned, S1 upheld) are known only from status checks:
    # their category comes from the claims' appeal findings, their amount is not known (0)
    appeals = [[c.value for c in r] for r in wb["Appeals"].iter_rows()]
    assert appeals == [["Category", "Payer", "Payer ID", "Decided", "Overturned", "Partial",
                        "Upheld", "Overturn rate", "Any recovery rate", "Recovered"],
                       ["medical necessity", "Northwind Health Plan", "NWHP1", 2, 1, 0, 1, 0.5,
                        0.5, 0]]


def test_the_pdf_renders_with_the_patterns_first_and_every_measure(written):
    from claimwright.reports import KPIS
    from claimwright.reports.render import pdf_page_png

    pages = _pdf_text(written.pdf)
    assert len(pages) >= 2
    first = pages[0]
    assert "Denial feedback report: October 2026" in first
    assert "At a glance: 80.0% of claims denied (+55.0 pts from 2026-09), 62.5% of billed " \
           "dollars; $785.00 denied, $194.14 recovered so far; 2 appeal(s) decided, 1 " \
           "overturned; estimated rework cost $100.00." in first
    assert "1 Rivera, Ana MD (NPI 1234567893) 99214 CO-50 N115 medical necessity 2 2 $490.00 " \
           "$131.20 The note must state the findings that support the visit level" in first
    text = " ".join(pages)
    for kpi in KPIS:
        assert kpi.name in text, kpi.name
    assert "Denial rate by count 80.0% 25.0% +55.0 pts no data no data" in text
    assert "Acme Mutual (ACME9) 1 1 100.0% $85.00 $330.00 25.8%" in text
    variance, colours = _png_stats(pdf_page_png(written.pdf.read_bytes()))
    assert variance > 100 and colours > 10  # a page of text and tables, not a blank page


def test_the_charts_are_not_blank_and_are_in_the_pdf(written):
    import pypdfium2 as pdfium

    for name, path in written.charts.items():
        png = path.read_bytes()
        assert png.startswith(b"\x89PNG"), name
        variance, _ = _png_stats(png)
        assert variance > 100, name
        # the plot area (the middle of the figure) has bars of more than one colour
        _, colours = _png_stats(png, box=(0.3, 0.25, 0.7, 0.85))
        assert colours > 2, name
    doc = pdfium.PdfDocument(written.pdf)
    try:
        images = sum(1 for page in doc for obj in page.get_objects()
                     if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
    finally:
        doc.close()
    assert images == 2


def test_no_patient_name_member_id_or_account_anywhere(written):
    from claimwright.reports.feedback import kpi_markdown

    texts = {"xlsx": _xlsx_text(written.xlsx), "pdf": " ".join(_pdf_text(written.pdf)),
             "artifact": kpi_markdown(written.report)}
    assert "Rivera, Ana MD" in texts["xlsx"] + texts["pdf"]  # the check can see names
    for name, member, account in PATIENTS.values():
        for where, text in texts.items():
            for secret in (name, name.split(",")[0], member, account):
                assert secret not in text, (secret, where)
    for claim_id in PATIENTS:  # not even the payer claim numbers: patterns, not claims
        assert f" {claim_id} " not in f" {texts['pdf']} ", claim_id


def test_text_from_payers_is_never_a_formula(workspace):
    from openpyxl import load_workbook

    from claimwright.reports import write_feedback_report
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    sneaky = Party("=HYPERLINK(\"http://example.invalid\",\"x\")", "+1234567893")
    record_remittance(ledger, rm(Party("@Payer & <Co>", "-P1"), dt.date(2026, 10, 5),
                                 cl("C1", sneaky, ln("99214", "245.00", ("CO-50", "245.00"),
                                                     remarks=["N115"]))), "sneaky")
    files = write_feedback_report(workspace, ledger, OCT)
    ledger.close()
    wb = load_workbook(files.xlsx)
    provider = wb["Patterns"]["B2"]
    assert provider.value == sneaky.name and provider.data_type == "s" and provider.quotePrefix
    npi = wb["Patterns"]["C2"]
    assert npi.value == "+1234567893" and npi.data_type == "s"
    payer = wb["By payer"]["A2"]
    assert payer.value == "@Payer & <Co>" and payer.data_type == "s" and payer.quotePrefix
    assert "@Payer & <Co> (-P1)" in " ".join(_pdf_text(files.pdf))  # escaped, printed as is


def test_a_month_without_data_still_writes_a_report_that_says_so(workspace):
    from claimwright.reports import write_feedback_report
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    files = write_feedback_report(workspace, ledger, OCT)
    ledger.close()
    text = " ".join(_pdf_text(files.pdf))
    assert "No remittance paid in 2026-10 is in the ledger" in text
    assert "Claims no data no data no data no data no data" in text
    assert _png_stats(files.charts["categories"].read_bytes())[0] > 10  # "no data" is drawn


# ---------------------------------------------------------------------------------------------
# The command and the monthly flow


def test_the_command_writes_the_report_and_prints_headlines(hand_ledger, workspace):
    from typer.testing import CliRunner

    from claimwright.cli import app

    out = CliRunner().invoke(app, ["report", "feedback", "--month", "2026-10"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[:4] == [f"wrote {workspace.reports / name}" for name in (
        "feedback-2026-10.xlsx", "feedback-2026-10.pdf", "feedback-2026-10-categories.png",
        "feedback-2026-10-patterns.png")]
    assert lines[4] == ("2026-10: 5 claims, 4 denied (80.0% by count, 62.5% by dollars); "
                        "$785.00 denied, $194.14 recovered so far; appeal overturn rate 50.0%; "
                        "rework cost estimate $100.00")
    assert lines[5] == "top pattern: 99214 · CO-50 N115 · Rivera, Ana MD (2 denial(s), $490.00)"
    assert all(name not in out.output for name, _, _ in PATIENTS.values())


@pytest.mark.parametrize("month", ["2026-13", "10-2026", "last"])
def test_the_command_refuses_a_bad_month(workspace, month):
    from typer.testing import CliRunner

    from claimwright.cli import app

    out = CliRunner().invoke(app, ["report", "feedback", "--month", month])
    assert out.exit_code == 2
    assert out.output.startswith("error: --month: ") and month in out.output
    assert not workspace.reports.exists()  # nothing written


def test_the_command_refuses_a_bad_rework_cost(workspace, monkeypatch):
    from typer.testing import CliRunner

    from claimwright.cli import app

    monkeypatch.setenv("CLAIMWRIGHT_REWORK_COST", "twenty-five")
    out = CliRunner().invoke(app, ["report", "feedback", "--month", "2026-10"])
    assert out.exit_code == 2 and "CLAIMWRIGHT_REWORK_COST" in out.output


@pytest.mark.e2e
def test_the_monthly_flow_writes_the_report_and_a_kpi_artifact_without_phi(
        hand_ledger, workspace, prefect_api):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.feedback_report import ARTIFACT_KEY, monthly_feedback_report

    result = monthly_feedback_report(month="2026-10")
    assert result["month"] == "2026-10" and result["patterns"] == 3
    assert all(Path(p).exists() for p in result["files"])

    async def latest():
        async with get_client() as client:
            [artifact] = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[ARTIFACT_KEY])),
                limit=1, sort="CREATED_DESC")
            return artifact

    artifact = asyncio.run(latest())
    assert artifact.type == "markdown"
    assert "| Denial rate by count | 80.0% | +55.0 pts | no data |" in artifact.data
    assert "| Appeal overturn rate | 50.0% | -50.0 pts | no data |" in artifact.data
    for name, member, account in PATIENTS.values():
        assert name not in artifact.data and member not in artifact.data
        assert account not in artifact.data
    for claim_id in PATIENTS:
        assert f"{claim_id} " not in artifact.data
    # no month given (the schedule's way): the month before today
    assert monthly_feedback_report()["month"] == str(Month.before(dt.date.today()))


def test_without_a_month_the_command_and_the_flow_take_the_previous_one():
    from claimwright.reports import month_or_previous
    from flows.feedback_report import monthly_feedback_report

    assert month_or_previous(None, dt.date(2026, 1, 1)) == Month(2025, 12)
    assert month_or_previous("  ", dt.date(2026, 11, 30)) == Month(2026, 10)
    assert month_or_previous("2024-02", dt.date(2026, 11, 30)) == Month(2024, 2)
    assert monthly_feedback_report.parameters.properties["month"].get("default") is None


# ---------------------------------------------------------------------------------------------
# Through the real pipeline: synthetic PDFs parsed, categorized and stored by the stages


def test_the_report_of_a_ledger_the_pipeline_filled_agrees_with_its_findings(
        workspace, remittance_dataset):
    from collections import Counter

    from claimwright.models import Remittance
    from claimwright.pipeline import Context, import_document, process_documents, write_outputs
    from claimwright.reports import write_feedback_report
    from claimwright.reports.feedback import PatternKey

    anchor = dt.date(2024, 6, 28)
    folder, _ = remittance_dataset("northwind", anchor, count=6, anomalies=False)
    ctx = Context.from_settings()
    for pdf in sorted(folder.glob("*.pdf")):
        assert import_document(ctx, "northwind", pdf)
    process_documents(ctx, "northwind")
    write_outputs(ctx, "northwind", as_of=anchor)
    days = ctx.ledger.remittance_payment_dates()
    month = Counter(Month.of(d) for d in days).most_common(1)[0][0]
    files = write_feedback_report(workspace, ctx.ledger, month)
    cur = files.report.current

    # the same figures counted another way: the ledger's findings dated in the month, and the
    # claims of the month's remittances (every adjustment of them has a decision)
    denials = [f for f in ctx.ledger.findings(denials_only=True)
               if f.denial_date and Month.of(f.denial_date) == month and f.amount > 0]
    claims = [c for doc in ctx.ledger.documents() for rec in ctx.ledger.remittances(doc.id)
              if rec.payment_date and Month.of(rec.payment_date) == month
              for c in Remittance.from_json(rec.data).claims if c.status_code != "22"]
    assert cur.undecided == 0 and cur.claims == len(claims) > 0
    assert cur.denied == sum((f.amount for f in denials), D("0.00")) > 0
    assert cur.denied_claims == len({(f.payer_id, f.payer_claim_id) for f in denials})
    assert sum(p.count for p in files.report.patterns) == len(denials)
    assert sum(p.denied for p in files.report.patterns) == cur.denied
    # each pattern names the rendering provider the parser read from the claim (none yet when
    # the remittance does not give one: "(not on the remittance)")
    denied_ids = {f.payer_claim_id for f in denials}
    providers = {PatternKey(c.rendering_provider.id, c.rendering_provider.name, "", (), "", "",
                            ()).provider for c in claims if c.payer_claim_id in denied_ids}
    assert {p.key.provider for p in files.report.patterns} == providers
    assert all(p.element.specific for p in files.report.patterns
               if p.key.carc != "Z98"), [p.key.reason for p in files.report.patterns]
    text = " ".join(_pdf_text(files.pdf)) + _xlsx_text(files.xlsx)
    for claim in claims:
        assert claim.patient_name not in text and claim.patient_account not in text
        assert claim.member_id not in text
    ctx.ledger.close()


def test_a_year_of_data_charts_twelve_months_and_surfaces_the_repeated_patterns(workspace):
    from claimwright.reports import write_feedback_report
    from claimwright.storage import Ledger
    from fixtures.reports import CLINICIANS, HABITS, sample_ledger

    ledger = Ledger(workspace.database_url)
    sample_ledger(ledger, OCT.last, per_month=2)
    files = write_feedback_report(workspace, ledger, OCT)
    ledger.close()
    report = files.report
    assert report.chart_months == [OCT.minus(n) for n in range(11, -1, -1)]
    assert report.last_year.has_data and all(t.last_year is not None for t in report.trends()
                                             if t.kpi.needs_remittances)
    # the clinicians' habits (fixtures.reports.HABITS) come out on top, element attached
    habits = {(CLINICIANS[who].name, "-".join((proc, *mods)), " ".join((f"{g}-{c}", *rarcs)))
              for who, proc, mods, g, c, rarcs, _ in HABITS}
    for p in report.patterns[:3]:
        assert (p.key.provider_name, p.key.service, p.key.reason) in habits and p.count >= 2
        assert p.element.specific
    # twelve stacked bars of several categories: many colours in the plot area
    _, colours = _png_stats(files.charts["categories"].read_bytes(), box=(0.1, 0.1, 0.75, 0.8))
    assert colours > 8 and len(report.categories()) >= 5


def test_the_docs_show_the_report_as_it_renders():
    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "reports.md").read_text()
    for name in ("feedback-report-page1.png", "feedback-report-categories.png",
                 "feedback-report-patterns.png"):
        assert f"images/{name}" in doc, name
        variance, colours = _png_stats((root / "docs" / "images" / name).read_bytes())
        assert variance > 100 and colours > 10, name


def test_rules_check_validates_the_documentation_elements(tmp_path):
    from typer.testing import CliRunner

    from claimwright.cli import app

    ok = CliRunner().invoke(app, ["rules", "check"])
    assert ok.exit_code == 0 and "documentation elements" in ok.output
    assert f"{len(load_documentation().entries)} entries" in ok.output
    bad = tmp_path / "documentation.yaml"
    bad.write_text(textwrap.dedent(GOOD_HEAD + """\
      - carc: "50"
        group: XY
        element: A group that does not exist.
    """))
    out = CliRunner().invoke(app, ["rules", "check", "--documentation", str(bad)])
    assert out.exit_code == 2  # rules-invalid: a typed business error
    assert "documentation.yaml:5: elements[0].group: group 'XY' is not in the code tables" \
        in out.output
