"""Upsert of a large owner worklist against a plain openpyxl load+save of the same workbook.

Builds a realistic worklist (default 50,000 rows: synthetic, invented payers, claim ids, CARCs,
exact-decimal amounts, dates and priorities) with ``upsert_worklist`` itself, then fills some
person-owned cells (Status, Assigned to, Notes) as coders would, and caches that file in a
temporary directory for the run. It prepares the changes of a later run (default 2,000 rows:
half existing keys with a new priority, amount and appeal due date, half new keys) and measures,
each in a FRESH subprocess on its own copy of the cached workbook, so the peak RSS is the one
operation's (the child's ``VmHWM``: its ``ru_maxrss`` would include this parent's memory, see
``measure.peak_rss_kb``):

* baseline: ``openpyxl.load_workbook(copy)`` + ``wb.save(other)``;
* upsert:   ``upsert_worklist(copy, changes, title="Coding worklist")``.

Each is run ``--repeat`` times (interleaved); the median wall time and the largest peak RSS are
printed with the ratios upsert / baseline. The result of the first upsert is verified cell by
cell (row count, the changed rows' new values, every other system cell and every person-owned
cell untouched, new rows at the end with Status "New"), so the timing is of real, correct work.
Usage::

    .venv/bin/python benchmarks/worklist_upsert.py [--rows N] [--changes M] [--repeat R]
        [--goal 1.5] [--memory-goal X] [--profile] [--cache-dir DIR]

``--rows 5000 --changes 500`` is a quick run (tests/test_benchmarks.py runs a tiny one).
``--profile`` adds one cProfile run of each operation (in fresh subprocesses, not timed) and
prints where the upsert's time goes. ``--cache-dir`` keeps the built workbook between runs (keyed
by size, seed, this script, claimwright/worklists, the openpyxl version and whether it uses lxml).

Exit status: 0 when the upsert's median wall time is within ``--goal`` times the baseline's
(the issue's goal: 1.5) -- and its peak memory within ``--memory-goal`` when that is given;
1 when it is not; 2 when the upserted workbook is wrong (then the times mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # measure.py beside this script

import openpyxl  # noqa: E402

from claimwright.worklists import WorklistRow, upsert_worklist  # noqa: E402
from claimwright.worklists.rows import PERSON_COLUMNS, STATUSES, SYSTEM_COLUMNS  # noqa: E402
from measure import peak_rss_kb  # noqa: E402

PERSON_HEADERS = [c.header for c in PERSON_COLUMNS]
BLANK = ("New",) + (None,) * (len(PERSON_COLUMNS) - 1)  # a new row's person-owned cells
AS_OF = dt.date(2024, 6, 30)  # the nightly run's day (dates the Summary sheet)
VERSIONS = 5  # previous workbooks kept, as the nightly run does

TITLE = "Coding worklist"
SEED = 20240321
CENT = Decimal("0.01")
TENTH = Decimal("0.1")

# Invented payers (id, name, claim-id style).
PAYERS = (
    ("99001", "Acme Health", "ICN-{:010d}"),
    ("60054", "Northwind Health Plan", "NW{:011d}"),
    ("04412", "Keystone Medicare (JL)", "{:013d}"),
    ("77120", "ClearPath Mutual", "CP-{:08d}-01"),
    ("31337", "Bluewater Community Care", "BW{:09d}"),
    ("52810", "Summit State Medicaid", "SSM{:012d}"),
    ("88004", "Harbor Senior Advantage", "HSA-{:09d}"),
)
# Coding denials: group-CARC, CARC meaning, RARC choices, category, action.
DENIALS = (
    ("CO-97", "Included in the payment for another service already processed (bundled)",
     ("N20", "M80", ""), "coding/bundling", "corrected claim (if a modifier supports it)"),
    ("CO-236", "Procedure or modifier pair not allowed with another same-day service (NCCI or "
     "state rules)", ("N20", "N519", ""), "coding/bundling", "corrected claim"),
    ("CO-4", "Modifier missing or does not fit the procedure code", ("N519", "M51", ""),
     "modifier", "corrected claim"),
    ("CO-182", "Modifier invalid on the service date", ("N519", ""), "modifier",
     "corrected claim"),
    ("CO-11", "Diagnosis does not support the procedure", ("N657", ""), "medical necessity",
     "appeal (if documentation supports the diagnosis)"),
    ("CO-146", "Diagnosis invalid on the service date", ("M51", ""), "billing data error",
     "corrected claim"),
    ("CO-181", "Procedure code invalid on the service date", ("N56", "M51"),
     "billing data error", "corrected claim"),
    ("CO-16", "Claim lacks information or has a billing error; a remark code names it",
     ("MA130", "M51", "M77"), "billing data error", "corrected claim"),
    ("CO-5", "Procedure or bill type does not fit the place of service", ("M77", ""),
     "billing data error", "corrected claim"),
)
RARCS = {
    "N20": "Not payable with another service on the same date",
    "M80": "Not covered in the same session as a service already processed",
    "N519": "Invalid combination of HCPCS modifiers",
    "M51": "Procedure code missing or invalid",
    "N657": "Bill with the appropriate code for these services",
    "N56": "Procedure code not valid for the service or date billed",
    "MA130": "Claim unprocessable: no appeal rights; submit a new claim with correct information",
    "M77": "Place of service missing invalid or inappropriate",
}
PROCEDURES = ("99213", "99214", "99215", "99204", "93000", "71046", "36415", "20610", "97110",
              "11042", "80053", "90471", "17110", "G0439", "J1885")
MODIFIERS = ((), (), (), ("25",), ("59",), ("XU",), ("26",), ("TC",), ("25", "59"), ("LT",),
             ("RT", "59"))
CODERS = ("M. Alvarez", "J. Chen", "P. Okafor", "S. Lindqvist", "R. Haddad", "T. Nguyen")
NOTES = ("called payer, ref #{n}; resubmit after NCCI check",
         "needs op note from Dr. Patel before corrected claim",
         "modifier 25 documented, see encounter {n}",
         "- waiting on payer policy, follow up Friday",
         "=per manager: hold until audit closes",
         "corrected claim sent {d}, watch 277CA",
         "duplicate of {n}? confirm with billing",
         "Dx updated to Z00.00 per provider; \"see chart\"")


# -- synthetic data ------------------------------------------------------------------------------

def make_rows(n: int, rng: random.Random, *, first_claim: int = 1) -> list[WorklistRow]:
    """``n`` coding-worklist rows: claims of 1-4 denied lines each, keys unique by construction."""
    rows: list[WorklistRow] = []
    claim = first_claim
    while len(rows) < n:
        payer_id, payer, style = rng.choice(PAYERS)
        claim_id = style.format(7_000_000 + claim * 37)
        account = f"PA{1_000_000 + claim:07d}"
        dos = dt.date(2024, 1, 2) + dt.timedelta(days=rng.randrange(300))
        for line in range(1, rng.choice((1, 1, 1, 2, 2, 3, 4)) + 1):
            adjustment, meaning, rarc_choices, category, action = rng.choice(DENIALS)
            rarc = rng.choice(rarc_choices)
            rarcs = (rarc,) if rarc else ()
            reason = "; ".join([meaning] + [f"{c}: {RARCS[c]}" for c in rarcs])
            amount = _amount(rng)
            due = (None if rng.random() < 0.05 else
                   dos + dt.timedelta(days=rng.choice((90, 120, 180, 365))))
            rows.append(WorklistRow(
                key=f"{payer_id}:{claim_id}:{line}:{adjustment}", payer=payer,
                payer_claim_id=claim_id, patient_account=account,
                date_of_service=dos, procedure=rng.choice(PROCEDURES),
                modifiers=rng.choice(MODIFIERS), adjustment=adjustment, rarcs=rarcs,
                reason=reason, category=category, owner="coding", action=action,
                amount=amount, appeal_due=due,
                priority=(Decimal(rng.randrange(0, 1001)) * TENTH).quantize(TENTH),
                first_seen=dos + dt.timedelta(days=rng.randrange(14, 60))))
            if len(rows) == n:
                break
        claim += 1
    return rows


def _amount(rng: random.Random) -> Decimal:
    if rng.random() < 0.02:
        return Decimal(rng.choice(("0.07", "0.01", "0.10", "1.05")))
    return Decimal(str(min(rng.lognormvariate(5, 1.2), 48_000.0))).quantize(CENT)


def coder_edits(rows: list[WorklistRow], rng: random.Random) -> dict[str, tuple]:
    """Key -> (Status, Assigned to, Notes) for the rows coders have worked on (about a third)."""
    edits = {}
    for n, row in enumerate(rows):
        if rng.random() >= 0.35:
            continue
        status = rng.choice(STATUSES[1:])
        assigned = rng.choice(CODERS)
        note = None
        if rng.random() < 0.45:
            note = rng.choice(NOTES).format(n=rng.randrange(10**6, 10**7),
                                            d=f"2024-{rng.randrange(1, 13):02d}-14")
        edits[row.key] = (status, assigned, note)
    return edits


def make_changes(rows: list[WorklistRow], changes: int,
                 rng: random.Random) -> tuple[list[WorklistRow], list[WorklistRow]]:
    """``changes // 2`` existing keys with a new priority, amount and appeal due date (picked over
    the whole sheet), and the rest new keys (new claims)."""
    n_changed = changes // 2
    changed = []
    for old in rng.sample(rows, n_changed):
        priority = old.priority
        while priority == old.priority:
            priority = (Decimal(rng.randrange(0, 1001)) * TENTH).quantize(TENTH)
        amount = old.amount
        while amount == old.amount:
            amount = _amount(rng)
        base = old.appeal_due or old.date_of_service
        changed.append(dataclasses.replace(
            old, priority=priority, amount=amount,
            appeal_due=base + dt.timedelta(days=rng.choice((30, 60, 90)))))
    new = make_rows(changes - n_changed, rng, first_claim=10_000_000)
    return changed, new


# -- building the workbook -----------------------------------------------------------------------

def build_worklist(path: Path, rows: list[WorklistRow], edits: dict[str, tuple]) -> None:
    """What the owners have: the worklist ``upsert_worklist`` created, then edited by coders
    (openpyxl stands in for Excel here: the layout is upsert_worklist's own)."""
    result = upsert_worklist(path, rows, title=TITLE, as_of=AS_OF)
    assert result.added == len(rows) and result.written, result
    wb = openpyxl.load_workbook(path)
    ws = wb[TITLE]
    cols = {str(c.value): c.column for c in ws[1] if c.value}
    key_col = cols["Key"]
    coder_cols = [cols[h] for h in PERSON_HEADERS]
    for r in range(2, ws.max_row + 1):
        edit = edits.get(ws.cell(row=r, column=key_col).value)
        if edit:
            for c, value in zip(coder_cols, edit):
                if value is not None:
                    cell = ws.cell(row=r, column=c)
                    cell.value = value
                    cell.data_type = "s"  # as Excel keeps typed text (notes starting with "=")
    wb.save(path)


def cached_worklist(cache: Path, n_rows: int) -> tuple[Path, list[WorklistRow],
                                                       dict[str, tuple], float | None]:
    rng = random.Random(SEED)
    rows = make_rows(n_rows, rng)
    edits = coder_edits(rows, rng)
    digest = hashlib.sha256()
    for f in [Path(__file__)] + sorted((ROOT / "claimwright" / "worklists").glob("*.py")):
        digest.update(f.read_bytes())
    digest.update(f"{openpyxl.__version__} lxml={openpyxl.LXML}".encode())
    path = cache / f"worklist-{n_rows}-{SEED}-{digest.hexdigest()[:12]}.xlsx"
    if path.exists():
        return path, rows, edits, None
    start = time.perf_counter()
    tmp = path.with_name(f".building-{os.getpid()}-{path.name}")
    tmp.unlink(missing_ok=True)
    build_worklist(tmp, rows, edits)
    os.replace(tmp, path)
    return path, rows, edits, time.perf_counter() - start


# -- the measured operations, one per fresh process ----------------------------------------------

def child(op: str, src: str, dst: str, changes_json: str | None, profile: str | None) -> int:
    rows = ([WorklistRow.from_json(d) for d in json.loads(Path(changes_json).read_text())]
            if changes_json else [])
    # the nightly path: every other row of the workbook is refreshed too (the day's priority)
    refresh_json = Path(changes_json).with_name("refresh.json") if changes_json else None
    refresh = ([WorklistRow.from_json(d) for d in json.loads(refresh_json.read_text())]
               if refresh_json else [])
    rss_before = peak_rss_kb()
    out: dict = {}

    def baseline() -> None:
        wb = openpyxl.load_workbook(src)
        wb.save(dst)

    def upsert() -> None:
        r = upsert_worklist(Path(src), rows, title=TITLE, refresh=refresh, as_of=AS_OF,
                            versions=VERSIONS)
        out.update(added=r.added, updated=r.updated, unchanged=r.unchanged,
                   warnings=r.warnings, written=r.written)

    fn = baseline if op == "baseline" else upsert
    cpu = time.process_time()
    start = time.perf_counter()
    if profile:
        import cProfile

        cProfile.runctx("fn()", globals(), {"fn": fn}, profile)
    else:
        fn()
    out["wall"] = time.perf_counter() - start
    out["cpu"] = time.process_time() - cpu
    out["rss_before_kb"] = rss_before
    out["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(out))
    return 0


def run_child(op: str, src: Path, dst: Path, changes_json: Path | None = None,
              profile: Path | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", op, str(src), str(dst),
           str(changes_json or ""), str(profile or "")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{op} child failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- verification --------------------------------------------------------------------------------

def _norm(value):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None if value == "" else value


def _expected(row: WorklistRow) -> tuple:
    out = []
    for col in SYSTEM_COLUMNS:
        v = getattr(row, col.attr)
        if col.kind == "list":
            v = ", ".join(v) or None
        elif col.kind == "text":
            v = v or None
        elif col.kind in ("money", "number"):
            v = None if v is None else Decimal(v)
        out.append(v)
    return tuple(out)


def _read(path: Path) -> tuple[list[str], list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        it = wb[TITLE].iter_rows(values_only=True)
        header = [str(h) for h in next(it)]
        rows = [tuple(_norm(v) for v in r) for r in it if any(v not in (None, "") for v in r)]
    finally:
        wb.close()
    return header, rows


def verify(before: Path, after: Path, changed: list[WorklistRow], new: list[WorklistRow],
           edits: dict[str, tuple], result: dict) -> list[str]:
    """What is wrong with ``after`` (the upsert of ``changed + new`` into ``before``)."""
    problems: list[str] = []
    counts = (result["added"], result["updated"], result["unchanged"], result["warnings"])
    unchanged = result["rows"] - len(changed)
    if counts != (len(new), len(changed), unchanged, []) or not result["written"]:
        problems.append(f"upsert result {result}, expected added={len(new)} "
                        f"updated={len(changed)} unchanged={unchanged}, no warnings, written")
    h0, old_rows = _read(before)
    h1, new_rows = _read(after)
    expected_header = [c.header for c in SYSTEM_COLUMNS] + PERSON_HEADERS
    if h0 != expected_header or h1 != h0:
        problems.append(f"header changed: {h0} -> {h1}")
        return problems
    n_sys = len(SYSTEM_COLUMNS)
    if len(new_rows) != len(old_rows) + len(new):
        problems.append(f"{len(new_rows)} data rows after the upsert, expected "
                        f"{len(old_rows)} + {len(new)}")
    # the cached workbook holds what the coders typed
    typed = sum(1 for r in old_rows if r[n_sys:] != BLANK)
    if typed != len(edits) or any(edits[r[0]] != (r[n_sys], r[n_sys + 1], r[n_sys + 2])
                                  for r in old_rows if r[0] in edits):
        problems.append("the built workbook does not hold the coder edits")
    by_key = {c.key: _expected(c) for c in changed}
    sys_cols = {c.attr: i for i, c in enumerate(SYSTEM_COLUMNS)}
    refreshed = {sys_cols[a] for a in ("amount", "appeal_due", "priority")}
    bad_changed = bad_kept = bad_coder = 0
    for old, cur in zip(old_rows, new_rows):
        if cur[n_sys:] != old[n_sys:]:
            bad_coder += 1
        want = by_key.get(old[0])
        if want is None:
            bad_kept += cur[:n_sys] != old[:n_sys]
        else:
            ok = all(cur[i] == (want[i] if i in refreshed else old[i]) for i in range(n_sys))
            bad_changed += not ok
    if bad_coder:
        problems.append(f"{bad_coder} rows' person-owned cells (Status, Assigned to, Notes) "
                        "changed")
    if bad_kept:
        problems.append(f"{bad_kept} rows not in the changes had a system cell changed")
    if bad_changed:
        problems.append(f"{bad_changed} of the {len(changed)} changed rows do not have the new "
                        "priority, amount and appeal due (or lost another value)")
    appended = new_rows[len(old_rows):]
    if [r[0] for r in appended] != [r.key for r in new]:
        problems.append("the new rows are not appended at the end, in the order given")
    elif any(cur[:n_sys] != _expected(row) or cur[n_sys:] != BLANK
             for cur, row in zip(appended, new)):
        problems.append("some new rows do not hold their values, or Status 'New' with blank "
                        "Assigned to / Notes")
    return problems


# -- profile report ------------------------------------------------------------------------------

def print_profile(stats_path: Path, title: str, top: int = 18) -> None:
    import pstats

    st = pstats.Stats(str(stats_path))
    total = st.total_tt
    print(f"\n{title}: {total:.2f} s profiled (cProfile overhead included)")
    entries = []
    for (file, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
        entries.append((ct, tt, nc, file, line, name))

    def label(file: str, line: int, name: str) -> str:
        for marker in ("claimwright/", "openpyxl/", "xml/", "zipfile"):
            if marker in file:
                return f"{file[file.index(marker):]}:{line} {name}"
        return f"{Path(file).name}:{line} {name}" if file != "~" else name

    ours = sorted((e for e in entries if "claimwright/worklists" in e[3]), reverse=True)
    print("  claimwright/worklists functions, by cumulative time:")
    print(f"    {'cum s':>7} {'cum %':>6} {'own s':>7} {'calls':>9}  function")
    for ct, tt, nc, file, line, name in ours[:top]:
        print(f"    {ct:7.2f} {100 * ct / total:5.1f}% {tt:7.2f} {nc:9d}  "
              f"{label(file, line, name)}")
    print("  all functions, by own time:")
    print(f"    {'cum s':>7} {'own %':>6} {'own s':>7} {'calls':>9}  function")
    for ct, tt, nc, file, line, name in sorted(entries, key=lambda e: -e[1])[:top]:
        print(f"    {ct:7.2f} {100 * tt / total:5.1f}% {tt:7.2f} {nc:9d}  "
              f"{label(file, line, name)}")


# -- main ----------------------------------------------------------------------------------------

def _mib(kb: int) -> float:
    return kb / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000, help="rows in the existing worklist")
    ap.add_argument("--changes", type=int, default=2_000,
                    help="rows upserted: half changed existing keys, half new keys")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each operation (median)")
    ap.add_argument("--goal", type=float, default=1.5,
                    help="wall-time goal: upsert / baseline at most this")
    ap.add_argument("--memory-goal", type=float, default=None,
                    help="also require peak memory upsert / baseline at most this")
    ap.add_argument("--profile", action="store_true",
                    help="also profile each operation once (cProfile) and print the hot spots")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="keep the built workbook here between runs (default: this run only)")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        op, src, dst, changes_json, profile = args.child
        return child(op, src, dst, changes_json or None, profile or None)
    if args.rows < 1 or args.changes < 2 or args.changes // 2 > args.rows or args.repeat < 1:
        ap.error("need --rows >= 1, 2 <= --changes <= 2 * --rows, --repeat >= 1")

    with tempfile.TemporaryDirectory(prefix="cw-bench-worklist-") as tmp_name:
        tmp = Path(tmp_name)
        cache = args.cache_dir or tmp
        cache.mkdir(parents=True, exist_ok=True)
        source, rows, edits, build_s = cached_worklist(cache, args.rows)
        changed, new = make_changes(rows, args.changes, random.Random(SEED + 1))
        changes_json = tmp / "changes.json"
        changes_json.write_text(json.dumps([r.to_json() for r in changed + new]))
        changed_keys = {r.key for r in changed}
        (tmp / "refresh.json").write_text(json.dumps([r.to_json() for r in rows
                                                      if r.key not in changed_keys]))
        load = os.getloadavg()[0]
        print(f"openpyxl {openpyxl.__version__} ({'lxml' if openpyxl.LXML else 'no lxml'} "
              f"for writing), Python {sys.version.split()[0]}; load average {load:.1f} on "
              f"{os.cpu_count()} CPUs at the start")
        print(f"worklist: {args.rows:,} rows ({len(edits):,} with coder edits), "
              f"{source.stat().st_size / 2**20:.1f} MiB xlsx "
              f"({'cached' if build_s is None else f'built in {build_s:.1f} s'}: {source}); "
              f"upserting {len(changed):,} changed + {len(new):,} new rows")

        runs: dict[str, list[dict]] = {"baseline": [], "upsert": []}
        first_upsert = None
        for i in range(args.repeat):
            for op in ("baseline", "upsert"):
                copy = tmp / f"{op}-{i}.xlsx"
                shutil.copyfile(source, copy)
                other = tmp / f"{op}-{i}-saved.xlsx"
                res = run_child(op, copy, other, changes_json if op == "upsert" else None)
                runs[op].append(res)
                print(f"  run {i + 1} {op:<8} {res['wall']:7.2f} s wall {res['cpu']:7.2f} s CPU  "
                      f"peak RSS {_mib(res['peak_rss_kb']):7.1f} MiB", flush=True)
                if op == "upsert" and first_upsert is None:
                    first_upsert = (copy, res)
                else:
                    copy.unlink()
                other.unlink(missing_ok=True)

        problems = verify(source, first_upsert[0], changed, new, edits,
                          {**first_upsert[1], "rows": len(rows)})
        for res in runs["upsert"][1:]:
            if (res["added"], res["updated"], res["warnings"]) != (len(new), len(changed), []):
                problems.append(f"a repeated upsert returned {res}")

        wall = {op: statistics.median(r["wall"] for r in rs) for op, rs in runs.items()}
        cpu = {op: statistics.median(r["cpu"] for r in rs) for op, rs in runs.items()}
        peak = {op: max(r["peak_rss_kb"] for r in rs) for op, rs in runs.items()}
        floor = {op: min(r["rss_before_kb"] for r in rs) for op, rs in runs.items()}
        wall_ratio = wall["upsert"] / wall["baseline"]
        mem_ratio = peak["upsert"] / peak["baseline"]
        print(f"\n{'':<10} {'wall (median)':>14} {'CPU (median)':>14} {'peak RSS (max)':>16} "
              f"{'already before the operation':>30}")
        for op in ("baseline", "upsert"):
            print(f"{op:<10} {wall[op]:12.2f} s {cpu[op]:12.2f} s {_mib(peak[op]):12.1f} MiB "
                  f"{_mib(floor[op]):26.1f} MiB")
        print(f"ratio upsert / baseline: wall {wall_ratio:.2f}x, peak memory {mem_ratio:.2f}x "
              f"(CPU {cpu['upsert'] / cpu['baseline']:.2f}x)")
        print("baseline = openpyxl.load_workbook + Workbook.save of the same file; upsert = "
              f"upsert_worklist(path, {len(changed) + len(new):,} rows, refresh=the other "
              f"{len(rows) - len(changed):,}, versions={VERSIONS}): the nightly path, Summary "
              "sheet and a kept version included")
        cpus, end_load = os.cpu_count() or 1, os.getloadavg()[0]  # end_load counts our child
        if load > cpus - 0.5 or end_load > cpus + 0.5:
            print(f"note: the machine was busy (load average {load:.1f} at the start, "
                  f"{end_load:.1f} at the end, on {cpus} CPUs): wall times are noisy, the CPU "
                  "times are the steadier comparison")

        if args.profile:
            for op in ("baseline", "upsert"):
                copy = tmp / f"profile-{op}.xlsx"
                shutil.copyfile(source, copy)
                stats = tmp / f"{op}.prof"
                run_child(op, copy, tmp / f"profile-{op}-saved.xlsx",
                          changes_json if op == "upsert" else None, stats)
                print_profile(stats, f"profile of the {op}")

        if problems:
            print("\nVERIFICATION FAILED (the times above are not of correct work):")
            for p in problems:
                print(f"  - {p}")
            return 2
        print(f"verified: {args.rows + len(new):,} data rows; the {len(changed):,} changed rows "
              "hold the new priority, amount and appeal due; every other system cell and every "
              "person-owned cell is untouched; the new rows are at the end with Status 'New'")
        ok = wall_ratio <= args.goal
        print(f"goal wall time <= {args.goal:g}x baseline: "
              f"{'MET' if ok else 'NOT MET'} ({wall_ratio:.2f}x)")
        if args.memory_goal is not None:
            mem_ok = mem_ratio <= args.memory_goal
            print(f"goal peak memory <= {args.memory_goal:g}x baseline: "
                  f"{'MET' if mem_ok else 'NOT MET'} ({mem_ratio:.2f}x)")
            ok = ok and mem_ok
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
