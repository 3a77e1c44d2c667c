"""Code tables: every code loads, the research CARCs and fixture codes are present, bad rows are
refused with file, line and field, admin copies reload on change."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from claimwright import codes
from claimwright.codes import CodeTableError, load_table, load_tables, normalize

REPO = Path(__file__).resolve().parents[1]
RESEARCH_CANDIDATES = [REPO.parent / "shared" / "reference" / "carc-research.csv",
                       Path("/work/shared/reference/carc-research.csv")]

# The codes of shared/reference/carc-research.csv (kept here too so the check runs without it).
RESEARCH_CARCS = """1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 18 19 20 21 22 23 24 26 27 29 31 32 33 34
35 39 40 45 49 50 51 53 54 55 56 58 59 96 97 100 107 109 110 112 114 119 128 129 133 136 140 146
147 149 150 151 152 163 164 167 170 171 173 177 181 182 183 184 185 189 193 197 198 199 200 204
206 207 208 226 227 231 234 236 242 243 250 251 252 253 256 272 273 275 276 282 284 286 288 296
A1 B7 B9 B11 B12 B13 B14 B15 B16 B20 B22 P2""".split()

# What the synthetic remittances (fixtures/remittances) emit, besides the fake CARC Z98.
FIXTURE_CARCS = ["CO-45", "PR-1", "PR-2", "PR-3", "CO-97", "CO-4", "CO-11", "CO-16", "CO-50",
                 "CO-197", "CO-29", "OA-18", "CO-27", "CO-96", "CO-151", "CO-22", "CO-253",
                 "OA-23"]
FIXTURE_RARCS = ["M15", "N519", "M78", "MA130", "M51", "N115", "N522", "N130"]
FIXTURE_PLB = ["L6", "WO", "FB", "72", "CS"]


@pytest.fixture(scope="module")
def t():
    return load_tables()


def test_every_table_loads_with_version_and_counts(t):
    counts = t.counts()
    assert t.version
    assert counts["carc"] >= 400
    assert counts["rarc"] >= 200
    assert set(t.groups.codes()) >= {"CO", "PR", "OA", "PI", "CR"}
    assert set(t.claim_status.codes()) >= {"1", "2", "3", "4", "19", "20", "21", "22", "23", "25"}
    assert counts["plb"] >= 30
    for name in codes.TABLE_NAMES:
        table = t.table(name)
        for entry in table:
            assert entry.meaning and entry.code == normalize(name, entry.code)
            assert entry.status in ("current", "deactivated")
            if entry.start and entry.stop:
                assert entry.stop > entry.start


def test_carc_table_holds_numeric_and_every_letter_prefix(t):
    carcs = set(t.carc.codes())
    assert {str(n) for n in range(1, 309)} <= carcs  # 1..308, current and retired
    for prefix, last in (("A", 8), ("B", 23), ("P", 32), ("W", 9), ("Y", 3)):
        first = 0 if prefix == "A" else 1
        assert {f"{prefix}{n}" for n in range(first, last + 1)} <= carcs, prefix
    current = [e for e in t.carc if e.status == "current"]
    assert len(current) >= 290


def test_rarc_table_has_the_common_m_ma_n_codes(t):
    rarcs = t.rarc.codes()
    assert sum(c.startswith("MA") for c in rarcs) >= 60
    assert sum(c.startswith("M") and not c.startswith("MA") for c in rarcs) >= 60
    assert sum(c.startswith("N") for c in rarcs) >= 200
    assert "unprocessable" in t.rarc.meaning("MA130")


def test_every_research_carc_is_in_the_table(t):
    codes_in_file = set()
    for path in RESEARCH_CANDIDATES:
        if path.exists():
            with path.open(newline="") as fh:
                codes_in_file = {row["code"].strip() for row in csv.DictReader(fh)}
            break
    research = set(RESEARCH_CARCS) | codes_in_file
    missing = sorted(c for c in research if not t.carc.is_known(c))
    assert not missing


def test_fixture_codes_are_in_the_tables(t):
    for code in FIXTURE_CARCS:
        group, carc = code.split("-")
        assert t.groups.is_known(group) and t.carc.is_known(carc), code
    for rarc in FIXTURE_RARCS:
        assert t.rarc.is_known(rarc), rarc
    for plb in FIXTURE_PLB:
        assert t.plb.is_known(plb), plb
    assert not t.carc.is_known("Z98")


def test_retired_codes_stay_known_with_dates(t):
    w1 = t.carc.get("W1")
    assert w1.deactivated and w1.stop == dt.date(2014, 7, 1)
    assert w1.active_on(dt.date(2014, 6, 30)) and not w1.active_on(dt.date(2014, 7, 1))
    assert t.carc.get("P12").active_on(dt.date(2014, 7, 1))
    m78 = t.rarc.get("M78")
    assert m78.deactivated and not m78.active_on(dt.date(2026, 1, 1))
    assert t.carc.get("253").active_on(dt.date(2026, 1, 1))
    assert not t.carc.get("253").active_on(dt.date(2013, 1, 1))  # before sequestration


def test_lookup_normalizes_spelling(t):
    assert t.carc.get("045").code == "45"
    assert t.carc.get(" a1 ").code == "A1"
    assert t.rarc.get("ma130").code == "MA130"
    assert t.claim_status.get("04").code == "4"


def _write(path: Path, body: str) -> Path:
    path.write_text("code,status,start,stop,meaning\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("body,line,field", [
    ("16,current,1995-01-01,,ok\n16,current,,,again\n", 3, "code"),
    ("16,current,01/01/1995,,bad date\n", 2, "start"),
    ("16,active,,,bad status\n", 2, "status"),
    ("16,current,2000-01-01,1999-01-01,stop before start\n", 2, "stop"),
    ("16,current,,2001-01-01,stopped but current\n", 2, "status"),
    ("1.5,current,,,not a code\n", 2, "code"),
    ("16,current,,,\n", 2, "meaning"),
    ("16,current,,,a, b\n", 2, "row"),
])
def test_bad_rows_are_refused_naming_line_and_field(tmp_path, body, line, field):
    path = _write(tmp_path / "carc.csv", body)
    with pytest.raises(CodeTableError) as info:
        load_table(path, "carc")
    assert info.value.context["line"] == line
    assert info.value.context["field"] == field
    assert f"carc.csv:{line}" in str(info.value)


def test_admin_copy_via_env_reloads_when_edited(tmp_path, monkeypatch):
    copy = tmp_path / "codes"
    shutil.copytree(codes.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setenv("CLAIMWRIGHT_CODES", str(copy))
    assert not codes.tables().carc.is_known("Z98")
    carc = copy / "carc.csv"
    carc.write_text(carc.read_text() + "Z98,current,2026-11-01,,Local test code\n")
    stat = carc.stat()
    os.utime(carc, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert codes.tables().carc.meaning("Z98") == "Local test code"
    monkeypatch.delenv("CLAIMWRIGHT_CODES")
    assert not codes.tables().carc.is_known("Z98")
