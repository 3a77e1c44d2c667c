"""Layouts where admins keep them: CLAIMWRIGHT_LAYOUTS_DIR (several folders, the shipped one
last), found by their ``name`` (not the file name), detection over all of them, an admin's layout
replacing a shipped one, and ``claimwright layouts check|list``."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from typer.testing import CliRunner

from claimwright.cli import app
from claimwright.errors import UnknownLayout
from claimwright.parsing.layout import LayoutFileError
from claimwright.parsing.layout_catalog import catalog
from claimwright.parsing.layout_loader import LAYOUT_DIR, get_layout, load_layouts
from claimwright.parsing.pdf import detect_layout, parse_pdf

SHIPPED = sorted(p.stem for p in LAYOUT_DIR.glob("*.yaml"))


def _layout(folder, file_name, *, name="acme", fingerprint="ACME HEALTH PLAN"):
    """A valid layout file (Northwind's, renamed, with its own fingerprint)."""
    text = (LAYOUT_DIR / "northwind.yaml").read_text()
    text = text.replace("name: northwind", f"name: {name}")
    shipped = ("  - 'NORTHWIND HEALTH PLAN'\n  - 'PROVIDER REMITTANCE ADVICE'\n"
               "  - 'Payer ID: NWHP1\\b'\n")
    assert shipped in text, "northwind.yaml's fingerprint changed"
    text = text.replace(shipped, f"  - '{fingerprint}'\n")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(text)
    return path


@pytest.fixture
def layouts_dir(tmp_path, monkeypatch):
    folder = tmp_path / "layouts"
    folder.mkdir()
    monkeypatch.setenv("CLAIMWRIGHT_LAYOUTS_DIR", str(folder))
    return folder


def test_without_the_setting_only_the_shipped_layouts(monkeypatch):
    monkeypatch.delenv("CLAIMWRIGHT_LAYOUTS_DIR", raising=False)
    assert [e.name for e in catalog()] == SHIPPED
    assert all(e.shipped and e.overrides is None for e in catalog())


def test_an_admin_layout_is_detected_by_its_name_whatever_its_file_is_called(layouts_dir):
    path = _layout(layouts_dir, "acme-2026-remits.yaml")
    acme = get_layout("acme")
    assert acme.name == "acme" and acme.path == path.resolve()
    assert detect_layout("ACME HEALTH PLAN remittance advice") is acme
    assert [lay.name for lay in load_layouts()] == ["acme", *SHIPPED]  # the shipped ones last
    with pytest.raises(UnknownLayout, match=r"known: \['acme', 'clearpath'"):
        get_layout("acme-2026-remits")  # a file name is not a layout name


def test_several_folders_in_order_and_the_shipped_one_last(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    _layout(first, "one.yaml", name="one", fingerprint="ONE")
    _layout(second, "two.yaml", name="two", fingerprint="TWO")
    monkeypatch.setenv("CLAIMWRIGHT_LAYOUTS_DIR",
                       os.pathsep.join([str(second), str(LAYOUT_DIR), str(first)]))
    entries = catalog()
    assert [e.name for e in entries] == ["two", "one", *SHIPPED]
    assert [e.directory for e in entries[:2]] == [second, first]


def test_an_admin_layout_replaces_the_shipped_one_of_its_name(layouts_dir):
    """The shipped Northwind is then not used at all: with the admin's fingerprint changed, a
    Northwind PDF matches no layout (proof that the shipped file is out of detection)."""
    from fixtures.remittances import plan_dataset, render_plan

    pdf, truth, _ = render_plan(plan_dataset("northwind", seed=7, count=1, anchor=dt.date(
        2026, 11, 23), anomalies=False)[0])
    mine = _layout(layouts_dir, "northwind-2027.yaml", name="northwind",
                   fingerprint="NORTHWIND HEALTH PLAN 2027")
    [entry] = [e for e in catalog() if e.name == "northwind"]
    assert entry.path == mine and entry.overrides == LAYOUT_DIR / "northwind.yaml"
    assert get_layout("northwind").path == mine.resolve()
    with pytest.raises(UnknownLayout, match="no PDF layout matches"):
        parse_pdf(pdf)
    mine.write_text((LAYOUT_DIR / "northwind.yaml").read_text())  # the shipped text, renamed
    assert parse_pdf(pdf).to_json() == truth  # re-read on change: parsed by the admin's file


def test_two_admin_files_of_one_name_are_an_error_naming_both(tmp_path, monkeypatch):
    a = _layout(tmp_path / "a", "acme.yaml")
    b = _layout(tmp_path / "b", "acme-copy.yaml", fingerprint="OTHER")
    monkeypatch.setenv("CLAIMWRIGHT_LAYOUTS_DIR", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    with pytest.raises(LayoutFileError) as info:
        load_layouts()
    message = str(info.value)
    assert f"{b}:4: name: 'acme' is also the name of the layout in {a}:4" in message
    assert info.value.code == "layout-file-invalid"
    with pytest.raises(LayoutFileError, match="is also the name"):
        detect_layout("ACME HEALTH PLAN")  # detection stops: which one was meant is unknown
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "a.pdf"))
    pdf.drawString(72, 720, "ACME HEALTH PLAN")
    pdf.save()
    result = CliRunner().invoke(app, ["parse", str(tmp_path / "a.pdf")])
    assert result.exit_code == 3 and "error: layout-file-invalid: " in result.output  # docs/cli.md


def test_a_configured_folder_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMWRIGHT_LAYOUTS_DIR", str(tmp_path / "typo"))
    with pytest.raises(LayoutFileError, match=r"CLAIMWRIGHT_LAYOUTS_DIR: .*typo is not a folder"):
        load_layouts()


def test_layouts_check_says_ok_or_fail_per_file_and_exits_2_on_a_bad_one(layouts_dir, tmp_path):
    good = _layout(layouts_dir, "acme-v2.yaml")
    elsewhere = _layout(tmp_path / "drafts", "beta.yaml", name="beta", fingerprint="BETA")
    result = CliRunner().invoke(app, ["layouts", "check", str(good), str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"ok   {good}: layout acme, 1 fingerprint pattern(s); detected",
        f"ok   {elsewhere}: layout beta, 1 fingerprint pattern(s); not in the layout folders: "
        "detection does not see it (--layout FILE does)"]
    bad = layouts_dir / "broken.yaml"
    bad.write_text(good.read_text().replace("cell_gap: 5.0", "cel_gap: 5.0"))
    result = CliRunner().invoke(app, ["layouts", "check", str(bad), str(good)])
    assert result.exit_code == 2
    fail, ok = result.output.splitlines()
    assert fail == (f"FAIL {bad}: broken.yaml:10: text: unknown key(s) ['cel_gap']; allowed: "
                    "['cell_gap', 'row_tolerance']")
    assert ok.startswith(f"ok   {good}: layout acme") and "another layout file is invalid" in ok
    result = CliRunner().invoke(app, ["layouts", "check"])  # every file of the search path
    assert result.exit_code == 2 and f"FAIL {bad}" in result.output
    assert all(f"ok   {LAYOUT_DIR / n}.yaml" in result.output for n in SHIPPED)


def test_layouts_list_names_file_and_folder(layouts_dir):
    mine = _layout(layouts_dir, "kv.yaml", name="keystone", fingerprint="KEYSTONE 2027")
    result = CliRunner().invoke(app, ["layouts", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (f"keystone   {mine}  (CLAIMWRIGHT_LAYOUTS_DIR {layouts_dir}; replaces "
                        f"the shipped {LAYOUT_DIR / 'keystone.yaml'})")
    assert lines[1] == f"clearpath  {LAYOUT_DIR / 'clearpath.yaml'}  (shipped)"
    assert len(lines) == len(SHIPPED)


def test_the_pipelines_parse_worker_detects_with_the_admin_layouts(layouts_dir, tmp_path):
    """The isolated parse (a worker process, as the nightly pipeline parses) searches the same
    folders: an admin's layout is the one it uses."""
    from claimwright.parsing.isolation import Limits, ParseWorkers
    from fixtures.remittances import plan_dataset, render_plan

    pdf, truth, _ = render_plan(plan_dataset("northwind", seed=7, count=1, anchor=dt.date(
        2026, 11, 23), anomalies=False)[0])
    source = tmp_path / "remit.pdf"
    source.write_bytes(pdf)
    mine = layouts_dir / "nw.yaml"
    mine.write_text((LAYOUT_DIR / "northwind.yaml").read_text().replace(
        "name: northwind", "name: northwind-2027"))
    pool = ParseWorkers(Limits())
    try:
        with pytest.raises(UnknownLayout, match=r"several PDF layouts match.*'northwind-2027'"):
            pool.parse_file(source)  # both fingerprints match: never a guess
        mine.write_text(mine.read_text().replace("name: northwind-2027", "name: northwind"))
        [remit] = pool.parse_file(source)  # now it replaces the shipped one
        assert remit.to_json() == truth
    finally:
        pool.close()
