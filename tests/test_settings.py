"""Settings: every CLAIMWRIGHT_* variable, its default, read in one place."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from claimwright.settings import PACKAGE_DIR, PROJECT_DIR, VARIABLES, Settings, SettingsError


def test_defaults_without_any_variable(tmp_path):
    s = Settings.from_env({"XDG_STATE_HOME": str(tmp_path)})
    assert s.home == Path("var").resolve() and s.out == Path("out").resolve()
    assert s.database_url == f"sqlite:///{s.home / 'claimwright.db'}"
    assert s.rules == PACKAGE_DIR / "rules" / "rules.yaml"
    assert s.deadlines == PACKAGE_DIR / "rules" / "deadlines.yaml"
    assert s.followup == PACKAGE_DIR / "rules" / "followup.yaml"
    assert s.codes == PACKAGE_DIR / "codes"
    assert s.practice == PACKAGE_DIR / "packets" / "practice.yaml"
    assert s.selectors_dir == PROJECT_DIR / "selectors"
    assert s.session_dir == tmp_path / "claimwright" / "sessions"
    assert s.chromium is None and s.portal_url("northwind") is None
    assert s.documentation == PACKAGE_DIR / "rules" / "documentation.yaml"
    assert s.reports == s.out / "reports"
    assert s.rework_cost == Decimal("25.00")
    assert s.claim_export == s.home / "claim-export.csv"  # may be missing: no enrichment
    assert s.documents == s.home / "documents"
    assert s.forms == PACKAGE_DIR / "packets" / "forms.yaml"
    assert s.layouts_dirs == () and s.layout_search_path == (PACKAGE_DIR / "layouts",)
    for path in (s.rules, s.deadlines, s.followup, s.codes, s.practice, s.selectors_dir,
                 s.documentation, s.forms):
        assert path.exists(), path


def test_every_variable_is_read(tmp_path):
    env = {v.name: str(tmp_path / v.field) for v in VARIABLES if v.kind == "path"}
    env |= {v.name: "7" for v in VARIABLES if v.kind == "count"}
    env |= {v.name: "yes" for v in VARIABLES if v.kind == "flag"}
    env |= {v.name: f" {tmp_path / 'a'}{os.pathsep}{os.pathsep}{tmp_path / 'b'} "
            for v in VARIABLES if v.kind == "paths"}
    env["CLAIMWRIGHT_DATABASE_URL"] = "sqlite:///elsewhere.db"
    env["CLAIMWRIGHT_REWORK_COST"] = " 31.5 "
    env["CLAIMWRIGHT_NORTHWIND_URL"] = "http://127.0.0.1:8001 "
    s = Settings.from_env(env)
    assert {v.kind for v in VARIABLES} == {"path", "paths", "url", "count", "money", "flag"}
    for v in VARIABLES:
        if v.kind == "path":
            assert getattr(s, v.field) == tmp_path / v.field, v.name
        elif v.kind == "count":
            assert getattr(s, v.field) == 7, v.name
        elif v.kind == "flag":
            assert getattr(s, v.field) is True, v.name
        elif v.kind == "paths":  # empty parts and blanks around are dropped
            assert getattr(s, v.field) == (tmp_path / "a", tmp_path / "b"), v.name
    assert s.database_url == "sqlite:///elsewhere.db"
    assert s.rework_cost == Decimal("31.50") and isinstance(s.rework_cost, Decimal)
    assert s.portal_url("northwind") == "http://127.0.0.1:8001"
    assert s.portal_urls == {"northwind": "http://127.0.0.1:8001"}  # DATABASE_URL is no portal


def test_the_docstring_table_lists_every_variable():
    import claimwright.settings as mod

    documented = set(re.findall(r"^\| (CLAIMWRIGHT_[A-Z_<>]+) \|", mod.__doc__, re.M))
    assert {v.name for v in VARIABLES} | {"CLAIMWRIGHT_<PAYER>_URL"} == documented


def test_a_count_that_is_not_a_number_names_the_variable():
    with pytest.raises(SettingsError, match="CLAIMWRIGHT_WORKLIST_VERSIONS='five'"):
        Settings.from_env({"CLAIMWRIGHT_WORKLIST_VERSIONS": "five"})
    assert Settings.from_env({"CLAIMWRIGHT_WORKLIST_VERSIONS": "0"}).worklist_versions == 0


def test_the_console_settings(tmp_path):
    s = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path)})
    assert s.console_users == tmp_path / "console-users.yaml"
    assert s.console_idle_minutes == 15 and s.console_secure_cookies is False
    assert Settings.from_env({"CLAIMWRIGHT_CONSOLE_SECURE_COOKIES": "0"}) \
        .console_secure_cookies is False
    with pytest.raises(SettingsError, match="CLAIMWRIGHT_CONSOLE_SECURE_COOKIES='maybe'"):
        Settings.from_env({"CLAIMWRIGHT_CONSOLE_SECURE_COOKIES": "maybe"})


def test_reports_follow_out_unless_set(tmp_path):
    s = Settings.from_env({"CLAIMWRIGHT_OUT": str(tmp_path / "elsewhere")})
    assert s.reports == tmp_path / "elsewhere" / "reports"
    assert s.feedback_report("2026-10", ".pdf") == s.reports / "feedback-2026-10.pdf"
    built = Settings(home=tmp_path / "h", out=tmp_path / "o", database_url="sqlite://")
    assert built.reports == tmp_path / "o" / "reports"


def test_documents_follow_home_unless_set(tmp_path):
    s = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path / "state")})
    assert s.documents == tmp_path / "state" / "documents"
    s = Settings.from_env({"CLAIMWRIGHT_DOCUMENTS": str(tmp_path / "ehr-export")})
    assert s.documents == tmp_path / "ehr-export"
    built = Settings(home=tmp_path / "h", out=tmp_path / "o", database_url="sqlite://")
    assert built.documents == tmp_path / "h" / "documents"


@pytest.mark.parametrize("text", ["abc", "-5", "1e3x", "nan"])
def test_a_rework_cost_that_is_no_amount_names_the_variable(text):
    with pytest.raises(SettingsError, match="CLAIMWRIGHT_REWORK_COST"):
        Settings.from_env({"CLAIMWRIGHT_REWORK_COST": text})


def test_the_claim_export_follows_home_unless_set(tmp_path):
    s = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path / "h")})
    assert s.claim_export == tmp_path / "h" / "claim-export.csv"
    built = Settings(home=tmp_path / "h2", out=tmp_path / "o", database_url="sqlite://")
    assert built.claim_export == tmp_path / "h2" / "claim-export.csv"
    s = Settings.from_env({"CLAIMWRIGHT_CLAIM_EXPORT": str(tmp_path / "pm" / "claims.csv")})
    assert s.claim_export == tmp_path / "pm" / "claims.csv"


def test_the_layout_folders_come_before_the_shipped_one_which_is_always_last(tmp_path):
    shipped = PACKAGE_DIR / "layouts"
    env = {"CLAIMWRIGHT_LAYOUTS_DIR": os.pathsep.join(
        [str(tmp_path / "b"), str(shipped), str(tmp_path / "a"), str(tmp_path / "b")])}
    assert Settings.from_env(env).layout_search_path == (tmp_path / "b", tmp_path / "a", shipped)
