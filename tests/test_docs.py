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


PREFECT_QUOTED = sorted({m for doc in DOCS
                         for m in re.findall(r"`(prefect [a-z][^`]*)`", doc.read_text("utf-8"))})


def test_every_quoted_prefect_command_exists_with_its_options():
    """The `prefect ...` commands the docs quote (schedules, limits, runs) exist in the installed
    Prefect CLI, with the long options they are shown with (resolved in-process: no CLI runs)."""
    import inspect
    import typing

    from prefect.cli._app import _app

    assert len(PREFECT_QUOTED) >= 8
    for quoted in PREFECT_QUOTED:
        words = [w for w in shlex.split(quoted.replace("...", ""))[1:] if w != "--no-prompt"]
        path, apps, _rest = _app.parse_commands(words)
        command = apps[-1].default_command
        assert command is not None and path, (quoted, path)
        params = {name.replace("_", "-") for name in inspect.signature(command).parameters}
        for hint in typing.get_type_hints(command, include_extras=True).values():
            for meta in getattr(hint, "__metadata__", ()):  # cyclopts.Parameter(name=...)
                names = getattr(meta, "name", None) or ()
                params |= {n.removeprefix("--") for n in ([names] if isinstance(names, str)
                                                           else names)}
        options = {w.split("=")[0].removeprefix("--") for w in words if w.startswith("--")}
        options = {o.removeprefix("no-") for o in options}
        assert options <= params, (quoted, options - params)
