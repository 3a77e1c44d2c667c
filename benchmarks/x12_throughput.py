"""835 parse throughput at hospital size: Claimwright beside a raw segment split and the
``edi-835-parser`` package, on the same generated file, in one run.

Generates one 835 of ``--claims`` claims (default 68,000: about the 22 MB file of issue 15;
synthetic, :mod:`fixtures.remittances.x12_big`) and measures, each in a FRESH subprocess so the
peak resident set (``VmHWM``) is the one operation's:

* ``split``: the file read, decoded and cut into segments and elements (a list of lists): the
  floor any parser in Python pays;
* ``claimwright``: ``parse_835(path)``, the whole canonical model (every claim of the
  transaction set kept, balance-checked), what the pipeline stores;
* ``streaming``: ``iter_835(path, on_claim=...)``: the same parse handing each claim on and
  keeping none (memory bounded by one claim);
* ``edi-835-parser``: its ``parse(path)`` (installed by the ``bench`` extra:
  ``pip install -e ".[bench]"``; skipped with a note when missing, or with ``--no-peer``).

Each runs ``--repeat`` times (interleaved); the median wall time, MB/s, the largest peak RSS and
the ratios are printed. The results are verified, so a fast wrong parse cannot pass: both
Claimwright modes must give the generated truth (claim count, total billed, total paid, the
payment, no problem) and the very same claims (a digest of every claim's JSON, computed after the
timing), and the peer's claim count and total paid are compared too. Usage::

    .venv/bin/python benchmarks/x12_throughput.py [--claims N] [--repeat R] [--goal 5]
        [--no-peer] [--profile]

``--claims 2000`` is a quick run (tests/test_benchmarks.py runs a tiny one). ``--profile``
prints where Claimwright's time goes (cProfile, one extra untimed run).

Exit status: 0 when Claimwright is at least ``--goal`` times faster than edi-835-parser (the
issue's goal: 5), or when the peer is not run; 1 when it is not; 2 when a result is wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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

from measure import peak_rss_kb  # noqa: E402

OPERATIONS = ("split", "claimwright", "streaming", "edi-835-parser")
ZERO = Decimal("0.00")


# -- the measured operations, one per fresh process ----------------------------------------------
def _split(path: Path) -> dict:
    text = path.read_bytes().decode("utf-8")
    element, at = text[3], 3
    for _ in range(15):  # the terminator follows ISA16, after the 16th element separator
        at = text.index(element, at + 1)
    terminator = text[at + 2]
    segments = [s.strip().split(element) for s in text.split(terminator) if s.strip()]
    return {"segments": len(segments), "claims": sum(1 for s in segments if s[0] == "CLP")}


def _claimwright(path: Path) -> dict:
    from claimwright.parsing.x12 import parse_835

    remits = parse_835(path)
    claims = [c for r in remits for c in r.claims]
    return {"claims": len(claims), "billed": str(sum((c.billed for c in claims), ZERO)),
            "paid": str(sum((c.paid for c in claims), ZERO)),
            "payment": str(sum((r.payment.amount for r in remits), ZERO)),
            "problems": sum(len(r.problems) for r in remits), "_remits": remits}


def _streaming(path: Path, digest=None) -> dict:
    from claimwright.parsing.x12 import iter_835

    totals = {"claims": 0, "billed": ZERO, "paid": ZERO}

    def on_claim(claim) -> None:
        totals["claims"] += 1
        totals["billed"] += claim.billed
        totals["paid"] += claim.paid
        if digest is not None:
            digest.update(json.dumps(claim.to_json(), sort_keys=True).encode())

    remits = list(iter_835(path, on_claim=on_claim))
    return {"claims": totals["claims"], "billed": str(totals["billed"]),
            "paid": str(totals["paid"]),
            "payment": str(sum((r.payment.amount for r in remits), ZERO)),
            "problems": sum(len(r.problems) for r in remits)}


def _peer(path: Path) -> dict:
    from edi_835_parser import parse

    parsed = parse(str(path))
    claims = [c for ts in parsed.transaction_sets for c in ts.claims]
    paid = sum((Decimal(str(c.claim.paid_amount)) for c in claims), ZERO)
    return {"claims": len(claims), "paid": str(paid.quantize(Decimal("0.01")))}


def child(op: str, path: Path, profile: bool) -> int:
    rss_before = peak_rss_kb()
    fn = {"split": _split, "claimwright": _claimwright, "streaming": _streaming,
          "edi-835-parser": _peer}[op]
    start = time.perf_counter()
    cpu = time.process_time()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        out = profiler.runcall(fn, path)
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(18)
    else:
        out = fn(path)
    out["wall"] = time.perf_counter() - start
    out["cpu"] = time.process_time() - cpu
    out["peak_rss_kb"] = peak_rss_kb()
    out["rss_before_kb"] = rss_before
    remits = out.pop("_remits", None)
    if op in ("claimwright", "streaming"):  # after the timing: the claims themselves
        digest = hashlib.sha256()
        if remits is not None:
            for claim in (c for r in remits for c in r.claims):
                digest.update(json.dumps(claim.to_json(), sort_keys=True).encode())
        else:
            _streaming(path, digest)
        out["digest"] = digest.hexdigest()
    print(json.dumps(out))
    return 0


def run_child(op: str, path: Path, profile: bool = False) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", op, str(path)]
                          + (["--profile"] if profile else []),
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"{op} failed:\n{proc.stderr[-3000:]}")
    if profile:
        print(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peer_installed() -> bool:
    proc = subprocess.run([sys.executable, "-c", "import edi_835_parser"], capture_output=True,
                          check=False)
    return proc.returncode == 0


# -- verification ---------------------------------------------------------------------------------
def verify(results: dict, truth) -> list[str]:
    """What is wrong with the results (nothing: an empty list)."""
    wrong = []
    want = {"claims": truth.claims, "billed": str(truth.billed), "paid": str(truth.paid),
            "payment": str(truth.payment), "problems": 0}
    for op in ("claimwright", "streaming"):
        got = {k: results[op][k] for k in want}
        if got != want:
            wrong.append(f"{op}: {got} != the generated {want}")
    if results["claimwright"]["digest"] != results["streaming"]["digest"]:
        wrong.append("streaming: its claims differ from the whole-model parse's")
    if results["split"]["claims"] != truth.claims:
        wrong.append(f"split: {results['split']['claims']} CLP segments, not {truth.claims}")
    peer = results.get("edi-835-parser")
    if peer and (peer["claims"], peer["paid"]) != (truth.claims, str(truth.paid)):
        wrong.append(f"edi-835-parser: {peer['claims']} claims paid {peer['paid']} (the "
                     f"file: {truth.claims} paid {truth.paid})")
    return wrong


def _mib(kb: int) -> float:
    return kb / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=68_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--goal", type=float, default=5.0,
                        help="Claimwright at least this many times faster than edi-835-parser")
    parser.add_argument("--no-peer", action="store_true", help="do not run edi-835-parser")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("OP", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], Path(args.child[1]), args.profile)

    from fixtures.remittances.x12_big import big_835

    ops = list(OPERATIONS)
    if args.no_peer or not peer_installed():
        ops.remove("edi-835-parser")
        print("edi-835-parser: not run" + ("" if args.no_peer else
              " (not installed: pip install -e \".[bench]\")"))
    with tempfile.TemporaryDirectory(prefix="x12-bench-") as tmp:
        path = Path(tmp) / "big.835"
        data, truth = big_835(args.claims)
        path.write_bytes(data)
        size_mb = len(data) / 1e6
        del data
        print(f"file: {truth.claims:,} claims, {truth.lines:,} service lines, "
              f"{size_mb:.1f} MB", flush=True)
        runs: dict[str, list[dict]] = {op: [] for op in ops}
        for _ in range(args.repeat):
            for op in ops:
                res = run_child(op, path)
                runs[op].append(res)
                print(f"  {op:<15} {res['wall']:7.2f} s  peak RSS "
                      f"{_mib(res['peak_rss_kb']):7.1f} MiB", flush=True)
        if args.profile:
            run_child("claimwright", path, profile=True)
    results = {op: rs[0] for op, rs in runs.items()}
    wall = {op: statistics.median(r["wall"] for r in rs) for op, rs in runs.items()}
    peak = {op: max(r["peak_rss_kb"] for r in rs) for op, rs in runs.items()}
    cpu = {op: statistics.median(r["cpu"] for r in rs) for op, rs in runs.items()}
    floor = wall["split"]
    print(f"\n{'':<15} {'wall (median)':>13} {'CPU (median)':>13} {'MB/s':>8} {'peak RSS':>12} "
          f"{'x split':>8}" + (f" {'peer / this (wall, CPU)':>24}" if "edi-835-parser" in wall
                               else ""))
    for op in ops:
        line = (f"{op:<15} {wall[op]:11.2f} s {cpu[op]:11.2f} s {size_mb / wall[op]:8.1f} "
                f"{_mib(peak[op]):8.1f} MiB {wall[op] / floor:7.1f}x")
        if "edi-835-parser" in wall:
            line += (f" {wall['edi-835-parser'] / wall[op]:13.1f}x"
                     f" {cpu['edi-835-parser'] / cpu[op]:8.1f}x")
        print(line)
    wrong = verify(results, truth)
    if wrong:
        print("\nWRONG (the times mean nothing):\n  " + "\n  ".join(wrong))
        return 2
    print(f"\nverified: {truth.claims:,} claims, billed {truth.billed}, paid {truth.paid}, "
          f"payment {truth.payment}, no problem; the streaming parse gives the same claims"
          + ("; edi-835-parser the same claim count and total paid"
             if "edi-835-parser" in wall else ""))
    if "edi-835-parser" not in wall:
        print("goal not judged: edi-835-parser was not run")
        return 0
    speedup = wall["edi-835-parser"] / wall["claimwright"]
    ok = speedup >= args.goal
    print(f"goal Claimwright >= {args.goal:g}x faster than edi-835-parser: "
          f"{'MET' if ok else 'NOT MET'} ({speedup:.1f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
