"""A nightly run killed at any moment is resumed by the next one: same ledger, same outputs.

The nightly flow runs in a subprocess (real Chromium, the mock portal, the session's Prefect
server). One workspace is SIGKILLed during the downloads, run again and SIGKILLed during the
processing, then run a third time. It must end with the same ledger and the same files as the
same flow run once, uninterrupted, over the same remittances and window (the session's run,
conftest ``nightly_northwind``): no duplicate, nothing lost, no half-written file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from portal_fixtures import SAMPLE_ANCHOR

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
RUN = """
import datetime as dt, json, sys
from flows.nightly import nightly_denials
args = json.loads(sys.argv[1])
nightly_denials(payers=["northwind"], start=dt.date.fromisoformat(args["start"]),
                end=dt.date.fromisoformat(args["end"]), portal_urls={"northwind": args["url"]})
"""


@pytest.fixture(scope="module")
def slow_portal(portal_dataset):
    """The Northwind portal answering each download after 0.15 s, so a kill can land among
    the downloads (the bot is not slowed: the portal is)."""
    from fixtures.portals.server import running_portal_server

    data_dir, manifest = portal_dataset
    with running_portal_server("northwind", data_dir,
                               faults={"delay_seconds": {"download": 0.15}}) as server:
        yield server.url, manifest


def _start(home: Path, env: dict[str, str], args: dict) -> subprocess.Popen:
    env = {**env, "CLAIMWRIGHT_HOME": str(home / "var"), "CLAIMWRIGHT_OUT": str(home / "out"),
           "CLAIMWRIGHT_SESSION_DIR": str(home / "sessions")}
    env.pop("CLAIMWRIGHT_DATABASE_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "run.log"
    with log.open("ab") as out:  # a file, not a pipe nobody drains
        proc = subprocess.Popen([sys.executable, "-c", RUN, json.dumps(args)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _tail(proc: subprocess.Popen) -> str:
    return proc.log.read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # no such table yet, or busy for a moment
        return 0


def _kill_when(proc: subprocess.Popen, db: Path, sql: str, at_least: int,
               timeout: float = 180) -> int:
    """SIGKILL the run (its whole process group: Python, Playwright, Chromium) as soon as
    ``sql`` counts ``at_least``; returns the count seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _count(db, sql)
        if seen >= at_least:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return seen
        assert proc.poll() is None, f"the run ended before the kill: {_tail(proc)}"
        time.sleep(0.01)  # polling the ledger, not waiting for time to pass
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"never saw {sql} reach {at_least}")


def _finish(proc: subprocess.Popen) -> None:
    assert proc.wait(timeout=300) == 0, _tail(proc)


def _ledger(home: Path) -> dict:
    """Everything the ledger holds that a run decides, without row ids, times and paths."""
    root = str(home)
    with sqlite3.connect(home / "var" / "claimwright.db") as conn:
        conn.row_factory = sqlite3.Row

        def rows(sql: str) -> list[dict]:
            return [{k: (r[k].replace(root, "<home>") if isinstance(r[k], str) else r[k])
                     for k in r.keys()} for r in conn.execute(sql)]

        return {
            "documents": rows("SELECT payer, remittance_id, sha256, size, listed FROM documents "
                              "ORDER BY remittance_id"),
            "remittances": rows("SELECT d.remittance_id, r.[index], r.payer_id, r.trace_number, "
                                "r.amount, r.balanced, r.claim_count, r.data FROM remittances r "
                                "JOIN documents d ON d.id = r.document_id "
                                "ORDER BY d.remittance_id, r.[index]"),
            "findings": rows("SELECT key, payer_id, payer_claim_id, line_number, group_code, "
                             "carc, rarcs, amount, is_denial, category, owner, action, "
                             "appealable, rule_id, appeal_due, internal_target, priority "
                             "FROM findings ORDER BY key"),
            "outputs": rows("SELECT kind, key, path, sha256, data, written FROM outputs "
                            "ORDER BY kind, key"),
            "review": rows("SELECT key, kind, reason, payer, status FROM review_items "
                           "ORDER BY key"),
            "units": rows("SELECT kind, key, state FROM work_units ORDER BY kind, key"),
        }


def _files(home: Path) -> dict[str, str]:
    """Every file under var/downloads and out/ by relative path: a digest, or for the
    workbook (whose zip carries a save time) its cell values."""
    found = {}
    for folder in (home / "var" / "downloads", home / "out"):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = str(path.relative_to(home))
            if path.suffix == ".xlsx":
                sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
                found[rel] = json.dumps([list(r) for r in sheet.iter_rows(values_only=True)],
                                        default=str)
            elif path.suffix == ".csv":
                text = path.read_text().replace(str(home), "<home>")
                found[rel] = json.dumps(list(csv.reader(text.splitlines())))
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_a_run_killed_during_downloads_and_processing_resumes_to_the_same_result(
        tmp_path, slow_portal, prefect_api, monkeypatch, nightly_northwind):
    from claimwright.settings import Settings
    from fixtures.portals import demo_environment

    url, manifest = slow_portal
    dates = sorted(r["payment_date"] for r in manifest["remittances"])
    args = {"start": dates[0], "end": SAMPLE_ANCHOR.isoformat(), "url": url}
    env = {**os.environ, **demo_environment("northwind"), "PREFECT_API_URL": prefect_api}
    total = len(manifest["remittances"])

    # the uninterrupted run: the session's one nightly run over the same remittances and window
    # (conftest nightly_northwind; the same flow, uninterrupted), copied here
    calm = tmp_path / "calm"
    nightly_northwind(Settings.from_env({"CLAIMWRIGHT_HOME": str(calm / "var"),
                                         "CLAIMWRIGHT_OUT": str(calm / "out")}))

    rough = tmp_path / "rough"
    db = rough / "var" / "claimwright.db"
    seen = _kill_when(_start(rough, env, args), db, "SELECT count(*) FROM documents", 3)
    assert seen < total, "killed during the downloads"
    # killed while a document's outputs unit is in progress, after at least one was done (the
    # unit may still finish in the moment before the kill lands: then the next one is pending)
    _kill_when(_start(rough, env, args), db,
               "SELECT count(*) FROM work_units WHERE kind = 'outputs' AND state = "
               "'in-progress' AND (SELECT count(*) FROM work_units WHERE kind = 'outputs' "
               "AND state = 'done') >= 1", 1)
    done = _count(db, "SELECT count(*) FROM work_units WHERE kind='outputs' AND state='done'")
    assert 1 <= done < total, "killed during the processing"
    _finish(_start(rough, env, args))

    want, got = _ledger(calm), _ledger(rough)
    assert len(got["documents"]) == total
    for table in want:
        assert got[table] == want[table], table
    assert {u["state"] for u in got["units"]} == {"done"}
    assert _files(rough) == _files(calm)
    leftovers = [p for p in rough.rglob(".*.part")] + [p for p in rough.rglob("*.tmp")]
    assert leftovers == []
