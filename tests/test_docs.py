"""Every `claimwright ...` command the docs quote exists, with every option it is shown with."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claimwright.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "selectors" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUOTED = sorted({m for doc in DOCS
                 for m in re.findall(r"`(claimwright [^`]+)`", doc.read_text(encoding="utf-8"))})


def _command(quoted: str) -> tuple[list[str], list[str], set[str]]:
    """The command path the quote names (a word naming no command ends it: an argument), the
    options it shows, and the options that command has."""
    import typer.main

    words = shlex.split(re.sub(r"[\[\]]", " ", quoted))[1:]
    group, command = typer.main.get_command(app), []
    for word in words:
        if not hasattr(group, "commands") or word.startswith("-"):  # a command, not a group
            break
        assert word in group.commands, f"{quoted}: no command {word!r}"
        group = group.commands[word]
        command.append(word)
    known = {"--help"} | {name for param in group.params for name in param.opts}
    return command, [w.split("=")[0] for w in words if w.startswith("--")], known


def test_the_docs_quote_commands():
    assert len(QUOTED) >= 10


@pytest.mark.parametrize("quoted", QUOTED)
def test_a_quoted_command_exists_with_its_options(quoted):
    command, options, known = _command(quoted)
    out = CliRunner().invoke(app, [*command, "--help"])
    assert out.exit_code == 0, (quoted, out.output)
    assert set(options) <= known, (quoted, set(options) - known)
