"""Where PDF layout files are found, and which one a name means.

The search path is ``Settings.layout_search_path``: the folders of ``CLAIMWRIGHT_LAYOUTS_DIR``
(several, ``os.pathsep``-separated, in the order given), then the shipped ``claimwright/layouts/``,
always last. Every ``*.yaml`` file in them is a layout, known by its ``name`` (not its file name).

- An admin's layout whose ``name`` is a shipped layout's replaces it (the shipped one is not
  used, not detected); :attr:`LayoutEntry.overrides` says which file it replaced.
- Two admin files with one ``name`` (in one folder or in two) are an error naming both files:
  which one was meant cannot be guessed.
- A configured folder that does not exist is an error too (a typo must not silently drop an
  admin's layouts).

Each file is read through :func:`claimwright.parsing.layout_loader.load_layout_file` (cached by
:mod:`claimwright.datafiles` until it changes), so an edit counts from the next parse on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .. import datafiles
from ..errors import UnknownLayout
from .layout import Layout, LayoutFileError
from .layout_loader import LAYOUT_DIR, load_layout_file

__all__ = ["LayoutEntry", "search_path", "layout_files", "catalog", "load_layouts",
           "get_layout", "is_shipped"]


@dataclass(frozen=True)
class LayoutEntry:
    """One layout in use: its file, the folder of the search path that holds it, and the
    shipped file it replaces (an admin's layout of a shipped layout's name)."""

    layout: Layout
    path: Path
    directory: Path
    overrides: Path | None = None

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def shipped(self) -> bool:
        return is_shipped(self.directory)


def is_shipped(directory: Path) -> bool:
    return Path(directory).resolve() == LAYOUT_DIR


def search_path(directories: Iterable[Path] | None = None) -> tuple[Path, ...]:
    """The folders searched, in order (default: ``Settings.layout_search_path``)."""
    if directories is not None:
        return tuple(Path(d) for d in directories)
    from ..settings import Settings

    return Settings.from_env().layout_search_path


def layout_files(directories: Iterable[Path] | None = None) -> list[tuple[Path, Path]]:
    """``(folder, file)`` of every ``*.yaml`` in the search path, folder by folder, each
    folder's files sorted by name."""
    out = []
    for directory in search_path(directories):
        if not directory.is_dir():
            raise LayoutFileError(f"CLAIMWRIGHT_LAYOUTS_DIR: {directory} is not a folder (several "
                                  f"folders are separated by {os.pathsep!r})",
                                  file=str(directory))
        out.extend((directory, path) for path in sorted(directory.glob("*.yaml")))
    return out


def _name_line(path: Path) -> int | None:
    return datafiles.read_yaml(path, LayoutFileError.at).line_of("name")


def duplicate_name(first: Path, second: Path, name: str) -> LayoutFileError:
    """Two files both naming one layout: both named, with the line of each ``name``."""
    return LayoutFileError(
        f"{second}:{_name_line(second)}: name: {name!r} is also the name of the layout in "
        f"{first}:{_name_line(first)}; a layout's name must be unique (rename one, or remove "
        "one of the files)", file=str(second), other=str(first), field="name")


def catalog(directories: Iterable[Path] | None = None) -> list[LayoutEntry]:
    """Every layout in use, in search order; an admin's layout replaces the shipped one of the
    same name (detection order does not matter: fingerprints must be disjoint). Raises :class:`LayoutFileError` for an invalid file, a missing folder or a
    name two admin files share."""
    entries: dict[str, LayoutEntry] = {}
    for directory, path in layout_files(directories):
        layout = datafiles.load(path.resolve(), load_layout_file)
        entry = LayoutEntry(layout, path, directory)
        earlier = entries.get(layout.name)
        if earlier is None:
            entries[layout.name] = entry
        elif is_shipped(directory) and not earlier.shipped:  # the admin's copy wins
            entries[layout.name] = LayoutEntry(earlier.layout, earlier.path, earlier.directory,
                                               overrides=path)
        else:
            raise duplicate_name(earlier.path, path, layout.name)
    return list(entries.values())


def load_layouts(directories: Iterable[Path] | None = None) -> list[Layout]:
    """Every layout in use (see :func:`catalog`), validated."""
    return [entry.layout for entry in catalog(directories)]


def get_layout(name_or_path: str | Path, directories: Iterable[Path] | None = None) -> Layout:
    """A layout by its ``name`` (``"northwind"``: the one in use, an admin's override first) or
    by the path of a layout file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return datafiles.load(candidate.resolve(), load_layout_file)
    entries = catalog(directories)
    for entry in entries:
        if entry.name == str(name_or_path):
            return entry.layout
    known = [entry.name for entry in entries]
    raise UnknownLayout(f"no layout named {str(name_or_path)!r}; known: {known}",
                        layout=str(name_or_path))
