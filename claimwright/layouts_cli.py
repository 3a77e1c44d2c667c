"""``claimwright layouts check|list``: PDF layout files as an admin keeps them (docs/layouts.md).

``check`` validates layout files one by one, like ``claimwright payers check``: a line
``ok   FILE: ...`` or ``FAIL FILE: file:line: field: problem`` each, then exit 0 when all are
valid, else 2 (``EXIT_REFUSED``: an invalid data file cannot be used; cli_common). It also says
what the file does in the search path: detected or not, replacing a shipped layout, clashing
with another file's name. ``list`` shows every layout in use: name, file, and which folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import EXIT_REFUSED, fail_error
from .errors import ClaimwrightError

layouts_app = typer.Typer(help="PDF layout files (CLAIMWRIGHT_LAYOUTS_DIR, then the shipped "
                               "claimwright/layouts/).", no_args_is_help=True)


def _where(directory: Path) -> str:
    from .parsing.layout_catalog import is_shipped

    return "shipped" if is_shipped(directory) else f"CLAIMWRIGHT_LAYOUTS_DIR {directory}"


def _in_use(path: Path, name: str) -> str:
    """What the search path makes of a valid file: detected, overriding, or not seen."""
    from .parsing.layout_catalog import catalog, search_path

    folders = [d for d in search_path() if d.is_dir()]  # a missing folder: its own FAIL line
    try:
        entries = {e.name: e for e in catalog(folders)}
    except ClaimwrightError as exc:  # this file's name clash: its failure; another's: a note
        named = {Path(str(exc.context[k])).resolve() for k in ("file", "other")
                 if exc.context.get(k)}
        if path.resolve() in named:
            raise
        return f"detection not checked: another layout file is invalid ({exc.context['file']})"
    entry = entries.get(name)
    if entry is not None and entry.path.resolve() == path.resolve():
        return "detected" + (f"; replaces the shipped {entry.overrides}" if entry.overrides
                             else "")
    if entry is not None and entry.overrides and entry.overrides.resolve() == path.resolve():
        return f"not used: replaced by {entry.path}"
    note = "not in the layout folders: detection does not see it (--layout FILE does)"
    if entry is not None:
        note += f"; the layout {name!r} in use is {entry.path}"
    return note


@layouts_app.command("check")
def layouts_check(files: Annotated[Optional[list[Path]], typer.Argument(
                      help="Layout file(s) to check (default: every layout file in "
                           "CLAIMWRIGHT_LAYOUTS_DIR and claimwright/layouts/).")] = None
                  ) -> None:
    """Validate layout files; say whether detection sees each one. Exit 2 when one is invalid,
    naming file, line and field."""
    from .parsing.layout_catalog import layout_files
    from .parsing.layout_loader import load_layout_file

    if not files:
        try:
            files = [path for _, path in layout_files()]
        except ClaimwrightError as exc:
            typer.echo(f"FAIL {exc.context.get('file')}: {exc}")
            raise typer.Exit(EXIT_REFUSED)
    bad = 0
    for path in files:
        try:
            layout = load_layout_file(path)
            note = _in_use(path, layout.name)
        except ClaimwrightError as exc:
            bad += 1
            typer.echo(f"FAIL {path}: {exc}")
            continue
        typer.echo(f"ok   {path}: layout {layout.name}, {len(layout.fingerprint)} fingerprint "
                   f"pattern(s); {note}")
    if bad:
        raise typer.Exit(EXIT_REFUSED)


@layouts_app.command("list")
def layouts_list() -> None:
    """Every layout in use: its name, its file, and the folder it comes from."""
    from .parsing.layout_catalog import catalog

    try:
        entries = catalog()
    except ClaimwrightError as exc:
        fail_error(exc)
    width = max((len(e.name) for e in entries), default=0)
    for e in entries:
        replaced = f"; replaces the shipped {e.overrides}" if e.overrides else ""
        typer.echo(f"{e.name:<{width}}  {e.path}  ({_where(e.directory)}{replaced})")
