"""The one loader of admin-edited files: file and line in every error, reload on change."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml

from claimwright import datafiles
from claimwright.packets.config import PacketConfigError
from claimwright.packets.letters import LETTERS_DIR, load_letters
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


def test_packet_letters_and_templates_reload(tmp_path):
    folder = tmp_path / "letters"
    shutil.copytree(LETTERS_DIR, folder)
    settings = Settings.from_env({"CLAIMWRIGHT_LETTERS": str(folder)})
    assert load_letters(settings).category("duplicate")[0].label == "Duplicate"
    letters_file = folder / "letters.yaml"
    touch_later(letters_file, letters_file.read_text().replace("label: Duplicate,",
                                                               "label: Duplicate claim,"))
    assert load_letters(settings).category("duplicate")[0].label == "Duplicate claim"
    template = folder / "duplicate.txt"
    touch_later(template, '{% extends "base.txt" %}\n{% block argument %}\n{% if %}\n')
    with pytest.raises(PacketConfigError, match=re.escape("duplicate.txt:3: template error")):
        load_letters(settings)
