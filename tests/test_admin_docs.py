"""The admin docs run: docs/admin-payers.md, docs/layouts.md and selectors/README.md.

- Every ``claimwright ...`` command in one of their code blocks is run (in-process, in a temp
  workspace) and must end as the docs say: exit 0, or the ``exit N`` its comment names. In a
  ``console`` block, ``$ export``, ``$ mkdir -p`` and ``$ cp`` lines are done too (against the
  files the docs name; ``/srv/claimwright`` is the workspace), and the lines a command is shown
  printing are exactly the lines it prints (paths shortened as the docs say: the workspace and
  this checkout's folder left out). Each code block starts from a fresh workspace.
- Every error or validation message the docs quote (inline, or in a block that is not a
  transcript) is produced by running its case (``MESSAGES``), and must be in what the code
  printed.

A step a block cannot show (a broken file: the docs say in words what is wrong) is set up by
``SETUPS``, keyed by the doc line; a key no doc has any more fails, so neither side drifts.
``claimwright run`` is the one command not run for real (it needs a live portal, a browser and
a Prefect server: tests/test_onboarding.py pulls Summit end to end): the nightly flow is replaced
by a recorder, which checks the command takes the payer and dates the docs show.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml
from typer.testing import CliRunner

from claimwright.cli import app
from test_docs import ROOT

ADMIN_DOCS = [ROOT / "docs" / "admin-payers.md", ROOT / "docs" / "layouts.md",
              ROOT / "selectors" / "README.md"]
SRV = "/srv/claimwright"  # the admin's own folder in the docs: the workspace here
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-z]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
EXIT = re.compile(r"#.*\bexit (\d)\b")


@dataclass
class Step:
    line: str                  # as in the doc, without "$ "
    words: list[str]           # the command without its comment
    exit: int = 0
    output: list[str] | None = None  # console blocks: the lines shown after it


@dataclass
class Block:
    doc: str
    steps: list[Step] = field(default_factory=list)


def _blocks(doc: Path) -> list[Block]:
    found = []
    for m in FENCE.finditer(doc.read_text(encoding="utf-8")):
        indent, console = len(m["indent"]), m["lang"] == "console"
        block = Block(doc.name)
        for raw in m["body"].splitlines():
            line = raw[indent:].rstrip()
            if console and not line.startswith("$ "):
                if block.steps and line:
                    block.steps[-1].output.append(line)
                continue
            line = line.removeprefix("$ ") if console else line
            words = shlex.split(line, comments=True)
            if words and (console or words[0] == "claimwright"):
                expected = EXIT.search(line)
                block.steps.append(Step(line, words, int(expected[1]) if expected else 0,
                                        [] if console else None))
        if any(s.words[0] == "claimwright" for s in block.steps):
            found.append(block)
    return found


BLOCKS = [b for doc in ADMIN_DOCS for b in _blocks(doc)]


class Workspace:
    """A fresh CLAIMWRIGHT_HOME/OUT and selectors folder (the project's files, plus Summit as
    docs/admin-payers.md writes it), no layout folder until a block exports one."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root, self.mp = root, monkeypatch
        for name in [n for n in os.environ if n.startswith("CLAIMWRIGHT_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("CLAIMWRIGHT_HOME", str(root / "var"))
        monkeypatch.setenv("CLAIMWRIGHT_OUT", str(root / "out"))
        monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(root / "sessions"))
        self.selectors = root / "selectors"
        self.selectors.mkdir()
        for path in (ROOT / "selectors").glob("*.yaml"):
            shutil.copy(path, self.selectors)
        (self.selectors / "summit.yaml").write_text(summit_example())
        monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(self.selectors))

    def path(self, text: str) -> str:
        """A doc's path in the workspace: /srv/claimwright/... here; relative: the checkout."""
        return text.replace(SRV, str(self.root / "srv"))

    def shown(self, output: str) -> list[str]:
        """Printed lines with paths as the docs show them."""
        text = output.replace(str(self.root / "srv"), SRV).replace(f"{self.root}/", "")
        return [line.rstrip() for line in text.replace(f"{ROOT}/", "").splitlines()]

    def edit(self, path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text, (path, old)
        path.write_text(text.replace(old, new, 1))

    def run(self, step: Step) -> None:
        verb, *args = step.words
        if verb == "export":
            name, _, value = args[0].partition("=")
            self.mp.setenv(name, self.path(value))
        elif verb == "mkdir":
            Path(self.path(args[-1])).mkdir(parents=True, exist_ok=True)
        elif verb == "cp":
            shutil.copy(ROOT / args[0], self.path(args[1]))
        else:
            assert verb == "claimwright", step.line
            self.result = result = CliRunner().invoke(app, [self.path(w) for w in args])
            assert result.exit_code == step.exit, (step.line, result.output, result.exception)
            if step.output is not None:
                assert self.shown(result.output) == step.output, step.line


def summit_example() -> str:
    """The Summit payer file exactly as docs/admin-payers.md shows it (Step 2)."""
    text = (ROOT / "docs" / "admin-payers.md").read_text(encoding="utf-8")
    [body] = [m["body"] for m in FENCE.finditer(text)
              if m["lang"] == "yaml" and "payer: summit" in m["body"]]
    return body


# --- what a block cannot show --------------------------------------------------------------


def _without_submit_search(ws: Workspace) -> None:
    ws.edit(ws.selectors / "summit.yaml", "  submit_search: [{role: button, name: Find ERAs}]\n",
            "")


def _username_with_two_strategies(ws: Workspace) -> None:
    path = ws.selectors / "northwind.yaml"
    data = yaml.safe_load(path.read_text())
    assert len(data["locators"]["username"]) == 2
    data["locators"]["username"].append({"label": "Username", "css": "input#username"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _move_units_left(ws: Workspace, layout: Path) -> None:
    ws.edit(layout, "{field: units, from: 146, to: 176}", "{field: units, from: 140, to: 176}")


def _units_moved_left(ws: Workspace) -> None:
    _move_units_left(ws, Path(ws.path(f"{SRV}/layouts/northwind-2027.yaml")))


def _twelve_review_items(ws: Workspace) -> None:
    """Items 1-11 of other kinds, and item 12 Keystone's portal failure (as the docs read it)."""
    from claimwright.settings import Settings
    from claimwright.storage import Ledger

    ledger = Ledger(Settings.from_env().database_url)
    try:
        for n in range(1, 13):
            kind = "portal-failure" if n == 12 else "unknown-layout"
            ledger.upsert_review_item(key=f"{kind}:{n}", kind=kind, reason="synthetic",
                                      payer="keystone", evidence=[],
                                      context={"code": "locator-not-found", "step": "search"}
                                      if n == 12 else {})
    finally:
        ledger.close()


def _nightly_recorder(ws: Workspace) -> None:
    """`claimwright run` with the nightly flow replaced: the call is recorded (see module doc)."""
    import contextlib

    import claimwright.cli as cli
    import claimwright.printout as printout

    calls = ws.calls = []
    fake = types.ModuleType("flows.nightly")
    fake.nightly_denials = lambda **kw: calls.append(kw) or []
    ws.mp.setitem(sys.modules, "flows.nightly", fake)
    ws.mp.setattr(cli, "_prefect_for_run", lambda: contextlib.nullcontext("http://fake"))
    ws.mp.setattr(printout, "print_run_summary", lambda results, settings: None)


SETUPS: dict[str, Callable[[Workspace], None]] = {
    "claimwright payers check summit        # without submit_search: exit 2":
        _without_submit_search,
    "claimwright payers check northwind     # a candidate with two strategies: exit 2":
        _username_with_two_strategies,
    "claimwright layouts check /srv/claimwright/layouts/northwind-2027.yaml   # units: from "
    "140: exit 2": _units_moved_left,
    "claimwright review list --kind portal-failure": _twelve_review_items,
    "claimwright run --payer summit --start 2024-06-01 --end 2024-06-30": _nightly_recorder,
}
AFTER: dict[str, Callable[[Workspace], None]] = {
    "claimwright run --payer summit --start 2024-06-01 --end 2024-06-30": lambda ws: (
        _assert_recorded(ws.calls)),
    "claimwright review show 12": lambda ws: _assert_in("portal-failure", ws.result.output),
}


def _assert_recorded(calls: list[dict]) -> None:
    [call] = calls
    assert call["payers"] == ["summit"] and call["start"] == dt.date(2024, 6, 1) \
        and call["end"] == dt.date(2024, 6, 30)


def _assert_in(text: str, output: str) -> None:
    assert text in output, output


def test_the_admin_docs_have_commands_to_run():
    commands = [s.line for b in BLOCKS for s in b.steps if s.words[0] == "claimwright"]
    assert len(commands) >= 10 and {b.doc for b in BLOCKS} == {d.name for d in ADMIN_DOCS}
    lines = {s.line for b in BLOCKS for s in b.steps}
    assert set(SETUPS) | set(AFTER) <= lines, (set(SETUPS) | set(AFTER)) - lines


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.doc}:{b.steps[-1].line[:60]}")
def test_every_command_in_a_code_block_ends_as_the_docs_say(block, tmp_path, monkeypatch):
    ws = Workspace(tmp_path, monkeypatch)
    for step in block.steps:
        if step.line in SETUPS:
            SETUPS[step.line](ws)
        ws.run(step)
        if step.line in AFTER:
            AFTER[step.line](ws)


# --- quoted messages -----------------------------------------------------------------------

MESSAGE = re.compile(r"Value error|invalid payer config|^\S+\.ya?ml:\d+: |^error: |^FAIL "
                     r"|no layout named|no PDF layout matches")
SPAN = re.compile(r"`([^`]+)`")


def _quoted_messages() -> set[str]:
    """Messages quoted outside transcripts: inline, or a line of a block that is not a console
    (a console's output is checked by running it)."""
    found = set()
    for doc in ADMIN_DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m["lang"] != "console":
                found |= {line.strip() for line in m["body"].splitlines()
                          if MESSAGE.search(line.strip()) and not line.strip().startswith(
                              "claimwright ")}
        prose = FENCE.sub("", text).replace("\n", " ")  # a span may wrap: one space
        for span in SPAN.findall(prose):
            span = " ".join(span.split())
            if MESSAGE.search(span) and not span.startswith("claimwright "):
                found.add(span)
    return found


def _text_pdf(path: Path, text: str) -> Path:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 720, text)
    pdf.save()
    return path


def _invoke(*args: str) -> str:
    return CliRunner().invoke(app, list(args)).output


def _payers_listed_twice(ws: Workspace) -> str:
    path = ws.selectors / "clearpath.yaml"
    data = yaml.safe_load(path.read_text())
    data["flow_options"]["payers"].append(data["flow_options"]["payers"][0])
    assert data["flow_options"]["payers"][0] == "Summit Mutual"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return _invoke("payers", "check", "clearpath")


def _overlapping_columns(ws: Workspace) -> str:
    path = ws.root / "northwind.yaml"
    shutil.copy(ROOT / "claimwright" / "layouts" / "northwind.yaml", path)
    _move_units_left(ws, path)
    return _invoke("layouts", "check", str(path))


MESSAGES: dict[str, Callable[[Workspace], str]] = {
    "flow_options: payers: Value error, payer(s) listed twice: Summit Mutual":
        _payers_listed_twice,
    "unknown-layout: no layout named 'x'; known: [...]": lambda ws: _invoke(
        "parse", str(_text_pdf(ws.root / "a.pdf", "SOME REMITTANCE")), "--layout", "x"),
    "unknown-layout: no PDF layout matches this document": lambda ws: _invoke(
        "parse", str(_text_pdf(ws.root / "a.pdf", "SOME REMITTANCE"))),
    "northwind.yaml:55: claims.table.columns[3].from: overlaps the previous column (ends at "
    "146.0); list columns left to right": _overlapping_columns,
}


def test_every_quoted_message_has_a_case():
    assert _quoted_messages() == set(MESSAGES)


@pytest.mark.parametrize("quoted", sorted(MESSAGES))
def test_a_quoted_message_is_one_the_code_prints(quoted, tmp_path, monkeypatch):
    printed = " ".join(MESSAGES[quoted](Workspace(tmp_path, monkeypatch)).split())
    pattern = ".*?".join(re.escape(part) for part in quoted.split("..."))  # "...": anything
    assert re.search(pattern, printed), (quoted, printed)
