"""The one loader of admin-edited files: file and line in every error, reload on change."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml

from claimwright import datafiles
from claimwright.packets.config import HERE as PACKETS_DIR
from claimwright.packets.config import PacketConfigError, load_letter_text, render_letter
from claimwright.parsing.layout_loader import LAYOUT_DIR, get_layout
from claimwright.rules.followup import load_followup
from claimwright.rules.source import RulesError
from claimwright.settings import Settings


def touch_later(path, text):
    """Rewrite ``path`` and move its mtime on, so a reload is seen even within one clock tick."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_load_parses_again_only_when_the_file_changes(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("n: 1\n")
    calls = []

    def parse(p):
        calls.append(p)
        return datafiles.read_yaml(p, RulesError).data["n"]

    assert datafiles.load(path, parse) == 1 and datafiles.load(path, parse) == 1
    assert len(calls) == 1
    touch_later(path, "n: 2\n")
    assert datafiles.load(path, parse) == 2 and len(calls) == 2
    assert datafiles.load(path, parse, depends="other tables") == 2 and len(calls) == 3


def test_a_failed_parse_is_not_kept(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("n: [1\n")
    with pytest.raises(RulesError, match=r"a\.yaml:2: not valid YAML"):
        datafiles.load(path, lambda p: datafiles.read_yaml(p, RulesError).data)
    touch_later(path, "n: [1]\n")
    assert datafiles.load(path, lambda p: datafiles.read_yaml(p, RulesError).data) == {"n": [1]}


def test_line_of_follows_fields_and_list_items(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("top:\n  items:\n    - x: 1\n    - x: 2\n      y: 3\n")
    doc = datafiles.read_yaml(path, RulesError)
    assert doc.line_of(("top", "items", 1, "y")) == 5
    assert doc.line_of("top.items[1].x") == 4
    assert doc.line_of(("top", "missing")) == 1


def test_followup_schema_errors_name_file_line_and_field(tmp_path, monkeypatch):
    data = yaml.safe_load(Settings.followup.read_text())
    data["claim"]["statuses"][0]["follow_up_days"] = 0
    path = tmp_path / "followup.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), start=1)
                if "follow_up_days: 0" in text)
    monkeypatch.setenv("CLAIMWRIGHT_FOLLOWUP", str(path))
    with pytest.raises(RulesError) as err:
        load_followup()
    assert str(err.value).startswith(f"followup.yaml:{line}: claim.statuses[0].follow_up_days: ")
    assert err.value.line == line


def test_an_edited_layout_is_used_without_a_restart(tmp_path):
    path = tmp_path / "northwind.yaml"
    shutil.copy(LAYOUT_DIR / "northwind.yaml", path)
    first = get_layout(path)
    text = path.read_text()
    assert "cell_gap: 5.0" in text
    touch_later(path, text.replace("cell_gap: 5.0", "cell_gap: 6.0"))
    assert first.cell_gap == 5.0 and get_layout(path).cell_gap == 6.0


def test_packet_letter_text_and_template_reload(tmp_path):
    args = tmp_path / "arguments.yaml"
    shutil.copy(PACKETS_DIR / "arguments.yaml", args)
    assert load_letter_text(args).appeal_level
    data = yaml.safe_load(args.read_text())
    data["letter"]["appeal_level"] = "Second-level appeal"
    touch_later(args, yaml.safe_dump(data))
    assert load_letter_text(args).appeal_level == "Second-level appeal"
    broken = PACKETS_DIR / "test-broken-letter.txt"  # render_letter reads templates from here
    try:
        broken.write_text("Dear payer,\n\n{% if %}\n")
        with pytest.raises(PacketConfigError, match=re.escape("test-broken-letter.txt:3: ")):
            render_letter({}, template=broken.name)
    finally:
        broken.unlink()
