"""Smoke runs of the benchmark scripts at a tiny size, so they cannot rot. Nothing here is timed:
a busy machine is not a failure, so the exit status "over the goal" (1) passes too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_worklist_upsert_benchmark_runs_and_verifies():
    proc = run("worklist_upsert.py", "--rows", "300", "--changes", "40", "--repeat", "1",
               "--profile")
    out = proc.stdout
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2: the upsert was wrong
    assert "verified: 320 data rows; the 20 changed rows" in out, out
    assert "ratio upsert / baseline: wall" in out and "peak memory" in out
    assert ("MET" if proc.returncode == 0 else "NOT MET") in out.splitlines()[-1]
    assert "claimwright/worklists/upsert.py" in out  # the profile names the upsert's functions


def test_worklist_upsert_verification_catches_a_wrong_upsert(tmp_path):
    """The benchmark's check is not vacuous: a touched coder cell, a missed change or a lost row
    are each reported."""
    import importlib.util
    import random

    import openpyxl

    spec = importlib.util.spec_from_file_location("worklist_upsert",
                                                  ROOT / "benchmarks" / "worklist_upsert.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    source, rows, edits, _ = bench.cached_worklist(tmp_path, 60)
    changed, new = bench.make_changes(rows, 10, random.Random(1))
    after = tmp_path / "after.xlsx"
    after.write_bytes(source.read_bytes())
    changed_keys = {r.key for r in changed}
    result = bench.upsert_worklist(after, changed + new, title=bench.TITLE, as_of=bench.AS_OF,
                                   refresh=[r for r in rows if r.key not in changed_keys])
    counts = {"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
              "warnings": result.warnings, "written": result.written, "rows": len(rows)}
    assert bench.verify(source, after, changed, new, edits, counts) == []

    def tampered(edit) -> list[str]:
        copy = tmp_path / "tampered.xlsx"
        wb = openpyxl.load_workbook(after)
        edit(wb[bench.TITLE])
        wb.save(copy)
        return bench.verify(source, copy, changed, new, edits, counts)

    key_rows = {}
    wb = openpyxl.load_workbook(after)
    for r in range(2, wb[bench.TITLE].max_row + 1):
        key_rows[wb[bench.TITLE].cell(r, 1).value] = r
    headers = [c.header for c in bench.SYSTEM_COLUMNS] + bench.PERSON_HEADERS
    notes, amount = headers.index("Notes") + 1, headers.index("Amount at stake") + 1
    assert any("person-owned" in p for p in tampered(lambda ws: setattr(
        ws.cell(2, notes), "value", "overwritten")))
    assert any("changed rows" in p for p in tampered(lambda ws: setattr(
        ws.cell(key_rows[changed[0].key], amount), "value", 1)))
    assert any("data rows" in p for p in tampered(lambda ws: ws.delete_rows(ws.max_row)))


def test_nightly_volume_benchmark_runs_and_checks_itself(prefect_api):
    """One payer at scale 1 (2 regular remittances + the 2 anomalies), on the session's Prefect
    server: the per-stage table, the floor beside it, the correctness line and the goals."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "nightly_volume.py"),
                           "--scales", "1", "--payers", "northwind", "--count", "2",
                           "--no-warmup", "--api", prefect_api],
                          capture_output=True, text=True, timeout=180, check=False)
    out = proc.stdout
    assert proc.returncode in (0, 1), out + proc.stderr[-3000:]  # 2: the run was wrong
    assert "scale 1x: 4 remittances" in out, out
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("stage ")))
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:header + 8]}
    assert list(rows) == ["portal", "parse", "categorize", "packets", "worklists", "ledger",
                          "orchestration"], out
    assert all(float(cells[0]) >= 0 and cells[1].endswith("%") for cells in rows.values())
    assert rows["orchestration"][2] == "-" and float(rows["parse"][2]) > 0  # the floor column
    assert float(rows["portal"][0]) > 0 and float(rows["parse"][0]) > 0
    assert "correct: every listed remittance in the ledger" in out
    goals = [line.split()[0] for line in lines[lines.index("goals:") + 1:]]
    assert len(goals) == 3 and set(goals) <= {"PASS", "FAIL"}, out  # one scale: no flatness
    assert ("FAIL" in goals) == (proc.returncode == 1)


def test_x12_throughput_benchmark_runs_and_verifies():
    """A tiny file, without the peer (the test environment does not install the bench extra):
    the side-by-side table and the verification line."""
    proc = run("x12_throughput.py", "--claims", "300", "--no-peer")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]  # 2: a parse was wrong
    assert "file: 300 claims" in out
    for op in ("split", "claimwright", "streaming"):
        assert any(line.startswith(op) and "MiB" in line for line in out.splitlines()), out
    assert "verified: 300 claims" in out and "the streaming parse gives the same claims" in out


def test_x12_throughput_verification_catches_a_wrong_parse():
    import importlib.util

    spec = importlib.util.spec_from_file_location("x12_throughput",
                                                  ROOT / "benchmarks" / "x12_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from fixtures.remittances.x12_big import big_835

    _, truth = big_835(20)
    good = {"claims": 20, "billed": str(truth.billed), "paid": str(truth.paid),
            "payment": str(truth.payment), "problems": 0, "digest": "d"}
    results = {"claimwright": dict(good), "streaming": dict(good),
               "split": {"claims": 20}}
    assert bench.verify(results, truth) == []
    for op, key, value in (("claimwright", "claims", 19), ("streaming", "paid", "0.00"),
                           ("streaming", "digest", "other"), ("claimwright", "problems", 1)):
        broken = {k: dict(v) for k, v in results.items()}
        broken[op][key] = value
        assert bench.verify(broken, truth), (op, key)

