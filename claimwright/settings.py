"""Where Claimwright keeps its state and writes its outputs, from the environment.

| variable | default | what |
| --- | --- | --- |
| CLAIMWRIGHT_HOME | ./var | working state: ledger database, downloads, evidence, portal data |
| CLAIMWRIGHT_OUT | ./out | outputs people use: packets, worklists, reports |
| CLAIMWRIGHT_DATABASE_URL | sqlite:///$CLAIMWRIGHT_HOME/claimwright.db | the ledger (any SQLAlchemy URL) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    out: Path
    database_url: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("CLAIMWRIGHT_HOME") or "var").resolve()
        out = Path(env.get("CLAIMWRIGHT_OUT") or "out").resolve()
        url = env.get("CLAIMWRIGHT_DATABASE_URL") or f"sqlite:///{home / 'claimwright.db'}"
        return cls(home=home, out=out, database_url=url)

    @property
    def downloads(self) -> Path:
        return self.home / "downloads"

    @property
    def evidence(self) -> Path:
        return self.home / "evidence"

    @property
    def portal_data(self) -> Path:
        return self.home / "portal-data"

    @property
    def packets(self) -> Path:
        return self.out / "packets"

    @property
    def worklist(self) -> Path:
        return self.out / "worklists" / "coding-worklist.xlsx"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.downloads, self.evidence, self.packets, self.worklist.parent):
            path.mkdir(parents=True, exist_ok=True)
