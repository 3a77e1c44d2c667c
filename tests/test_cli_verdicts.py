"""One verdict per document: ``claimwright parse`` and ``claimwright categorize`` give the same
document the same verdict and exit code (0 balanced, 1 unverified, 2 unreadable), and one
FaultCode -> exit code mapping serves every command. Files are generated in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claimwright.cli import app
from test_hostile_835 import blank_pdf

from claimwright.cli_common import (EXIT_OK, EXIT_REFUSED, EXIT_SYSTEM, EXIT_UNVERIFIED,
                                    Verdict, exit_code)
from claimwright.types import Failure, FaultCode

DEMO = (Path(__file__).parent / "data" / "x12-835" / "demo.835").read_text()
UNTRUSTED = "its numbers cannot be trusted"

# the CLI reads settings (and checks the folders of) a throwaway home, never the developer's
pytestmark = pytest.mark.usefixtures("workspace")


DOCUMENTS = {
    # name: (file name, bytes, exit code, what the output must say)
    "good": ("good.835", DEMO.encode(), EXIT_OK, None),
    "unbalanced": ("unbalanced.835", DEMO.replace("BPR*C*150000.00*", "BPR*C*150100.00*")
                   .encode(), EXIT_UNVERIFIED, "remittance-unbalanced"),
    "reversal": ("reversal.835", DEMO.replace("CLP*777777*1*", "CLP*777777*22*").encode(),
                 EXIT_UNVERIFIED, "reversal-sign"),
    "damaged": ("damaged.835", DEMO.replace("JONES*SAM", "JO\x00NES*SAM").encode(),
                EXIT_UNVERIFIED, "x12-control-character"),
    "oversized": ("oversized.835", DEMO.replace("CLP*666123*", "CLP*" + "6" * 500 + "*")
                  .encode(), EXIT_UNVERIFIED, "element-too-long"),
    "empty": ("empty.835", b"", EXIT_REFUSED, "empty-document"),
    "too many pages": ("big.pdf", blank_pdf(3), EXIT_REFUSED, "too-many-pages"),
    # read with the delimiters inferred from the ST, a problem saying the envelope is missing
    "missing envelope": ("bare.835", DEMO[DEMO.index("ST*"):].encode(), EXIT_UNVERIFIED,
                         "x12-missing-envelope"),
    "missing envelope, no delimiters": ("cut.835", b"ST*835*0001", EXIT_REFUSED,
                                        "missing-envelope: the ISA/GS envelope is missing"),
}


@pytest.fixture
def few_pages(monkeypatch):
    from claimwright.parsing import pdf_text

    monkeypatch.setattr(pdf_text, "MAX_PAGES", 2)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_parse_and_categorize_give_the_same_verdict_and_exit_code(name, tmp_path, few_pages):
    filename, data, code, says = DOCUMENTS[name]
    path = tmp_path / filename
    path.write_bytes(data)
    runner = CliRunner()
    parsed = runner.invoke(app, ["parse", str(path)])
    table = runner.invoke(app, ["categorize", str(path), "--as-of", "2026-10-05"])
    as_json = runner.invoke(app, ["categorize", str(path), "--as-of", "2026-10-05", "--json"])
    assert parsed.exit_code == table.exit_code == as_json.exit_code == code, (
        parsed.output, table.output, as_json.output)
    for result in (parsed, table, as_json):
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        if says:
            assert says in result.output
    if code == EXIT_OK:
        assert UNTRUSTED not in parsed.output + table.output + as_json.output
        assert json.loads(as_json.stdout)["verdict"] == Verdict.BALANCED
    elif code == EXIT_UNVERIFIED:
        for result in (parsed, table, as_json):
            assert "unverified: the document does not balance or is damaged" in result.output
            assert UNTRUSTED in result.output
        assert table.stdout.startswith("unverified:")  # said before any denial is listed
        assert json.loads(as_json.stdout)["verdict"] == Verdict.UNVERIFIED
        assert json.loads(parsed.stdout)["problems"]
    else:  # refused: one error line, no JSON, no table
        for result in (parsed, table, as_json):
            assert result.output.startswith("error: ") and not result.stdout.strip()


def test_the_verdict_line_names_codes_not_values(tmp_path):
    path = tmp_path / "damaged.835"
    path.write_bytes(DEMO.replace("JONES*SAM", "JO\x00NES*SAM").encode())
    out = CliRunner().invoke(app, ["categorize", str(path), "--as-of", "2026-10-05"])
    line = out.stdout.splitlines()[0]
    assert "JO" not in line and "666123" not in line and "x12-control-character" in line


def test_categorize_of_parse_json_keeps_the_verdict(tmp_path):
    path = tmp_path / "unbalanced.835"
    path.write_bytes(DOCUMENTS["unbalanced"][1])
    parsed = CliRunner().invoke(app, ["parse", str(path)])
    saved = tmp_path / "unbalanced.json"
    saved.write_text(parsed.stdout)
    again = CliRunner().invoke(app, ["categorize", str(saved), "--as-of", "2026-10-05"])
    assert parsed.exit_code == again.exit_code == EXIT_UNVERIFIED
    assert UNTRUSTED in again.output


def test_one_exit_code_per_fault_code():
    for code in FaultCode:
        expected = EXIT_SYSTEM if code.failure is Failure.SYSTEM else EXIT_REFUSED
        assert exit_code(code) == expected, code
    assert exit_code("empty-document") == EXIT_REFUSED
    assert exit_code(FaultCode.TIMEOUT) == EXIT_SYSTEM
    assert [v.exit_code for v in Verdict] == [EXIT_OK, EXIT_UNVERIFIED, EXIT_REFUSED]
    assert len({EXIT_OK, EXIT_UNVERIFIED, EXIT_REFUSED, EXIT_SYSTEM}) == 4
